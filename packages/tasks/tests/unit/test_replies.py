from kelery.common.contracts import REPLY_TO_KWARG, ReplyTo
from kelery.common.redaction import MASK, register_secret
from kelery.common.schemas import DISCORD_MESSAGE_LIMIT, decode_speak_message
from kelery.tasks.errors import ChatInputError
from kelery.tasks.replies import (
    error_message,
    error_text,
    fit_for_discord,
    reply_to_from,
    success_message,
)

ASKER = ReplyTo(channel_id="123", in_reply_to="msg-1", author_name="ada")


def test_success_answers_the_channel_that_asked() -> None:
    message = success_message("pong", task_id="t-1", reply_to=ASKER, default_channel="999")
    assert (message.content, message.channel_id, message.in_reply_to) == ("pong", "123", "msg-1")
    assert (message.task_id, message.status) == ("t-1", "ok")
    assert decode_speak_message(message.to_json_bytes()) == message


def test_without_reply_to_the_answer_goes_to_the_default_channel() -> None:
    message = success_message(42, task_id="t-2", reply_to=None, default_channel="999")
    assert (message.content, message.channel_id, message.in_reply_to) == ("42", "999", None)


def test_a_persons_mistake_is_shown_verbatim() -> None:
    exc = ChatInputError("usage: !remind <duration> <text>")
    message = error_message(
        exc, task_name="kelery.remind", task_id="t-3", reply_to=ASKER, default_channel=None
    )
    assert message.status == "error"
    assert message.content == "usage: !remind <duration> <text>"
    assert message.channel_id == "123"


def test_a_bug_names_the_task_and_the_error_kind_and_hides_secrets() -> None:
    register_secret("hunter2-secret")
    text = error_text(RuntimeError("login hunter2-secret refused"), "kelery.stats")
    assert text == f"kelery.stats failed: RuntimeError: login {MASK} refused"
    assert error_text(KeyError(), "kelery.x") == "kelery.x failed: KeyError"


def test_long_answers_fit_discord() -> None:
    fitted = fit_for_discord("x" * 5000)
    assert len(fitted) == DISCORD_MESSAGE_LIMIT
    assert fitted.endswith("…")
    assert fit_for_discord("  ") == "(empty)"
    assert fit_for_discord("short") == "short"


def test_reply_to_from_task_kwargs() -> None:
    assert reply_to_from({REPLY_TO_KWARG: ASKER.model_dump()}) == ASKER
    assert reply_to_from({REPLY_TO_KWARG: {"channel_id": 5}}) is None  # not a string id
    assert reply_to_from({}) is None
    assert reply_to_from(None) is None
