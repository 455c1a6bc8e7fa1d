"""``NotifyStore`` in SQL that SQLite and PostgreSQL both speak (``IdentitySQL``'s plumbing).

Deliveries are made idempotent by their key (``ON CONFLICT DO NOTHING``), so dispatching an
outbox row twice, after a crash or from two hubs, queues each message once. A claim takes due
rows for a lease (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so hubs claiming together take
different rows); a claim whose hub died expires and the row is taken again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from .base import Statement, decode_json, encode_json
from .identity_sql import IdentitySQL
from .notify import (
    AttemptRecord,
    ChannelRecord,
    DeliveryRecord,
    EventAck,
    IncidentRecord,
    NewDelivery,
    OutboxRecord,
    RuleRecord,
)

__all__ = ["NotifySQL"]

Row = tuple[Any, ...]

_OUTBOX = (
    "SELECT id, event_id, system_id, transition, created_at, state, previous_state, type,"
    " description, value_max, begin_at, end_at, data FROM notify_outbox"
    " WHERE dispatched = 0 ORDER BY id LIMIT ?"
)
_ACK_EVENT = (
    "INSERT INTO event_acks (event_id, author, comment, at) SELECT ?, ?, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM events WHERE id = ? AND end_at < 0"
    " AND system_id NOT IN (SELECT id FROM systems WHERE source = 'checks'))"
    " ON CONFLICT (event_id) DO NOTHING"
)
_ACK_OUTBOX = (
    "INSERT INTO notify_outbox (event_id, system_id, transition, created_at, state,"
    " previous_state, type, description, value_max, begin_at, end_at, data)"
    " SELECT id, system_id, 'ack', ?, state, state, type, description, value_max, begin_at,"
    " end_at, data FROM events WHERE id = ? AND EXISTS (SELECT 1 FROM event_acks"
    " WHERE event_id = ? AND author = ? AND at = ?)"
)
_CHANNELS = "SELECT id, name, url, secret, origin, created_at FROM notify_channels ORDER BY name"
_RULES = "SELECT id, name, spec, origin, created_at FROM notify_rules ORDER BY name"
_INCIDENTS = (
    "SELECT id, subject, opened_at, ended_at, acknowledged, event, progress"
    " FROM notify_incidents WHERE ended_at IS NULL ORDER BY opened_at, id"
)
_NEW_INCIDENT = (
    "INSERT INTO notify_incidents (subject, opened_at, ended_at, acknowledged, event, progress)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) WHERE ended_at IS NULL DO NOTHING"
)
_SAVE_INCIDENT = (
    "UPDATE notify_incidents SET ended_at = ?, acknowledged = ?, event = ?, progress = ?"
    " WHERE subject = ? AND opened_at = ?"
)
_NEW_DELIVERY = (
    "INSERT INTO notify_deliveries (idempotency_key, channel_id, rule_name, phase, created_at,"
    " due_at, title, body, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
_DISPATCHED = "UPDATE notify_outbox SET dispatched = 1 WHERE id = ?"
_DELIVERIES = (
    "SELECT d.id, d.idempotency_key, d.channel_id, coalesce(c.name, ''), d.rule_name, d.phase,"
    " d.created_at, d.due_at, d.status, d.attempts, d.title, d.body, d.payload, d.last_error,"
    " d.finished_at FROM notify_deliveries d LEFT JOIN notify_channels c ON c.id = d.channel_id"
)
_CLAIM = (
    "UPDATE notify_deliveries SET status = 'sending', claimed_by = ?, due_at = ?"
    " WHERE id IN (SELECT id FROM notify_deliveries WHERE channel_id = ?"
    " AND status IN ('pending', 'sending') AND due_at <= ? ORDER BY due_at, id LIMIT ?{lock})"
)
_ATTEMPT = (
    "INSERT INTO notify_attempts (delivery_id, at, outcome, status_code, detail, seconds)"
    " SELECT ?, ?, ?, CAST(? AS INTEGER), ?, ? WHERE EXISTS (SELECT 1 FROM notify_deliveries"
    " WHERE id = ? AND claimed_by = ? AND status = 'sending')"
)
_FINISH = (
    "UPDATE notify_deliveries SET status = ?, due_at = ?, attempts = attempts + 1,"
    " last_error = ?, finished_at = CAST(? AS DOUBLE PRECISION), claimed_by = ''"
    " WHERE id = ? AND claimed_by = ? AND status = 'sending'"
)
# Each a short batch, so ingestion's writes are committed in between.
_PRUNE = (
    "DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox"
    " WHERE dispatched = 1 AND created_at < ? ORDER BY id LIMIT ?)",
    "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries"
    " WHERE status IN ('sent', 'failed') AND created_at < ? ORDER BY created_at LIMIT ?)",
    "DELETE FROM notify_incidents WHERE id IN (SELECT id FROM notify_incidents"
    " WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY id LIMIT ?)",
)


def _json(value: Any) -> Any:
    return decode_json(value) if isinstance(value, str | bytes) else value


def _outbox(row: Row) -> OutboxRecord:
    values = list(row)
    values[12] = _json(values[12])
    return OutboxRecord(*values)


def _delivery(row: Row) -> DeliveryRecord:
    values = list(row)
    values[12] = _json(values[12])
    return DeliveryRecord(*values)


class NotifySQL(IdentitySQL):
    """Mixed into a backend that provides ``_write``, ``_queue_all`` and ``_rows``."""

    # -- channels and rules

    async def add_channel(self, name: str, url: str, secret: str, *, origin: str) -> ChannelRecord:
        now = time.time()
        sql = (
            "INSERT INTO notify_channels (name, url, secret, origin, created_at)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        channel_id = await self._insert(sql, (name, url, secret, origin, now))
        return ChannelRecord(channel_id, name, url, secret, origin, now)

    async def replace_channel(self, name: str, url: str, secret: str, *, origin: str) -> None:
        sql = (
            "INSERT INTO notify_channels (name, url, secret, origin, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET url = excluded.url,"
            " secret = excluded.secret, origin = excluded.origin"
        )
        await self._change(sql, (name, url, secret, origin, time.time()))

    async def list_channels(self) -> list[ChannelRecord]:
        return [ChannelRecord(*row) for row in await self._select(_CHANNELS, ())]

    async def remove_channel(self, name: str) -> bool:
        return await self._change("DELETE FROM notify_channels WHERE name = ?", (name,)) > 0

    async def add_rule(self, name: str, spec: dict[str, Any], *, origin: str) -> RuleRecord:
        now = time.time()
        sql = "INSERT INTO notify_rules (name, spec, origin, created_at) VALUES (?, ?, ?, ?)"
        rule_id = await self._insert(sql, (name, encode_json(spec), origin, now))
        return RuleRecord(rule_id, name, spec, origin, now)

    async def replace_rule(self, name: str, spec: dict[str, Any], *, origin: str) -> None:
        sql = (
            "INSERT INTO notify_rules (name, spec, origin, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, origin = excluded.origin"
        )
        await self._change(sql, (name, encode_json(spec), origin, time.time()))

    async def list_rules(self) -> list[RuleRecord]:
        rows = await self._select(_RULES, ())
        return [RuleRecord(i, n, _json(s), o, c) for i, n, s, o, c in rows]

    async def remove_rule(self, name: str) -> bool:
        return await self._change("DELETE FROM notify_rules WHERE name = ?", (name,)) > 0

    # -- the dispatcher's side

    async def pending_outbox(self, *, limit: int = 500) -> list[OutboxRecord]:
        rows = await self._select(_OUTBOX, (max(limit, 0),))
        return [_outbox(row) for row in rows]

    async def outbox_after(self, after_id: int, *, upto: int, limit: int) -> list[OutboxRecord]:
        sql = _OUTBOX.replace("WHERE dispatched = 0", "WHERE id > ? AND id <= ?")
        rows = await self._select(sql, (after_id, upto, max(limit, 0)))
        return [_outbox(row) for row in rows]

    async def outbox_last_id(self) -> int:
        rows = await self._select("SELECT coalesce(max(id), 0) FROM notify_outbox", ())
        return int(rows[0][0])

    async def objects_in_downtime(self) -> set[tuple[str, str]]:
        sql = "SELECT host_name, service_description FROM check_objects WHERE downtime_depth > 0"
        return {(host, service) for host, service in await self._select(sql, ())}

    async def open_incidents(self) -> list[IncidentRecord]:
        return [
            IncidentRecord(i, s, o, e, bool(a), _json(ev), _json(p))
            for i, s, o, e, a, ev, p in await self._select(_INCIDENTS, ())
        ]

    async def dispatch(
        self,
        outbox_id: int | None,
        incidents: Sequence[tuple[IncidentRecord, bool]],
        deliveries: Sequence[NewDelivery],
        *,
        now: float,
    ) -> None:
        sql = self._sql
        statements: list[Statement] = []
        for incident, new in incidents:
            event, progress = encode_json(incident.event), encode_json(incident.progress)
            if new:
                params: tuple[object, ...] = (incident.subject, incident.opened_at,
                                              incident.ended_at, int(incident.acknowledged),
                                              event, progress)  # fmt: skip
                # The same step as the updates: a problem that ends and one of the same subject
                # that opens in one group must be written in that order (the open index).
                statements.append(Statement(sql(_NEW_INCIDENT), params, step=1))
            else:
                params = (incident.ended_at, int(incident.acknowledged), event, progress,
                          incident.subject, incident.opened_at)  # fmt: skip
                statements.append(Statement(sql(_SAVE_INCIDENT), params, step=1))
        for d in deliveries:
            params = (d.idempotency_key, d.channel_id, d.rule_name, d.phase, now, d.due_at,
                      d.title, d.body, encode_json(d.payload))  # fmt: skip
            statements.append(Statement(sql(_NEW_DELIVERY), params, step=2))
        if outbox_id is not None:
            statements.append(Statement(sql(_DISPATCHED), (outbox_id,), step=3))
        if statements:
            await asyncio.gather(*self._queue_all(statements))

    # -- the delivery worker's side

    async def claim_deliveries(
        self, channel_id: int, *, now: float, lease_until: float, token: str, limit: int
    ) -> list[DeliveryRecord]:
        lock = "" if self._placeholder == "?" else " FOR UPDATE SKIP LOCKED"
        claim = _CLAIM.format(lock=lock)
        if not await self._change(claim, (token, lease_until, channel_id, now, max(limit, 0))):
            return []
        sql = f"{_DELIVERIES} WHERE d.claimed_by = ? AND d.status = 'sending' ORDER BY d.id"
        return [_delivery(row) for row in await self._select(sql, (token,))]

    async def finish_attempt(
        self,
        delivery: DeliveryRecord,
        token: str,
        attempt: AttemptRecord,
        *,
        status: str,
        due_at: float,
    ) -> bool:
        sql = self._sql
        finished = attempt.at if status in ("sent", "failed") else None
        error = "" if attempt.outcome == "sent" else attempt.detail
        _, updated = await asyncio.gather(*self._queue_all([
            Statement(sql(_ATTEMPT), (delivery.id, attempt.at, attempt.outcome,
                                      attempt.status_code, attempt.detail[:2000],
                                      attempt.seconds, delivery.id, token)),
            Statement(sql(_FINISH), (status, due_at, error[:2000], finished, delivery.id,
                                     token), step=1),
        ]))  # fmt: skip
        return bool(updated)

    async def list_deliveries(
        self, *, count: int, offset: int, status: str | None = None
    ) -> tuple[list[DeliveryRecord], int]:
        where, params = ("WHERE d.status = ?", [status]) if status else ("", [])
        sql = f"{_DELIVERIES} {where} ORDER BY d.id DESC LIMIT ? OFFSET ?"
        rows = await self._select(sql, [*params, max(count, 0), max(offset, 0)])
        total_sql = "SELECT count(*) FROM notify_deliveries d " + where  # noqa: S608
        total = (await self._select(total_sql, params))[0][0]
        return [_delivery(row) for row in rows], int(total)

    async def delivery_attempts(self, delivery_ids: Sequence[int]) -> list[AttemptRecord]:
        if not delivery_ids:
            return []
        marks = ", ".join("?" for _ in delivery_ids)
        sql = (
            "SELECT id, delivery_id, at, outcome, status_code, detail, seconds"  # noqa: S608
            f" FROM notify_attempts WHERE delivery_id IN ({marks}) ORDER BY id"
        )
        return [AttemptRecord(*row) for row in await self._select(sql, list(delivery_ids))]

    async def prune_notifications(self, before: float, *, batch: int = 1000) -> int:
        removed = 0
        for sql in _PRUNE:
            while True:
                deleted = await self._change(sql, (before, batch))
                removed += deleted
                if deleted < batch:
                    break
        return removed

    async def acknowledge_event(self, ack: EventAck) -> bool:
        sql = self._sql
        # One unit: the acknowledgement, and the outbox row that tells the dispatcher, only
        # when this statement made it (the same author and time: the row just inserted).
        added, _ = await asyncio.gather(*self._queue_all([
            Statement(sql(_ACK_EVENT), (ack.event_id, ack.author, ack.comment[:1000], ack.at,
                                        ack.event_id)),
            Statement(sql(_ACK_OUTBOX), (ack.at, ack.event_id, ack.event_id, ack.author,
                                         ack.at), step=1),
        ]))  # fmt: skip
        return bool(added)

    async def event_acks(self, event_ids: Sequence[int]) -> dict[int, EventAck]:
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        sql = f"SELECT event_id, author, comment, at FROM event_acks WHERE event_id IN ({marks})"  # noqa: S608
        return {row[0]: EventAck(*row) for row in await self._select(sql, list(event_ids))}

    async def try_lead(self) -> bool:
        return True

    async def give_up_lead(self) -> None:
        return None
