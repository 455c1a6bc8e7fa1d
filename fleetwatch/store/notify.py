"""The notifications part of the storage contract: outbox, channels, rules, incidents,
deliveries and their attempts.

The outbox is filled by triggers on ``events`` (migration 0007), so every event written, by any
code path and any process, has its notification row in the same commit. ``NotifySQL``
(``notify_sql.py``) implements ``NotifyStore`` for both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "AttemptRecord",
    "ChannelRecord",
    "DeliveryRecord",
    "EventAck",
    "IncidentRecord",
    "NewDelivery",
    "NotifyStore",
    "OutboxRecord",
    "RuleRecord",
]


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One change of one event: ``transition`` is open, change, end or instant."""

    id: int
    event_id: int
    system_id: int
    transition: str
    created_at: float
    state: str
    previous_state: str | None
    type: str
    description: str
    value_max: float
    begin_at: float
    end_at: float
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A place messages go: an Apprise URL or the hub's webhook. ``url`` and ``secret`` are
    secrets: shown once, when made, and never by any list."""

    id: int
    name: str
    url: str
    secret: str
    origin: str
    created_at: float


@dataclass(frozen=True, slots=True)
class RuleRecord:
    id: int
    name: str
    spec: dict[str, Any]
    origin: str
    created_at: float


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """A problem followed from its start to its end; ``progress`` says, per rule, what was
    sent (``notify.dispatcher``)."""

    id: int
    subject: str
    opened_at: float
    ended_at: float | None
    acknowledged: bool
    event: dict[str, Any]
    progress: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    idempotency_key: str
    channel_id: int
    rule_name: str
    phase: str
    due_at: float
    title: str
    body: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    idempotency_key: str
    channel_id: int
    channel_name: str
    rule_name: str
    phase: str
    created_at: float
    due_at: float
    status: str
    attempts: int
    title: str
    body: str
    payload: dict[str, Any]
    last_error: str
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class EventAck:
    """Who acknowledged an event, when, and why."""

    event_id: int
    author: str
    comment: str
    at: float


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    delivery_id: int
    at: float
    outcome: str
    status_code: int | None
    detail: str
    seconds: float


class NotifyStore(Protocol):
    async def add_channel(self, name: str, url: str, secret: str, *, origin: str) -> ChannelRecord:
        """``Conflict`` if the name is taken."""

    async def replace_channel(self, name: str, url: str, secret: str, *, origin: str) -> None:
        """Add or overwrite a channel (the TOML file's, at each start)."""

    async def list_channels(self) -> list[ChannelRecord]: ...

    async def remove_channel(self, name: str) -> bool: ...

    async def add_rule(self, name: str, spec: dict[str, Any], *, origin: str) -> RuleRecord:
        """``Conflict`` if the name is taken."""

    async def replace_rule(self, name: str, spec: dict[str, Any], *, origin: str) -> None: ...

    async def list_rules(self) -> list[RuleRecord]: ...

    async def remove_rule(self, name: str) -> bool: ...

    async def pending_outbox(self, *, limit: int = 500) -> list[OutboxRecord]:
        """Outbox rows not dispatched yet, oldest first."""

    async def outbox_after(self, after_id: int, *, upto: int, limit: int) -> list[OutboxRecord]:
        """Outbox rows with ``after_id < id <= upto``, oldest first (the event stream's)."""

    async def outbox_last_id(self) -> int:
        """The newest outbox row's id, 0 when there is none."""

    async def objects_in_downtime(self) -> set[tuple[str, str]]:
        """(host, service) of the hosts (service "") and services in a downtime now."""

    async def open_incidents(self) -> list[IncidentRecord]: ...

    async def dispatch(
        self,
        outbox_id: int | None,
        incidents: Sequence[tuple[IncidentRecord, bool]],
        deliveries: Sequence[NewDelivery],
        *,
        now: float,
    ) -> None:
        """In one group of writes: save ``incidents`` (new ones, flagged True, are inserted;
        their ``id`` is ignored), add ``deliveries`` (an idempotency key already known is
        skipped, so doing this twice sends nothing twice) and mark the outbox row done."""

    async def claim_deliveries(
        self, channel_id: int, *, now: float, lease_until: float, token: str, limit: int
    ) -> list[DeliveryRecord]:
        """Take up to ``limit`` due deliveries of a channel for ``token``, until
        ``lease_until`` (a hub that dies holding them loses them then). Several hubs claiming
        at once each get different rows."""

    async def finish_attempt(
        self,
        delivery: DeliveryRecord,
        token: str,
        attempt: AttemptRecord,
        *,
        status: str,
        due_at: float,
    ) -> bool:
        """Record an attempt and the delivery's new ``status`` (pending with a later
        ``due_at``, sent or failed), while ``token`` still holds it."""

    async def list_deliveries(
        self, *, count: int, offset: int, status: str | None = None
    ) -> tuple[list[DeliveryRecord], int]:
        """Newest first, with the total."""

    async def delivery_attempts(self, delivery_ids: Sequence[int]) -> list[AttemptRecord]: ...

    async def prune_notifications(self, before: float, *, batch: int = 1000) -> int:
        """Delete dispatched outbox rows, finished deliveries (with their attempts) and ended
        incidents older than ``before``, ``batch`` rows per write; return how many."""

    async def acknowledge_event(self, ack: EventAck) -> bool:
        """Acknowledge an ongoing event, and queue an outbox row (transition ``ack``) in the
        same commit so its notifications stop repeating and escalating. False when the event
        is unknown, has ended, or was acknowledged already."""

    async def event_acks(self, event_ids: Sequence[int]) -> dict[int, EventAck]: ...

    async def try_lead(self) -> bool:
        """True while this process may run the fleet-wide notification dispatcher (one hub
        of those sharing a PostgreSQL database; always on SQLite, which has one hub)."""

    async def give_up_lead(self) -> None:
        """Let another process lead (this hub's delivery child, once it starts)."""
