"""``python -m kelery.discord_listener``: the same as ``kelery-discord-listener``."""

from __future__ import annotations

import sys

from kelery.discord_listener.cli import main

if __name__ == "__main__":
    sys.exit(main())
