"""Import nextcord once, without the warnings its 2.6 import raises on Python 3.11.

nextcord 2.6 imports ``audioop`` (deprecated in 3.11) for voice and
``pkg_resources`` (deprecated by setuptools) for a start-up check; neither is
ours to fix, so they are silenced here and every module of this package imports
nextcord through this one.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*pkg_resources.*", category=UserWarning)
    import nextcord
    from nextcord.http import Route

__all__ = ["Route", "nextcord"]
