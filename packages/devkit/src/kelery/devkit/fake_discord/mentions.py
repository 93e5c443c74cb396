"""Who a post would notify: Discord's mention parsing filtered by ``allowed_mentions``.

A test that wants to prove "a Kafka message carrying @everyone pings nobody"
needs the server's view, not the bot's: Discord parses ``@everyone``/``@here``,
``<@id>`` and ``<@&id>`` out of the content, then lets only what
``allowed_mentions`` allows notify anyone. Without ``allowed_mentions`` every
parsed mention notifies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_EVERYONE = re.compile(r"@(everyone|here)\b")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")


@dataclass(frozen=True)
class Pings:
    """The notifications a message causes."""

    everyone: bool = False
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()

    @property
    def anyone(self) -> bool:
        """True when the message notifies at least one person."""
        return self.everyone or bool(self.users) or bool(self.roles)


def _ids(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(int(item) for item in value if str(item).isdigit())


def pings_of(content: str, payload: Mapping[str, Any]) -> Pings:
    """Apply ``payload['allowed_mentions']`` to the mentions found in ``content``."""
    everyone = bool(_EVERYONE.search(content))
    users = frozenset(int(found) for found in _USER.findall(content))
    roles = frozenset(int(found) for found in _ROLE.findall(content))
    allowed = payload.get("allowed_mentions")
    if not isinstance(allowed, Mapping):
        return Pings(everyone=everyone, users=users, roles=roles)
    parse = allowed.get("parse") or []
    parse = parse if isinstance(parse, list) else []
    return Pings(
        everyone=everyone and "everyone" in parse,
        users=users if "users" in parse else users & _ids(allowed.get("users")),
        roles=roles if "roles" in parse else roles & _ids(allowed.get("roles")),
    )
