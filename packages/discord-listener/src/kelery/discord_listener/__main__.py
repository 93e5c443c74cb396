"""``python -m kelery.discord_listener``: the same as ``kelery-discord-listener``."""

from __future__ import annotations

import sys

from kelery.discord_listener.cli import main

sys.exit(main())
