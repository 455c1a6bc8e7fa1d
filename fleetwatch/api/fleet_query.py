"""The paging and filter parameters every fleet-wide read takes.

``/api/v1/systems``, ``/api/servers/list``, ``/api/4/serverslist`` and the console's
``/fleet.json`` list 10,000 systems a page at a time, as the Rocket.Chat-style lists do:
``count`` (default ``query.default_count``, clamped to ``query.max_count``; ``0`` asks for every
system in one body), ``offset``, and the filters ``name`` (a part of the name, any case),
``tag`` and ``status`` (``up``, ``stale``, ``never seen``). Anything else is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleetwatch.api.errors import QueryError
from fleetwatch.api.query_string import parse_query_string
from fleetwatch.store.fleet import FLEET_STATUSES, FleetFilter, check_tag

__all__ = ["FLEET_PARAMETERS", "MAX_NAME", "FleetQuery", "parse_fleet_query"]

FLEET_PARAMETERS = frozenset({"count", "offset", "name", "tag", "status"})
MAX_NAME = 200  # a name part longer than any system's name matches nothing anyway
MAX_OFFSET = 2**62


@dataclass(frozen=True, slots=True)
class FleetQuery:
    where: FleetFilter
    offset: int
    count: int | None  # None: every match (count=0)

    def tail(self, shown: int, total: int) -> dict[str, int]:
        """The Rocket.Chat list's counters."""
        return {"count": shown, "offset": self.offset, "total": total}


def _bad(detail: str) -> QueryError:
    return QueryError(detail, "error-invalid-params")


def _whole(name: str, text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or int(digits) > MAX_OFFSET:
        raise _bad(f"{name} must be a whole number from 0 to {MAX_OFFSET}, not {text[:40]!r}")
    return int(digits)


def parse_fleet_query(
    raw: str | bytes,
    *,
    default_count: int,
    max_count: int,
    extra: Iterable[str] = (),
) -> FleetQuery:
    """The paging and filters from a query string; ``QueryError`` naming a bad parameter.
    ``extra`` names parameters the route reads itself (they are let through)."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    known = FLEET_PARAMETERS | frozenset(extra)
    values: dict[str, str] = {}
    for name, value in parse_query_string(text):
        if name not in known:
            raise _bad(f"unknown parameter {name[:40]!r}; known: " + ", ".join(sorted(known)))
        if name in values:
            raise _bad(f"{name} is given more than once")
        values[name] = value
    name = values.get("name", "")
    if len(name) > MAX_NAME:
        raise _bad(f"name is at most {MAX_NAME} characters")
    tag = values.get("tag", "")
    if tag:
        try:
            tag = check_tag(tag)
        except ValueError as exc:
            raise _bad(f"tag: {exc}") from None
    status = values.get("status", "")
    if status and status not in FLEET_STATUSES:
        raise _bad("status must be one of " + ", ".join(FLEET_STATUSES))
    offset = _whole("offset", values["offset"]) if "offset" in values else 0
    count = _whole("count", values["count"]) if "count" in values else default_count
    return FleetQuery(FleetFilter(name, tag, status), offset, min(count, max_count) or None)
