"""The storage contract: the ``Store`` protocol, its records, and what the backends share.

Both backends (``sqlite.py``, ``postgres.py``) implement ``Store`` and pass the same contract test
(``tests/test_store.py``). Times are float epoch seconds; JSON documents are dicts encoded with
orjson in the caller's task, so a document that cannot be stored is refused before it is queued.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from fleetwatch.model.summary import summary_of

from .checks import CheckStore
from .fleet import FleetStore
from .hubs import HubStore
from .identity import IdentityStore
from .notify import NotifyStore
from .rollups import RollupStore

__all__ = [
    "EventRecord",
    "SnapshotRecord",
    "SnapshotTexts",
    "Statement",
    "Store",
    "SystemRecord",
    "decode_json",
    "encode_json",
    "event_from_row",
    "event_params",
    "in_steps",
    "snapshot_from_row",
    "snapshot_hostname",
    "snapshot_summary",
    "snapshot_texts",
    "system_from_row",
]

# PostgreSQL's jsonb cannot hold U+0000, so it is refused on both backends alike. The look-behind
# skips an escaped backslash followed by the text "u0000", which is harmless.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True, slots=True)
class SystemRecord:
    """A monitored machine. ``last_seen`` is None until it first reports."""

    id: int
    name: str
    hostname: str | None
    source: str
    created_at: float
    last_seen: float | None


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """One set of statistics for a system: the document as received and its normalised form."""

    id: int
    system_id: int
    created_at: float
    source: str
    document: dict[str, Any]
    normalized: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A Glances-style event: a threshold crossing (or state change) over ``[begin, end]``.

    ``end`` is -1 while the event is ongoing. ``id`` is None until the event is first saved.
    """

    id: int | None
    system_id: int
    begin: float
    end: float
    state: str
    type: str
    value_max: float
    value_avg: float
    value_min: float
    value_sum: float
    count: int
    top: list[str] = field(default_factory=list)
    desc: str = ""
    sort: str = ""
    global_msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Statement:
    """One parameterised write, queued to the group-commit writer and run in a group transaction.

    Its result is the new row's id when ``returns_id`` (the SQL ends in ``RETURNING id``),
    otherwise the number of rows it changed.

    A group runs its statements by ``step``, then in the order they were queued. A write made of
    several statements queued together (a check result: its state, its history row, its
    perfdata) numbers them 0, 1, 2...: each still runs after its own earlier steps, and the
    group's statements of one kind run side by side, which PostgreSQL sends in one
    ``executemany`` instead of one per result.
    """

    sql: str
    params: Sequence[object] | Mapping[str, object]
    returns_id: bool = False
    step: int = 0


def in_steps(batch: Sequence[Statement]) -> list[int]:
    """The order to run ``batch`` in (indexes into it): by ``step``, then as queued."""
    if all(statement.step == 0 for statement in batch):
        return list(range(len(batch)))
    return sorted(range(len(batch)), key=lambda index: batch[index].step)


class Store(IdentityStore, CheckStore, RollupStore, FleetStore, NotifyStore, HubStore, Protocol):
    """What the rest of Fleetwatch may ask of storage. Every write goes through the writer.

    Writes raise ``StoreOverloaded`` when the writer queue is full and ``StoreUnavailable`` when
    the database cannot be reached; ``ValueError`` when a document cannot be stored as JSON.
    """

    url: str  # any password masked
    dialect: Literal["sqlite", "postgres"]  # the SQL the query translator writes for it

    async def open(self) -> None:
        """Connect, apply pending migrations, start the writer."""

    async def close(self) -> None:
        """Commit every write already accepted, then close the connections."""

    async def add_system(
        self, name: str, *, hostname: str | None = None, source: str = "push"
    ) -> SystemRecord:
        """Add a system; ``Conflict`` if the name is taken."""

    async def get_system(self, name: str) -> SystemRecord | None: ...

    async def list_systems(self) -> list[SystemRecord]:
        """Every system, by name."""

    async def remove_system(self, name: str) -> bool:
        """Remove a system with its snapshots and events; False if there was none."""

    async def touch_system(self, system_id: int, last_seen: float, hostname: str | None) -> None:
        """Record that a system reported; a None hostname keeps the known one. ``NotFound``."""

    async def add_snapshot(
        self,
        system_id: int,
        created_at: float,
        document: dict[str, Any],
        normalized: dict[str, Any],
        source: str,
    ) -> int:
        """Store a snapshot; return its id once committed. ``NotFound`` for an unknown system."""

    async def latest_snapshot(self, system_id: int) -> SnapshotRecord | None: ...

    @property
    def pending_writes(self) -> int:
        """Writes accepted and not yet committed (the writer queue's depth)."""

    async def size_bytes(self) -> int:
        """What the database takes on disk, in bytes."""

    async def snapshots(
        self,
        system_id: int,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
        newest_first: bool = True,
    ) -> list[SnapshotRecord]:
        """A system's snapshots with ``since <= created_at < until``, at most ``limit``."""

    async def count_snapshots(self, system_id: int | None = None) -> int:
        """Snapshots of one system, or of all."""

    async def prune_snapshots(self, before: float, *, batch: int = 1000) -> int:
        """Delete snapshots older than ``before``, ``batch`` rows per write; return how many."""

    async def save_event(self, event: EventRecord) -> int:
        """Insert an event (``id`` None) or update it (``NotFound`` if gone); return its id."""

    async def list_events(
        self, *, system_id: int | None = None, open_only: bool = False, limit: int = 100
    ) -> list[EventRecord]:
        """Events, latest ``begin`` first; ``open_only`` keeps the ongoing ones (``end`` -1)."""

    async def delete_events(
        self, *, system_id: int | None, finished_only: bool, state: str | None = None
    ) -> int:
        """Delete events, narrowed by system, finished-ness and state; return how many."""

    async def select(
        self, sql: str, params: Mapping[str, object], *, time_limit: float
    ) -> list[tuple[Any, ...]]:
        """Run a read-only query built by the query translator (named parameters in the
        backend's style); ``QueryTimeout`` once it runs past ``time_limit`` seconds."""

    def stream(
        self, sql: str, params: Mapping[str, object], *, batch: int, time_limit: float
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Like ``select``, ``batch`` rows at a time from one consistent read, so a large
        result never sits in memory whole; ``time_limit`` applies to each batch."""


def encode_json(value: object) -> str:
    """Encode a document for storage; ``ValueError`` if either backend could not keep it."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"not storable as JSON: {exc}") from exc
    if b"\\u0000" in encoded and _NUL_ESCAPE.search(encoded):
        raise ValueError("not storable as JSON: strings may not contain U+0000")
    return encoded.decode()


def snapshot_hostname(document: dict[str, Any]) -> str | None:
    """The hostname a snapshot reports: pushed documents carry ``hostname``, the hub's own
    (Glances-shaped) ones ``system.hostname``."""
    name = document.get("hostname")
    if isinstance(name, str):
        return name
    system = document.get("system")
    name = system.get("hostname") if isinstance(system, dict) else None
    return name if isinstance(name, str) else None


def snapshot_summary(document: dict[str, Any], normalized: dict[str, Any]) -> dict[str, Any]:
    """The figures stored beside a snapshot (its ``summary``)."""
    return {**summary_of(normalized), "agent_version": _version(document)}


@dataclass(frozen=True, slots=True)
class SnapshotTexts:
    """A snapshot's JSON as it is stored, before the packed backends compress it."""

    document: bytes
    normalized: bytes
    summary: dict[str, Any]
    summary_json: bytes


def snapshot_texts(document: dict[str, Any], normalized: dict[str, Any]) -> SnapshotTexts:
    summary = snapshot_summary(document, normalized)
    return SnapshotTexts(encode_json(document).encode(), encode_json(normalized).encode(),
                         summary, encode_json(summary).encode())  # fmt: skip


def _version(document: dict[str, Any]) -> str | None:
    """The sender's version, as pushed documents carry it (the fleet shows it)."""
    version = document.get("version")
    return version[:64] if isinstance(version, str) else None


def decode_json(text: str | bytes) -> Any:
    """Decode a JSON column read back from either backend."""
    return orjson.loads(text)


# Row helpers shared by the backends. Both select columns in the order of the record's fields;
# a JSON column arrives as text from SQLite and already decoded from PostgreSQL's jsonb.


def _json_column(value: Any) -> Any:
    return decode_json(value) if isinstance(value, str | bytes) else value


def system_from_row(row: Sequence[Any]) -> SystemRecord:
    return SystemRecord(*row)


def snapshot_from_row(row: Sequence[Any]) -> SnapshotRecord:
    id_, system_id, created_at, source, document, normalized = row
    return SnapshotRecord(
        id_, system_id, created_at, source, _json_column(document), _json_column(normalized)
    )


def event_from_row(row: Sequence[Any]) -> EventRecord:
    (id_, system_id, begin, end, state, type_, vmax, vavg, vmin, vsum, count) = row[:11]
    top, desc, sort, global_msg, data = row[11:]
    return EventRecord(
        id=id_,
        system_id=system_id,
        begin=begin,
        end=end,
        state=state,
        type=type_,
        value_max=vmax,
        value_avg=vavg,
        value_min=vmin,
        value_sum=vsum,
        count=count,
        top=_json_column(top),
        desc=desc,
        sort=sort,
        global_msg=global_msg,
        data=_json_column(data),
    )


def event_params(event: EventRecord) -> tuple[object, ...]:
    """The event's columns after ``id``, in table order, JSON encoded where needed."""
    return (
        event.system_id,
        event.begin,
        event.end,
        event.state,
        event.type,
        event.value_max,
        event.value_avg,
        event.value_min,
        event.value_sum,
        event.count,
        encode_json(event.top),
        event.desc,
        event.sort,
        event.global_msg,
        encode_json(event.data),
    )
