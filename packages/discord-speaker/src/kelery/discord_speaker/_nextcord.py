"""Import nextcord without the two warnings its 2.6 import raises on Python 3.11.

nextcord 2.6 imports ``audioop`` (deprecated in 3.11) for voice, which the
speaker never uses, and ``pkg_resources`` (deprecated by setuptools) for a
start-up compatibility check. Both warnings are about nextcord's own imports,
not about anything we could change, so they are silenced here, once, and every
module of this package imports nextcord through this one.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
    import nextcord
    from nextcord.http import HTTPClient, Route

__all__ = ["HTTPClient", "Route", "nextcord"]
