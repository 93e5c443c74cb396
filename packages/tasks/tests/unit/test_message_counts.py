from kelery.tasks.message_counts import count_key, tally


def test_a_redelivered_message_counts_once() -> None:
    keys = [count_key("1", "a"), count_key("1", "a"), count_key("1", "b"), count_key("2", "a")]
    assert tally(keys) == {"1": 2, "2": 1}


def test_messages_without_channel_are_counted_apart() -> None:
    assert count_key(None, "u") == b"-/u"
    assert tally([count_key(None, "u"), count_key("", "v")]) == {"-": 2}


def test_foreign_keys_are_ignored() -> None:
    assert tally([None, b"", b"no-separator", b"1/", count_key("1", "x")]) == {"1": 1}
