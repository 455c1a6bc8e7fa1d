"""Dotted paths (``cpu.0.user``) as validated segments, and how each backend spells them.

A segment is a key (any text without ``"``, ``\\``, control characters or a leading ``$``) or an
array index (``0`` .. ``999999999``, written canonically). Keys made only of ``[A-Za-z0-9_-]`` may
appear in SQL text as literals; any other key travels as a bound parameter. Text that PostgreSQL
would read as an array index but we would not (``-1``, ``01``, ``+1``) is refused.
"""

from __future__ import annotations

import re

from .query_errors import QueryParameterError

__all__ = [
    "MAX_SEGMENTS",
    "Segment",
    "is_literal_safe",
    "parse_path",
    "postgres_path",
    "sqlite_path",
]

MAX_SEGMENTS = 16
MAX_SEGMENT_CHARS = 128

Segment = str | int

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
_INTEGER_LIKE = re.compile(r"\s*[+-]?[0-9]+\s*")
_BAD_CHARS = re.compile(r'["\\\x00-\x1f\x7f]')
_FORBIDDEN = frozenset({"__proto__", "constructor", "prototype"})


def parse_path(text: str, error: type[QueryParameterError]) -> tuple[Segment, ...]:
    """Split and check a dotted path; ``error`` names the path and what is wrong with it."""
    if not text:
        raise error("a field name may not be empty")
    parts = text.split(".")
    if len(parts) > MAX_SEGMENTS:
        raise error(f"field {text[:80]!r} has more than {MAX_SEGMENTS} segments")
    return tuple(_segment(part, text, error) for part in parts)


def _segment(part: str, text: str, error: type[QueryParameterError]) -> Segment:
    if not part:
        raise error(f"field {text[:80]!r} has an empty segment")
    if part in _FORBIDDEN:
        raise error(f"field name {part!r} is not allowed")
    if part.startswith("$"):
        raise error(f"unknown operator {part[:40]} in field {text[:80]!r}")
    if len(part) > MAX_SEGMENT_CHARS:
        raise error(f"field {text[:80]!r} has a segment longer than {MAX_SEGMENT_CHARS}")
    if _BAD_CHARS.search(part):
        raise error(f"field {text[:80]!r} contains a quote, backslash or control character")
    if _INDEX.fullmatch(part):
        return int(part)
    if _INTEGER_LIKE.fullmatch(part):
        raise error(f"field {text[:80]!r}: write array indexes as 0, 1, 2, ...")
    return part


def is_literal_safe(path: tuple[Segment, ...]) -> bool:
    """True when every key is ``[A-Za-z0-9_-]+``, so the path may be written into SQL text."""
    return all(isinstance(s, int) or _SAFE.fullmatch(s) for s in path)


def sqlite_path(path: tuple[Segment, ...], index_as_key: frozenset[int] = frozenset()) -> str:
    """The JSON1 path suffix (no ``$``): keys quoted, indexes ``[n]``; the positions in
    ``index_as_key`` spell their index as an object key (``."0"``) instead."""
    out = []
    for position, segment in enumerate(path):
        if isinstance(segment, int) and position not in index_as_key:
            out.append(f"[{segment}]")
        else:
            out.append(f'."{segment}"')
    return "".join(out)


def postgres_path(path: tuple[Segment, ...]) -> str:
    """A ``text[]`` literal for ``#>``; only for literal-safe paths (nothing needs quoting)."""
    # Every element quoted: an unquoted NULL would be read as SQL NULL.
    return "{" + ",".join(f'"{s}"' for s in path) + "}"
