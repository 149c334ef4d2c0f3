"""The project's own error classes: what the command line reports on one line, with exit status 2.

:class:`TdrlError` is the base of every error that means "the user's input, config or
options are wrong" (a bad record, an unknown setting, a missing file named in a recipe).
The CLI turns exactly these into ``error: <message>`` and exit 2; any other exception,
a ``ValueError`` raised inside tdrl or a library (TRL, transformers) included, is a bug
or an environment failure and keeps its traceback.
"""

from __future__ import annotations


class TdrlError(Exception):
    """A usage, config or input error the user can fix; the message says what and where."""


class ConfigError(TdrlError, ValueError):
    """A bad setting: an unknown key, a value of the wrong type, an option out of range (``key: message``)."""


class NoData(TdrlError, ValueError):
    """The input is well formed but holds nothing the stage can use (no samples, every pair filtered out)."""
