"""Regular expressions a client sends, compiled by RE2: time linear in the text, whatever the
pattern.

Python's ``re`` backtracks: ``(a+)+$`` against thirty ``a`` and a ``!`` runs for minutes, and on
SQLite that run happened in a reader thread holding the interpreter lock, so the whole hub
stopped with it. RE2 (the ``google-re2`` package) builds an automaton instead; what only a
backtracking engine can do (backreferences, look-around) it refuses, and so do we, with the
reason. Its memory per pattern is capped by ``max_mem``.

Patterns are also bounded up front so that PostgreSQL, which runs ``$regex`` itself, accepts
every pattern RE2 does in the cases known to differ: at most ``MAX_REPEAT`` in a ``{n,m}``
count (PostgreSQL's limit). What PostgreSQL still refuses is translated at the store's boundary
(``InvalidInput``), never a 500.

Users: ``$regex`` of the list queries (SQLite's ``REGEXP`` function, the reference evaluator,
the parser's check) and the OP5 filter operators ``~ ~~ !~ !~~``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["MAX_PATTERN_CHARS", "MAX_REPEAT", "PatternError", "compile_pattern", "matches"]

MAX_PATTERN_CHARS = 1000
MAX_REPEAT = 255  # PostgreSQL's RE_DUP_MAX; RE2 allows 1000
MAX_PROGRAM_BYTES = 1 << 20  # RE2's max_mem per pattern (its default is 8 MiB)
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")

Pattern = Any  # re2._Regexp: the package ships no type information


class PatternError(ValueError):
    """A pattern that is refused; the message says why (without naming the field)."""


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    """The compiled pattern, or ``PatternError``; compiled patterns are cached."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"is longer than {MAX_PATTERN_CHARS} characters")
    if "\x00" in pattern:
        raise PatternError("may not contain U+0000")
    for found in _REPEAT.finditer(pattern):
        counts = [int(n) for n in found.groups() if n]
        if max(counts) > MAX_REPEAT:
            raise PatternError(f"repeats {found.group()}; counts above {MAX_REPEAT} are refused")
    return _compiled(pattern, ignore_case)


def matches(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` occurs in ``text`` (a search, not a full match)."""
    return compile_pattern(pattern, ignore_case=ignore_case).search(text) is not None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, ignore_case: bool) -> Pattern:
    # RE2 loads with the first pattern a client sends: a hub nobody queries by pattern does
    # not hold it (a few MiB resident).
    import re2  # noqa: PLC0415

    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = MAX_PROGRAM_BYTES
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "invalid"
        if isinstance(reason, bytes | bytearray):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"is not a valid regular expression: {reason} (RE2 has no backreferences or"
            " look-around)"
        ) from None
