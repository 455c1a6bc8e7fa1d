"""Validating a TrueCommand ``submit_stats`` document, field by field, before anything is stored.

The reference lists ``network`` and ``uptime_seconds`` as required but its own example omits
them; that example must be accepted, so only ``hostname`` is mandatory and every other
documented field is checked for its type when present. Unknown extra fields are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson

# Hostile documents are refused before they cost anything: no machine has more of these.
MAX_ITEMS = 4096
MAX_STRING = 1024
MAX_UPTIME_SECONDS = 1000 * 366 * 86400.0  # a thousand years; the uptime text cannot show more
KIND_FIELD = re.compile(r"^(?P<kind>.+)-(?P<unit>pages|bytes)$")


class InvalidDocument(ValueError):
    """A refused document; the message says what and where (``cpu[0].user must be a number``)."""


def parse_json(body: bytes) -> Any:
    """Parse a request body; malformed JSON is reported with its line and column."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidDocument(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


# Each check takes its location as a template and arguments, formatted only when it fails: on
# the ingest path almost every value is fine, and building every location cost a tenth of a
# submission's time. The templates are ours; user keys only ever arrive as arguments.


def _number(value: Any, where: str, *args: object) -> float:
    kind = type(value)
    if (kind is float and math.isfinite(value)) or kind is int:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidDocument(f"{where.format(*args)} must be a number")
    return float(value)  # a subclass of int or float


def _string(value: Any, where: str, *args: object) -> str:
    if not isinstance(value, str):
        raise InvalidDocument(f"{where.format(*args)} must be a string")
    if len(value) > MAX_STRING:
        raise InvalidDocument(f"{where.format(*args)} is longer than {MAX_STRING} characters")
    return value


def _array(value: Any, where: str, *args: object) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidDocument(f"{where.format(*args)} must be an array")
    if len(value) > MAX_ITEMS:
        raise InvalidDocument(f"{where.format(*args)} has more than {MAX_ITEMS} items")
    return value


def _object(value: Any, where: str, *args: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidDocument(f"{where.format(*args)} must be an object")
    if len(value) > MAX_ITEMS:
        raise InvalidDocument(f"{where.format(*args)} has more than {MAX_ITEMS} fields")
    return value


def _cpu(value: Any) -> None:
    for i, item in enumerate(_array(value, "cpu")):
        obj = _object(item, "cpu[{}]", i)
        for name in ("user", "system", "idle"):
            if name not in obj:
                raise InvalidDocument(f"cpu[{i}].{name} is required")
            _number(obj[name], "cpu[{}].{}", i, name)


def _memory(value: Any) -> None:
    obj = _object(value, "memory")
    for name in ("bytes-per-page", "cache-hit-percent"):
        if name in obj:
            _number(obj[name], "memory.{}", name)
    for name, item in obj.items():
        if KIND_FIELD.match(name):
            _number(item, "memory.{}", name)
    pages = [n for n in obj if n.endswith("-pages")]
    if pages and "bytes-per-page" not in obj:
        raise InvalidDocument(f"memory.{pages[0]} needs memory.bytes-per-page")


def _named_items(value: Any, where: str, name_field: str) -> None:
    for i, item in enumerate(_array(value, where)):
        obj = _object(item, "{}[{}]", where, i)
        if name_field not in obj:
            raise InvalidDocument(f"{where}[{i}].{name_field} is required")
        _string(obj[name_field], "{}[{}].{}", where, i, name_field)
        for key, field_value in obj.items():
            if key != name_field:
                _number(field_value, "{}[{}].{}", where, i, key)


def _storage(value: Any) -> None:
    obj = _object(value, "storage")
    for name in ("total-bytes", "used-bytes"):
        if name in obj:
            _number(obj[name], "storage.{}", name)


def _temperatures(value: Any) -> None:
    for i, item in enumerate(_array(value, "cpu_temperatures")):
        _number(item, "cpu_temperatures[{}]", i)


def _uptime(value: Any) -> float:
    seconds = _number(value, "uptime_seconds")
    if not 0 <= seconds <= MAX_UPTIME_SECONDS:
        raise InvalidDocument(f"uptime_seconds must be from 0 to {MAX_UPTIME_SECONDS:.0f}")
    return seconds


CHECKS: dict[str, Callable[[Any], object]] = {
    "cpu": _cpu,
    "memory": _memory,
    "network": lambda v: _named_items(v, "network", "name"),
    "storage": _storage,
    "disk": lambda v: _named_items(v, "disk", "Name"),
    "cpu_temperatures": _temperatures,
    "version": lambda v: _string(v, "version"),
    "timezone": lambda v: _string(v, "timezone"),
    "model": lambda v: _string(v, "model"),
    "uptime_seconds": _uptime,
}


def validate(document: Any) -> dict[str, Any]:
    """The document itself when it is acceptable; raises InvalidDocument otherwise."""
    doc = _object(document, "the document")
    if "hostname" not in doc:
        raise InvalidDocument("hostname is required")
    _string(doc["hostname"], "hostname")
    for name, check in CHECKS.items():
        if name in doc and doc[name] is not None:
            check(doc[name])
    return doc


ALERT_TYPES = ("information", "warning", "critical")


def validate_alerts(document: Any) -> dict[str, dict[str, Any]]:
    """``submit_alerts``: ``{"<alert-id>": {"source", "type", "time_t", "text"}}``."""
    alerts = _object(document, "the document")
    if not alerts:
        raise InvalidDocument("the document holds no alert")
    for alert_id, alert in alerts.items():
        where = f"alert {alert_id!r}"
        _string(alert_id, "an alert id")
        obj = _object(alert, "{}", where)
        for name in ("source", "type", "time_t", "text"):
            if name not in obj:
                raise InvalidDocument(f"{where}: {name} is required")
        _string(obj["source"], "{}: source", where)
        _string(obj["text"], "{}: text", where)
        _number(obj["time_t"], "{}: time_t", where)
        if obj["type"] not in ALERT_TYPES:
            raise InvalidDocument(f"{where}: type must be one of {', '.join(ALERT_TYPES)}")
    return alerts
