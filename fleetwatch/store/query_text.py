"""Decode a JSON parameter with bounded size and depth, never raising RecursionError."""

from __future__ import annotations

from typing import Any

import orjson

from .query_errors import QueryParameterError

__all__ = ["MAX_PARAMETER_BYTES", "load_json"]

MAX_PARAMETER_BYTES = 64 * 1024


def load_json(text: str | bytes, error: type[QueryParameterError], *, max_depth: int) -> Any:
    """Decode ``text``; ``error`` when too big, too deep or not JSON.

    orjson stops at 1,024 levels by itself; ``max_depth`` is checked on the bracket structure
    first so a deep document is refused before anything is built.
    """
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_PARAMETER_BYTES:
        raise error(f"longer than {MAX_PARAMETER_BYTES} bytes")
    if _depth(raw) > max_depth:
        raise error(f"nested deeper than {max_depth} levels")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise error(f"not valid JSON ({exc})") from None


def _depth(raw: bytes) -> int:
    # Brackets inside strings do not count: skip string bodies, honouring escapes.
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
