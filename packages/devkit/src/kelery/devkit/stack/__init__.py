"""The whole Kelery system on one machine, for ``kelery-dev up``.

Split by job: :mod:`components` says what runs (and which package provides it),
:mod:`supervisor` starts, watches and stops the processes, :mod:`conversation`
lets a person talk to the system through the fake Discord.
"""
