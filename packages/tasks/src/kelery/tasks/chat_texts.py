"""The words the chat tasks answer with: help and stats, as pure functions.

Kept apart from the tasks so the text is tested without a worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kelery.tasks.message_counts import NO_CHANNEL

COMMAND_HELP: Final[dict[str, str]] = {
    "ping": "check that Kelery answers",
    "echo": "`<text>`: say the text back",
    "help": "this list",
    "remind": "`<duration> <text>`: remind you after 10s, 5m, 1h30m, 2d …",
    "stats": "how many messages each channel has sent",
}
STATS_TOP: Final = 10


def help_text(routes: Mapping[str, str], prefix: str = "!") -> str:
    """List the routing table: each command, what it does and the task it runs."""
    lines = ["Commands:"]
    for command in sorted(routes):
        about = COMMAND_HELP.get(command, "")
        described = f" — {about}" if about else ""
        lines.append(f"{prefix}{command}{described} (task `{routes[command]}`)")
    return "\n".join(lines)


def stats_text(counts: Mapping[str, int], *, asking_channel: str | None = None) -> str:
    """The busiest channels first, with the asking channel's count always shown."""
    if not counts:
        return "No messages counted yet."
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    lines = [f"{total} messages in {len(counts)} channels:"]
    lines.extend(f"{_channel_name(channel)}: {count}" for channel, count in ranked[:STATS_TOP])
    if len(ranked) > STATS_TOP:
        lines.append(f"… and {len(ranked) - STATS_TOP} more channels")
    shown = {channel for channel, _ in ranked[:STATS_TOP]}
    if asking_channel is not None and asking_channel not in shown:
        lines.append(f"{_channel_name(asking_channel)}: {counts.get(asking_channel, 0)}")
    return "\n".join(lines)


def _channel_name(channel: str) -> str:
    return "(no channel)" if channel == NO_CHANNEL else f"<#{channel}>"
