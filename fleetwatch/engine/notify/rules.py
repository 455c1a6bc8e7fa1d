"""Rules: which events go to which channels, and when.

A rule is parsed here once, whatever it comes from (a ``[[notify.rules]]`` table, the CLI,
the API), key by key, each error one line naming the key. ``Rule.matches`` decides whether an
event concerns it; ``ObjectTags`` is the one place an event's object tags come from.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fleetwatch.engine.notify.events import KINDS, SEVERITIES, NotifyEvent
from fleetwatch.engine.notify.messages import check_template

__all__ = ["RULE_KEYS", "NoTags", "ObjectTags", "Rule", "RuleError", "parse_rule"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_KINDS = ("threshold", "stale", "alert", "check")
MAX_LIST = 50
MAX_GLOB = 200
MAX_MINUTES = 7 * 24 * 60
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RuleError(ValueError):
    """One bad key of a rule: ``key`` names it, the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key} {message}")
        self.key = key


class ObjectTags(Protocol):
    """Where an event's object tags come from (systems, hosts and services carry tags)."""

    async def tags_of(self, event: NotifyEvent) -> frozenset[str]: ...


class NoTags:
    """Until objects carry tags: none, so a rule that names tags matches nothing."""

    async def tags_of(self, event: NotifyEvent) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    channels: tuple[str, ...]
    kinds: tuple[str, ...] = DEFAULT_KINDS
    severities: tuple[str, ...] = SEVERITIES
    systems: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_duration: float = 0.0  # seconds
    repeat: float = 0.0  # seconds, 0: never
    escalate_after: float = 0.0  # seconds, 0: never
    escalate_to: tuple[str, ...] = ()
    title: str = ""
    body: str = ""

    def matches(self, event: NotifyEvent, severity: str, tags: frozenset[str]) -> bool:
        """``severity``: the event's, or (for a recovery) the problem's worst."""
        if event.kind not in self.kinds:
            return False
        if severity not in self.severities:
            return False
        if not _globbed(self.systems, event.system if not event.host else ""):
            return False
        if not _globbed(self.hosts, event.host) or not _globbed(self.services, event.service):
            return False
        return not self.tags or bool(tags.intersection(self.tags))

    def spec(self) -> dict[str, Any]:
        """The rule as its keys (stored as JSON, shown by the API), durations in their units."""
        return {
            "name": self.name, "channels": list(self.channels), "kinds": list(self.kinds),
            "severities": list(self.severities), "systems": list(self.systems),
            "hosts": list(self.hosts), "services": list(self.services), "tags": list(self.tags),
            "min_duration": self.min_duration, "repeat": self.repeat / 60,
            "escalate_after": self.escalate_after / 60,
            "escalate_to": list(self.escalate_to), "title": self.title, "body": self.body,
        }  # fmt: skip


def _globbed(globs: Sequence[str], value: str) -> bool:
    return not globs or any(fnmatch.fnmatchcase(value, glob) for glob in globs)


def _names(value: Any, *, allowed: Sequence[str] | None = None, required: bool = False) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of non-empty strings")
    if required and not value:
        raise ValueError("must name at least one")
    if len(value) > MAX_LIST:
        raise ValueError(f"may hold at most {MAX_LIST} entries")
    if any(len(v) > MAX_GLOB for v in value):
        raise ValueError(f"entries may be at most {MAX_GLOB} characters")
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"must be among {', '.join(allowed)}; {unknown[0]!r} is not")
    return tuple(dict.fromkeys(value))


def duration(value: Any, unit: str, limit_seconds: float) -> float:
    """Seconds, from a number in ``unit`` (s or m) or a string like ``90s``, ``5m``, ``2h``."""
    if isinstance(value, bool):
        raise ValueError("must be a number or a duration like 90s, 5m, 2h")
    if isinstance(value, int | float):
        seconds = float(value) * _UNIT_SECONDS[unit]
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNIT_SECONDS[match[2] or unit]
    else:
        raise ValueError("must be a number or a duration like 90s, 5m, 2h")
    if not 0 <= seconds <= limit_seconds:
        raise ValueError(f"must be between 0 and {limit_seconds / 86400:g} days")
    return seconds


def _template(limit: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        check_template(value, limit)
        return value

    return parse


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "channels": lambda v: _names(v, required=True),
    "kinds": lambda v: _names(v, allowed=KINDS, required=True),
    "severities": lambda v: _names(v, allowed=SEVERITIES, required=True),
    "systems": _names,
    "hosts": _names,
    "services": _names,
    "tags": _names,
    "min_duration": lambda v: duration(v, "s", MAX_MINUTES * 60),
    "repeat": lambda v: duration(v, "m", MAX_MINUTES * 60),
    "escalate_after": lambda v: duration(v, "m", MAX_MINUTES * 60),
    "escalate_to": _names,
    "title": _template(1000),
    "body": _template(8000),
}
# What the README documents (tests/test_docs.py checks it).
RULE_KEYS = ("name", *_PARSERS)


def parse_rule(table: Any) -> Rule:
    """A rule from its keys; ``RuleError`` naming the first bad key."""
    if not isinstance(table, dict):
        raise RuleError("rule", "must be a table of keys")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise RuleError("name", "must be 1-64 letters, digits, '_', '.' or '-'")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "name":
            continue
        parser = _PARSERS.get(key)
        if parser is None:
            raise RuleError(key, "is not a rule key")
        try:
            values[key] = parser(value)
        except ValueError as exc:
            raise RuleError(key, f"{exc}, not {value!r}"[:300]) from None
    if "channels" not in values:
        raise RuleError("channels", "is required")
    if values.get("escalate_after") and not values.get("escalate_to"):
        raise RuleError("escalate_to", "is required with escalate_after")
    return Rule(name=name, **values)
