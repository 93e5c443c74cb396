"""The chat tasks in a real worker process: answers arrive on the real speak topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from kelery.common.contracts import CHAT_TASKS, RECORD_MESSAGE_TASK, ROUTES_KWARG
from kelery.tasks.chat import REMIND_DUE_TASK
from kelery.tasks.periodic import HEARTBEAT_TASK, STATS_DIGEST_TASK

pytestmark = pytest.mark.integration

CHANNEL = "1001"


@pytest.fixture(scope="module")
def stack(tasks_stack):
    tasks_stack.start_worker("chat")
    return tasks_stack


def test_ping_answers_pong_to_the_channel_that_asked(stack) -> None:
    task_id = stack.send_command(CHAT_TASKS["ping"], channel_id=CHANNEL)
    answer = stack.answer_to(task_id)
    assert (answer.content, answer.status) == ("pong", "ok")
    assert (answer.channel_id, answer.in_reply_to) == (CHANNEL, "m-1")
    assert answer.task_id == task_id
    # kelery.common's log format, not Celery's "[time: INFO/MainProcess]": the hook works.
    stack.processes[0].wait_for_log(f"INFO    celery.app.trace: Task kelery.ping[{task_id}]")


def test_echo_and_help(stack) -> None:
    echo_id = stack.send_command(CHAT_TASKS["echo"], "hello", "there", channel_id="1002")
    help_id = stack.send_command(CHAT_TASKS["help"], channel_id="1003")
    assert stack.answer_to(echo_id).content == "hello there"
    help_answer = stack.answer_to(help_id)
    assert help_answer.channel_id == "1003"
    assert all(f"!{command}" in help_answer.content for command in CHAT_TASKS)


def test_help_lists_the_routing_table_the_consumer_sent(stack) -> None:
    routes = {"ping": CHAT_TASKS["ping"], "help": CHAT_TASKS["help"], "weather": "app.weather"}
    answer = stack.answer_to(
        stack.send_command(CHAT_TASKS["help"], channel_id="1003", extra={ROUTES_KWARG: routes})
    )
    assert "!weather (task `app.weather`)" in answer.content
    assert "!ping" in answer.content
    assert "!remind" not in answer.content


def test_remind_confirms_then_answers_after_its_countdown(stack) -> None:
    # Taken before the command exists, so before the reminder's countdown starts.
    sent_at = datetime.now(UTC)
    task_id = stack.send_command(CHAT_TASKS["remind"], "2s", "stretch", "now", channel_id="1004")
    confirmation = stack.answer_to(task_id)
    assert confirmation.status == "ok"
    assert confirmation.content == "OK, I will remind you in 2s: stretch now"
    reminder = stack.wait_speak(
        lambda m: m.channel_id == "1004" and "reminder" in m.content, "with the reminder"
    )
    assert reminder.content == "⏰ ada, reminder: stretch now"
    assert reminder.in_reply_to == "m-1"
    assert reminder.task_id != task_id
    # The countdown is a lower bound: the reminder is not published before it ends.
    # Measured from the send, not from the confirmation: the confirmation waits for
    # the broker to confirm the reminder, which on a loaded machine takes most of the
    # countdown. 50 ms of slack covers kombu's wall-to-monotonic eta conversion.
    assert (reminder.timestamp - sent_at).total_seconds() >= 2.0 - 0.05
    assert stack.app.AsyncResult(reminder.task_id).get(timeout=60) == reminder.content
    assert stack.app.AsyncResult(task_id).get(timeout=60) == confirmation.content
    assert REMIND_DUE_TASK in stack.processes[0].log()


def test_a_failing_task_publishes_status_error(stack) -> None:
    task_id = stack.send_command(CHAT_TASKS["remind"], "soon", "lunch", channel_id="1005")
    answer = stack.answer_to(task_id)
    assert answer.status == "error"
    assert answer.channel_id == "1005"
    assert "'soon' is not a duration" in answer.content
    no_args = stack.answer_to(stack.send_command(CHAT_TASKS["echo"], channel_id="1005"))
    assert (no_args.status, no_args.content) == ("error", "usage: !echo <text>")


def test_stats_counts_recorded_messages_once_each(stack) -> None:
    channel, other = "2001", "2002"
    messages = [
        {"uuid": str(uuid.uuid4()), "channel_id": channel, "content": "hi"} for _ in range(3)
    ]
    messages.append(dict(messages[0]))  # a redelivered message must not count twice
    messages.append({"uuid": str(uuid.uuid4()), "channel_id": other, "content": "yo"})
    results = [stack.app.send_task(RECORD_MESSAGE_TASK, kwargs={"message": m}) for m in messages]
    for result in results:
        assert result.get(timeout=60) is None
    answer = stack.answer_to(stack.send_command(CHAT_TASKS["stats"], channel_id=channel))
    assert answer.status == "ok"
    assert answer.content.splitlines() == ["4 messages in 2 channels:", "<#2001>: 3", "<#2002>: 1"]


def test_beat_tasks_answer_to_the_announcement_channel(stack) -> None:
    task_id = str(stack.app.send_task(HEARTBEAT_TASK).id)
    answer = stack.answer_to(task_id)
    assert answer.channel_id == "4242"
    assert answer.in_reply_to is None
    assert answer.content.startswith("💓 Kelery is up")
    digest = stack.answer_to(str(stack.app.send_task(STATS_DIGEST_TASK).id))
    assert (digest.channel_id, digest.status) == ("4242", "ok")
    assert digest.content.startswith("📊 Digest: ")


def test_a_message_that_cannot_be_counted_is_dead_lettered(stack) -> None:
    from kelery.common.dlq import ERROR_HEADER, header_value

    task_id = str(
        stack.app.send_task(RECORD_MESSAGE_TASK, kwargs={"message": {"channel_id": "3"}}).id
    )
    found = stack.wait_dead_letter(task_id)
    assert "rejected" in (header_value(found.headers(), ERROR_HEADER) or "")
