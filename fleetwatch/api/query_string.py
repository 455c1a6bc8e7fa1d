"""Read a list endpoint's query string the way its clients really send it.

Browsers, curl and httpx percent-encode it. ``rocketchat-API`` does not: it joins
``key=value`` by hand, so a JSON value may hold a raw ``&`` (splitting it in two) and a ``+``
that means a plus, not a space. So:

* the string is split on ``&`` only where the next piece starts a parameter (``name=``); a piece
  that does not is part of the previous value;
* a value is percent-decoded, and ``+`` becomes a space only when the value looks form-encoded
  (nothing in it but what a form encoder leaves alone: letters, digits, ``-._~``, ``%XX``, ``+``).
  A value holding raw JSON punctuation (``{``, ``"``, ``:``...) was not form-encoded, so its
  ``+`` is kept.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

__all__ = ["parse_query_string"]

_PARAMETER_START = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\[\]-]*=")
_FORM_ENCODED = re.compile(r"^(?:[A-Za-z0-9._~+-]|%[0-9A-Fa-f]{2})*$")


def parse_query_string(raw: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a raw query string, in order."""
    pieces: list[str] = []
    for piece in raw.split("&"):
        if pieces and not _PARAMETER_START.match(piece):
            pieces[-1] += "&" + piece
        elif piece:
            pieces.append(piece)
    pairs: list[tuple[str, str]] = []
    for piece in pieces:
        name, _, value = piece.partition("=")
        pairs.append((unquote_plus(name), _decode(value)))
    return pairs


def _decode(value: str) -> str:
    if _FORM_ENCODED.match(value):
        return unquote_plus(value)
    return unquote(value)
