"""Parse the ``fields`` parameter (a projection) and apply it to records.

Values are 1 (include) or 0 (exclude), never mixed, except ``"_id": 0`` among inclusions; ``_id``
is kept unless excluded. Dotted paths reach into objects and, as in MongoDB, into every element of
an array of objects. The projection runs in Python on the page of rows already fetched;
``needs(name)`` tells the store which top-level names (and so which columns) it may skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .query_errors import InvalidFields
from .query_paths import parse_path
from .query_text import load_json

__all__ = ["MAX_PROJECTION_KEYS", "Projection", "parse_fields"]

MAX_PROJECTION_KEYS = 100

Tree = dict[str, "Tree"]  # an empty tree: the whole value at this point


@dataclass(frozen=True, slots=True)
class Projection:
    """``include`` None: every field. Otherwise the paths (as a tree) kept or dropped."""

    include: bool | None = None
    tree: Tree = field(default_factory=dict)
    keep_id: bool = True

    def needs(self, name: str) -> bool:
        """Whether any part of the top-level field ``name`` appears in the output."""
        if self.include is None:
            return True
        if name == "_id":
            return self.keep_id
        if self.include:
            return name in self.tree
        return not (name in self.tree and not self.tree[name])

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """A new record holding the projected fields; ``record`` is left unchanged."""
        if self.include is None:
            return dict(record)
        if not self.include:
            result: dict[str, Any] = _exclude(record, self.tree)
            return result
        out: dict[str, Any] = {}
        if self.keep_id and "_id" in record:
            out["_id"] = record["_id"]
        for name, sub in self.tree.items():
            if name in record:
                kept = _include(record[name], sub)
                if kept is not _DROP:
                    out[name] = kept
        return out


_DROP = object()


def _include(value: Any, tree: Tree) -> Any:
    if not tree:
        return value
    if isinstance(value, dict):
        out = {}
        for name, sub in tree.items():
            if name in value:
                kept = _include(value[name], sub)
                if kept is not _DROP:
                    out[name] = kept
        return out
    if isinstance(value, list):
        return [_include(item, tree) for item in value if isinstance(item, dict | list)]
    return _DROP


def _exclude(value: Any, tree: Tree) -> Any:
    if isinstance(value, dict):
        out = dict(value)
        for name, sub in tree.items():
            if name in out:
                if sub:
                    out[name] = _exclude(out[name], sub)
                else:
                    del out[name]
        return out
    if isinstance(value, list):
        return [_exclude(item, tree) for item in value]
    return value


def parse_fields(text: str | bytes | None) -> Projection:
    """Parse the ``fields`` parameter; None or blank keeps every field. ``InvalidFields``."""
    if text is None or not text.strip():
        return Projection()
    value = load_json(text, InvalidFields, max_depth=1)
    if not isinstance(value, dict):
        raise InvalidFields("must be a JSON object of field: 0 or 1")
    if len(value) > MAX_PROJECTION_KEYS:
        raise InvalidFields(f"at most {MAX_PROJECTION_KEYS} fields")
    flags: dict[str, bool] = {}
    for name, flag in value.items():
        if flag not in (0, 1) or isinstance(flag, float):
            raise InvalidFields(f"{name!r} must be 0 or 1, not {flag!r}"[:120])
        flags[name] = bool(flag)
    keep_id = flags.pop("_id", True)
    modes = set(flags.values())
    if len(modes) > 1:
        raise InvalidFields("cannot mix inclusion (1) and exclusion (0), except for _id: 0")
    if not flags:  # {"_id": 1} keeps only _id, {"_id": 0} drops only _id
        if keep_id:
            return Projection(include=True, keep_id=True)
        return Projection(include=False, tree={"_id": {}}, keep_id=False)
    include = modes.pop()
    tree: Tree = {}
    if not include and not keep_id:
        tree["_id"] = {}
    for name in flags:
        _add(tree, name)
    return Projection(include=include, tree=tree, keep_id=keep_id)


def _add(tree: Tree, name: str) -> None:
    segments = [str(s) for s in parse_path(name, InvalidFields)]
    node = tree
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment in node and (last or not node[segment]):
            raise InvalidFields(f"{name!r} collides with another field")
        node = node.setdefault(segment, {})
    if node:
        raise InvalidFields(f"{name!r} collides with another field")
