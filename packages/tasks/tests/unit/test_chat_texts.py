import inspect

from kelery.common.contracts import CHAT_TASKS, ROUTES_KWARG
from kelery.tasks.chat import help_
from kelery.tasks.chat_texts import STATS_TOP, help_text, stats_text


def test_help_lists_every_routed_command_with_its_task() -> None:
    text = help_text(CHAT_TASKS, prefix="?")
    for command, task in CHAT_TASKS.items():
        assert f"?{command}" in text
        assert f"`{task}`" in text
    assert "!" not in text.splitlines()[1]


def test_help_lists_commands_without_a_description_too() -> None:
    assert "!custom (task `x.custom`)" in help_text({"custom": "x.custom"})


def test_stats_ranks_busiest_first_and_totals() -> None:
    text = stats_text({"1": 2, "2": 5, "-": 1})
    assert text.splitlines() == [
        "8 messages in 3 channels:",
        "<#2>: 5",
        "<#1>: 2",
        "(no channel): 1",
    ]


def test_stats_always_shows_the_asking_channel() -> None:
    counts = {str(n): 100 + n for n in range(STATS_TOP + 2)}
    counts["7777"] = 1
    text = stats_text(counts, asking_channel="7777")
    assert "… and 3 more channels" in text
    assert text.splitlines()[-1] == "<#7777>: 1"
    assert stats_text(counts, asking_channel="5").count("<#5>") == 1
    assert stats_text({"1": 1}, asking_channel="9").splitlines()[-1] == "<#9>: 0"


def test_stats_when_nothing_was_counted() -> None:
    assert stats_text({}) == "No messages counted yet."


def test_the_help_task_takes_the_routes_keyword_the_consumer_sends() -> None:
    assert ROUTES_KWARG in inspect.signature(help_.run).parameters
