"""Where the devkit keeps things that must outlive a run but never live in the repository."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["cache_root"]


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """Return the devkit cache folder: ``$KELERY_CACHE_DIR``, else ``$XDG_CACHE_HOME/kelery``.

    Jars are large and slow to fetch, so they are cached per user, outside any checkout,
    and shared by every clone and every test session.
    """
    env = os.environ if env is None else env
    if explicit := env.get("KELERY_CACHE_DIR"):
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "kelery"
