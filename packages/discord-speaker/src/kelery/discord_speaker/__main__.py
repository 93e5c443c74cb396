"""``python -m kelery.discord_speaker``: the same as ``kelery-discord-speaker``."""

from __future__ import annotations

import sys

from kelery.discord_speaker.cli import main

if __name__ == "__main__":
    sys.exit(main())
