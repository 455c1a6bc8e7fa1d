"""Parse the ``sort`` parameter: a JSON object of path -> 1 (ascending) or -1 (descending)."""

from __future__ import annotations

from dataclasses import dataclass

from .query_errors import InvalidQuery, InvalidSort
from .query_fields import FieldMap
from .query_parse import Target, resolve_target
from .query_text import load_json

__all__ = ["MAX_SORT_KEYS", "SortKey", "parse_sort"]

MAX_SORT_KEYS = 8


@dataclass(frozen=True, slots=True)
class SortKey:
    target: Target
    descending: bool


def parse_sort(text: str | bytes | None, fields: FieldMap) -> tuple[SortKey, ...]:
    """Sort keys in the order given; None or blank sorts by id alone. ``InvalidSort``."""
    if text is None or not text.strip():
        return ()
    value = load_json(text, InvalidSort, max_depth=1)
    if not isinstance(value, dict):
        raise InvalidSort("must be a JSON object of field: 1 or -1")
    if len(value) > MAX_SORT_KEYS:
        raise InvalidSort(f"at most {MAX_SORT_KEYS} keys")
    keys = []
    for name, direction in value.items():
        if isinstance(direction, bool) or direction not in (1, -1):
            raise InvalidSort(f"{name!r} must be 1 or -1, not {direction!r}"[:120])
        try:
            target = resolve_target(name, fields)
        except InvalidQuery as exc:
            raise InvalidSort(exc.detail) from None
        keys.append(SortKey(target, direction == -1))
    return tuple(keys)
