"""What every settings tree shares: the one-line error, and the check for mistyped names.

Two trees read ``INCIDENTS_*`` variables: the main one (incidents/config/settings.py) and
the connectors' own (incidents/config/connectors.py, ``INCIDENTS_CONNECTORS_*``, so a
connector process carries only its own secrets). Both refuse a variable they do
not know, with the nearest known name as a hint, in one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the variable."""


def reject_unknown(environ: Mapping[str, str], prefix: str, known: Iterable[str]) -> None:
    """ConfigError for the first variable under ``prefix`` that is not in ``known``."""
    known = set(known)
    for name in sorted(environ):
        if name.startswith(prefix) and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{name}: unknown setting{hint}")
