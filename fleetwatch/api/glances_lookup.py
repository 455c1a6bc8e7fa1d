"""Reading one field, item or history series out of a plugin's stats, Glances-style."""

from __future__ import annotations

from typing import Any

from fleetwatch.api.errors import BadRequest, NotFound
from fleetwatch.collect.live import PluginState
from fleetwatch.model.history import History

MAX_URL_INT = 2**31 - 1  # pids, counts and sizes: psutil takes a C int


def positive_int(text: str, what: str) -> int:
    """A count or pid from the URL: a clear 400 instead of Glances' 500 (ASCII digits only,
    at most ``MAX_URL_INT``: ``int()`` reads other digits, psutil overflows past a C int)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or not (
        0 < int(text) <= MAX_URL_INT
    ):
        raise BadRequest(
            f"{what} must be a positive integer (at most {MAX_URL_INT}), not {text[:40]!r}"
        )
    return int(text)


def _known(state: PluginState, item: str) -> bool:
    if item in state.spec.wire_fields:
        return True
    stats = state.stats
    if isinstance(stats, dict):
        return item in stats
    if isinstance(stats, list):
        return any(isinstance(i, dict) and item in i for i in stats)
    return False


def field_values(state: PluginState, item: str) -> dict[str, Any]:
    """``/<plugin>/<item>``: a dict plugin's value, or every list item's value of that field."""
    stats = state.stats
    name = state.spec.name
    if isinstance(stats, dict):
        if item not in stats:
            raise NotFound(f"Unknown field '{item}' in plugin '{name}'")
        return {item: stats[item]}
    if isinstance(stats, list):
        if not _known(state, item):
            raise NotFound(f"Unknown field '{item}' in plugin '{name}'")
        return {item: [i[item] for i in stats if isinstance(i, dict) and item in i]}
    raise NotFound(f"Plugin '{name}' has no fields")


def _matches(value: Any, text: str) -> bool:
    # URL segments are text; Glances' integer keys (percpu's cpu_number, pids) must match too.
    return str(value) == text


def items_with_value(state: PluginState, item: str, value: str) -> dict[str, Any]:
    """``/<plugin>/<item>/value/<value>``: the list items whose field equals the value; an
    empty list when none does (a known field with no match is an answer, as in Glances)."""
    stats = state.stats
    if not isinstance(stats, list):
        raise BadRequest(f"Plugin '{state.spec.name}' is not a list of items")
    if not _known(state, item):
        raise NotFound(f"Unknown field '{item}' in plugin '{state.spec.name}'")
    found = [i for i in stats if _matches(i.get(item), value)]
    key: Any = int(value) if value.isdigit() else value
    return {key: found}


def field_of_key(state: PluginState, item: str, key: str) -> dict[str, Any]:
    """``/<plugin>/<item>/<key>``: one field of the list item whose key value is ``key``."""
    stats = state.stats
    spec = state.spec
    if not isinstance(stats, list) or spec.key is None:
        raise NotFound(f"Unknown route: plugin '{spec.name}' is not a list of items")
    if not _known(state, item):
        raise NotFound(f"Unknown field '{item}' in plugin '{spec.name}'")
    for element in stats:
        if _matches(element.get(spec.key), key):
            if item not in element:
                raise NotFound(f"Item '{key}' of plugin '{spec.name}' has no field '{item}'")
            return {item: element[item]}
    raise NotFound(f"Unknown {spec.key} '{key}' in plugin '{spec.name}'")


def top(state: PluginState, count: int) -> list[Any]:
    if not isinstance(state.stats, list):
        raise BadRequest(f"Plugin '{state.spec.name}' is not a list of items: top needs one")
    return state.stats[:count]


def item_views(state: PluginState, item: str) -> Any:
    views = state.views
    if isinstance(state.stats, dict):
        if item not in views:
            raise NotFound(f"Unknown field '{item}' in plugin '{state.spec.name}'")
        return views[item]
    if not _known(state, item):
        raise NotFound(f"Unknown field '{item}' in plugin '{state.spec.name}'")
    return {key: fields[item] for key, fields in views.items() if item in fields}


def item_history(state: PluginState, history: History, item: str, last: int) -> dict[str, Any]:
    """History of one item: a field of a dict plugin, a full series name, or a list field."""
    names = history.names()
    if item in names:
        return history.as_json([item], last)
    matching = [n for n in names if n.endswith(f"_{item}")]
    if matching and state.spec.key is not None:
        return history.as_json(matching, last)
    if item in state.spec.history:
        return {item: []} if state.spec.key is None else {}
    if _known(state, item):
        raise NotFound(f"Field '{item}' of plugin '{state.spec.name}' keeps no history")
    raise NotFound(f"Unknown field '{item}' in plugin '{state.spec.name}'")


def describe(state: PluginState, item: str, attribute: str) -> Any:
    meta = state.spec.wire_fields.get(item)
    if meta is None:
        raise NotFound(f"Unknown field '{item}' in plugin '{state.spec.name}'")
    return meta.description if attribute == "description" else meta.unit
