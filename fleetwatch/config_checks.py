"""Hosts and services declared in the TOML config, as ``[[checks.hosts]]`` and
``[[checks.services]]`` tables::

    [[checks.hosts]]
    host_name = "backup01"

    [[checks.services]]
    host_name = "backup01"              # created too when no [[checks.hosts]] names it
    service_description = "Nightly backup"
    freshness_threshold = 90000         # seconds; turns check_freshness on
    max_check_attempts = 1
    stale_state = "CRITICAL"            # a name or a number
    stale_output = ""
    notes = "cron on backup01, 01:00"

Each table is checked key by key here, at load time, like every other setting: an unknown key
or a wrong type stops the start with one line naming it (``checks.services[2]``). The hub
applies them to the store at start (``engine.declared``). Arrays of tables have no
environment-variable form: declare them in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetwatch.model.tags import MAX_TAGS, check_tag
from fleetwatch.store.checks import MAX_CHECK_ATTEMPTS, MAX_WINDOW_SECONDS

__all__ = ["DECLARED_KEYS", "DeclaredObject", "parse_declared"]

SERVICE_STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
HOST_STATES = {"UP": 0, "DOWN": 1, "UNREACHABLE": 2}


@dataclass(frozen=True, slots=True)
class DeclaredObject:
    """A host (``service_description`` empty) or a service, as the config declares it."""

    kind: str
    host_name: str
    service_description: str = ""
    freshness_threshold: float | None = None
    max_check_attempts: int = 1
    stale_state: int | None = None  # None: CRITICAL for a service, DOWN for a host
    stale_output: str = ""
    notes: str = ""
    tags: tuple[str, ...] | None = None  # None: the config leaves the object's tags alone

    @property
    def display_name(self) -> str:
        return (
            self.host_name
            if self.kind == "host"
            else f"{self.host_name};{self.service_description}"
        )


class DeclarationError(ValueError):
    """One bad key of one table; the caller adds where it is."""


def _text(value: Any, *, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise DeclarationError("must be a non-empty string" if required else "must be a string")
    return value


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DeclarationError("must be a positive number of seconds")
    if value > MAX_WINDOW_SECONDS:
        raise DeclarationError(f"must be at most {MAX_WINDOW_SECONDS:.0f} seconds")
    return float(value)


def _attempts(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_CHECK_ATTEMPTS
    ):
        raise DeclarationError(f"must be an integer of at least 1 (at most {MAX_CHECK_ATTEMPTS})")
    return value


def _state(names: dict[str, int]) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and value.strip().upper() in names:
            return names[value.strip().upper()]
        if isinstance(value, int) and not isinstance(value, bool) and value in names.values():
            return value
        raise DeclarationError(f"must be one of {', '.join(names)} (or 0-{len(names) - 1})")

    return parse


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise DeclarationError(f"must be a list of at most {MAX_TAGS} tags")
    try:
        return tuple(sorted({check_tag(tag) for tag in value}))
    except ValueError as exc:
        raise DeclarationError(str(exc)) from None


_COMMON: dict[str, Callable[[Any], Any]] = {
    "host_name": lambda value: _text(value, required=True),
    "freshness_threshold": _threshold,
    "max_check_attempts": _attempts,
    "stale_output": _text,
    "notes": _text,
    "tags": _tags,
}
_PARSERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "hosts": {**_COMMON, "stale_state": _state(HOST_STATES)},
    "services": {
        **_COMMON,
        "service_description": lambda value: _text(value, required=True),
        "stale_state": _state(SERVICE_STATES),
    },
}
# What the README documents (tests/test_docs.py checks it).
DECLARED_KEYS = {kind: tuple(parsers) for kind, parsers in _PARSERS.items()}


def parse_declared(key: str, tables: Any, origin: str) -> list[DeclaredObject]:
    """``[checks] hosts`` or ``services`` (an array of tables) as objects; ``ValueError`` with
    one line naming the table and the key otherwise."""
    where = f"{origin}: checks.{key}"
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{where} must be an array of tables ([[checks.{key}]])")
    parsers = _PARSERS[key]
    kind = "host" if key == "hosts" else "service"
    out: list[DeclaredObject] = []
    seen: set[tuple[str, str]] = set()
    for number, table in enumerate(tables, start=1):
        values: dict[str, Any] = {}
        for name, value in table.items():
            parser = parsers.get(name)
            if parser is None:
                raise ValueError(f"{where}[{number}]: unknown key {name!r}")
            try:
                values[name] = parser(value)
            except DeclarationError as exc:
                raise ValueError(f"{where}[{number}]: {name} {exc}, not {value!r}") from None
        for required in ("host_name", "service_description"):
            if required in parsers and required not in values:
                raise ValueError(f"{where}[{number}]: {required} is required")
        declared = DeclaredObject(kind, **values)
        name = (declared.host_name, declared.service_description)
        if name in seen:
            raise ValueError(f"{where}[{number}]: {declared.display_name} is declared twice")
        seen.add(name)
        out.append(declared)
    return out
