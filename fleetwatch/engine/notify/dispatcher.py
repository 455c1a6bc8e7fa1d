"""The dispatcher: outbox rows become incidents, and incidents become deliveries.

One hub runs it at a time (``Store.try_lead``). Each outbox row is read as an event and handed
to ``Plan``, which opens, changes or ends the incident of its subject (a problem: an open event,
or a host or service in a hard problem state) and says what to send. Each cycle also looks at
every open incident: a rule's first message waits ``min_duration`` from the problem's start,
``repeat`` sends a reminder every so often, ``escalate_after`` brings in more channels, and an
acknowledgement stops all three. A downtime covering the object holds messages back: what is
still wrong when it ends is sent then, and what ended during it is never sent.

The incident, the new deliveries and the outbox row's "done" mark are written as one group;
each delivery's idempotency key is derived from the problem, rule, channel and phase, so doing
a row again (a crash between, a second hub) never sends a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.engine.notify.events import NotifyEvent, read_event
from fleetwatch.engine.notify.messages import Messages, fields_of
from fleetwatch.engine.notify.rules import NoTags, ObjectTags, Rule, RuleError, parse_rule
from fleetwatch.store.base import Store
from fleetwatch.store.errors import StoreError
from fleetwatch.store.notify import IncidentRecord, NewDelivery

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

# How often every open incident is looked at for messages that time made due.
DUE_SCAN_SECONDS = 5.0
PROBLEM_KINDS = ("threshold", "stale", "alert", "check")


def delivery_key(*parts: object) -> str:
    """A stable idempotency key: the same problem, rule, channel and phase, the same key."""
    text = "\x1f".join(repr(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclasses.dataclass
class Cycle:
    """What one dispatch cycle knows: rules, channel ids, the objects in a downtime."""

    rules: list[Rule]
    channels: dict[str, int]
    now: float
    downtimes: set[tuple[str, str]] = dataclasses.field(default_factory=set)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        messages: Messages,
        *,
        checks_system: str,
        tags: ObjectTags | None = None,
        clock: Callable[[], float] = time.time,
        batch: int = 500,
    ) -> None:
        self.store = store
        self.messages = messages
        self.checks_system = checks_system
        self.tags = tags or NoTags()
        self.clock = clock
        self.batch = batch
        self._systems: dict[int, str] = {}
        self.wakeup = asyncio.Event()
        # Called once deliveries were queued: the worker sends them now, not at its next poll.
        self.on_deliveries: Callable[[], None] | None = None
        self._queued = False
        self.has_channels = False  # whether the store held a channel at the last cycle
        self._writes: list[asyncio.Future[None]] = []
        self._next_due_scan = 0.0  # the clock's time of the next look at every open incident

    async def run(
        self, stop: asyncio.Event, every: float = 0.5, *, until_channel: bool = False
    ) -> None:
        """Dispatch until ``stop``; with ``until_channel``, only until it has seen a channel."""
        while not stop.is_set():
            try:
                await self.run_once()
            except StoreError as exc:
                log.warning("notifications: the store failed (%s); trying again", exc)
            if until_channel and self.has_channels:
                return
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.wakeup), timeout=every)

    async def run_once(self) -> int:
        """Dispatch what the outbox holds, then what time has made due; rows handled."""
        if not await self.store.try_lead():
            self._next_due_scan = 0.0  # whoever leads next looks at every incident at once
            return 0
        self._queued = False
        try:
            handled = await self._dispatch_all()
        finally:
            # Even when one failed, wait for the others: none is left running into the next cycle.
            writes, self._writes = self._writes, []
            outcomes = await asyncio.gather(*writes, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        if self._queued and self.on_deliveries is not None:
            self.on_deliveries()
        return handled

    async def _save(
        self,
        outbox_id: int | None,
        incidents: list[tuple[IncidentRecord, bool]],
        sends: list[NewDelivery],
        *,
        now: float,
    ) -> None:
        # Not awaited here: the writes of one row after another queue in order on the store's
        # writer and commit in a few groups, instead of a commit per row (``_flush`` waits).
        write = asyncio.ensure_future(self.store.dispatch(outbox_id, incidents, sends, now=now))
        self._writes.append(write)
        self._queued = self._queued or bool(sends)

    async def _flush(self) -> None:
        writes, self._writes = self._writes, []
        if writes:
            await asyncio.gather(*writes)

    async def _dispatch_all(self) -> int:
        # What time makes due (min_duration, repeat, escalate_after: minutes, as rules give
        # them) is looked for every DUE_SCAN_SECONDS, not at every poll: reading and decoding
        # every open incident twice a second was most of an idle hub's CPU once a large fleet
        # had gone silent (10,000 open STALE incidents). New events are handled at once.
        rows = await self.store.pending_outbox(limit=self.batch)
        now = self.clock()
        scan = now >= self._next_due_scan
        if not rows and not scan:
            return 0
        cycle = await self._cycle()
        if scan:
            self._next_due_scan = now + DUE_SCAN_SECONDS
        if not rows and not cycle.rules:
            return 0  # without a rule nothing is ever due
        incidents = {i.subject: i for i in await self.store.open_incidents()}
        handled = 0
        while rows:
            for row in rows:
                event = read_event(row, await self._system(row.system_id),
                                   checks_system=await self._system(row.system_id)
                                   == self.checks_system)  # fmt: skip
                cycle.now = self.clock()
                await self._handle(cycle, incidents, event)
            await self._flush()  # committed, so the next read does not return them again
            handled += len(rows)
            if len(rows) < self.batch:
                break
            rows = await self.store.pending_outbox(limit=self.batch)
        if not scan:
            return handled
        cycle.now = self.clock()
        for incident in list(incidents.values()):
            sends = await self._due(cycle, incident, self._event_of(incident))
            if sends:
                await self._save(None, [(incident, False)], sends, now=cycle.now)
        return handled

    async def _cycle(self) -> Cycle:
        rules = []
        for record in await self.store.list_rules():
            try:
                rules.append(parse_rule({**record.spec, "name": record.name}))
            except RuleError as exc:  # stored by an older version, say: skip, say so
                log.warning("notification rule %s is not valid (%s); skipped", record.name, exc)
        channels = {c.name: c.id for c in await self.store.list_channels()}
        self.has_channels = bool(channels)
        return Cycle(rules, channels, self.clock(), await self.store.objects_in_downtime())

    async def _system(self, system_id: int) -> str:
        if system_id not in self._systems:
            self._systems = {s.id: s.name for s in await self.store.list_systems()}
        return self._systems.get(system_id, f"system-{system_id}")

    # -- one outbox row

    async def _handle(
        self, cycle: Cycle, incidents: dict[str, IncidentRecord], event: NotifyEvent
    ) -> None:
        if event.transition == "ack":  # POST /api/v1/events.ack: no more repeats, escalation
            incident = incidents.get(event.subject)
            changes = []
            if incident is not None:
                incident = dataclasses.replace(incident, acknowledged=True)
                incidents[event.subject] = incident
                changes.append((incident, False))
            await self._save(event.outbox_id, changes, [], now=cycle.now)
            return
        if event.kind not in PROBLEM_KINDS or (
            event.kind == "alert" and not event.is_problem and event.subject not in incidents
        ):
            await self._info(cycle, incidents, event)
            return
        incident = incidents.get(event.subject)
        sends: list[NewDelivery] = []
        new = ending = False
        if event.is_problem and event.transition != "end":
            if incident is None:
                incident = IncidentRecord(0, event.subject, event.began_at, None, False,
                                          _stored(event), {})  # fmt: skip
                new = True
            else:
                incident = await self._changed(cycle, incident, event, sends)
            sends += await self._due(cycle, incident, event)
            # A threshold event stored already ended began and ended in one go.
            ending = event.transition == "instant" and event.kind != "check"
        elif incident is not None:
            ending = True
        if incident is None:  # the end of a problem never seen (before notifications existed)
            await self._save(event.outbox_id, [], [], now=cycle.now)
            return
        if ending:
            incident = dataclasses.replace(incident, ended_at=event.ended_at or cycle.now)
            sends += await self._recovery(cycle, incident, event)
            incidents.pop(event.subject, None)
        else:
            incidents[event.subject] = incident
        await self._save(event.outbox_id, [(incident, new)], sends, now=cycle.now)

    async def _changed(
        self,
        cycle: Cycle,
        incident: IncidentRecord,
        event: NotifyEvent,
        sends: list[NewDelivery],
    ) -> IncidentRecord:
        """The problem's state changed (WARNING to CRITICAL): rules that told of it tell again."""
        acknowledged = incident.acknowledged
        if event.kind == "check":
            found = await self.store.get_check_object(event.host, event.service)
            acknowledged = bool(found and found.acknowledged)
        changed = dataclasses.replace(incident, event=_stored(event), acknowledged=acknowledged)
        severity = event.severity
        for rule in cycle.rules:
            progress = incident.progress.get(rule.name)
            if not progress or progress.get("severity") == severity:
                continue
            if not await self._concerns(rule, event, severity) or await self._held(cycle, event):
                continue
            progress["severity"] = severity
            sends += self._sends(cycle, rule, rule.channels, changed, event, "problem",
                                 severity, severity)  # fmt: skip
        return changed

    async def _recovery(
        self, cycle: Cycle, incident: IncidentRecord, event: NotifyEvent
    ) -> list[NewDelivery]:
        if await self._held(cycle, event):
            return []  # ended during a downtime: never told
        recovered = dataclasses.replace(event, transition="end", ended_at=incident.ended_at)
        sends: list[NewDelivery] = []
        for rule in cycle.rules:
            progress = incident.progress.get(rule.name)
            if not progress or "recovery" not in rule.severities:
                continue
            channels = rule.channels + (rule.escalate_to if progress.get("escalated") else ())
            sends += self._sends(cycle, rule, channels, incident, recovered, "recovery",
                                 "recovery", "recovery")  # fmt: skip
        return sends

    async def _info(
        self, cycle: Cycle, incidents: dict[str, IncidentRecord], event: NotifyEvent
    ) -> None:
        changes: list[tuple[IncidentRecord, bool]] = []
        if event.kind == "acknowledgement":
            incident = incidents.get(f"object:{event.host};{event.service}")
            if incident is not None:
                acked = event.type == "ACKNOWLEDGEMENT"
                incident = dataclasses.replace(incident, acknowledged=acked)
                incidents[incident.subject] = incident
                changes.append((incident, False))
        sends: list[NewDelivery] = []
        held = await self._held(cycle, event) and event.kind != "downtime"
        for rule in cycle.rules:
            if held or not await self._concerns(rule, event, "info"):
                continue
            sends += self._sends(cycle, rule, rule.channels, None, event, "info", "info",
                                 ("outbox", event.outbox_id))  # fmt: skip
        await self._save(event.outbox_id, changes, sends, now=cycle.now)

    # -- what time makes due

    async def _due(
        self, cycle: Cycle, incident: IncidentRecord, event: NotifyEvent
    ) -> list[NewDelivery]:
        """First messages past ``min_duration``, repeats and escalations now due."""
        if incident.acknowledged or incident.ended_at is not None:
            return []
        now, severity = cycle.now, event.severity
        # A problem that ended sooner than min_duration (a spike) is never told.
        lasted_until = event.ended_at if event.ended_at is not None else now
        sends: list[NewDelivery] = []
        for rule in cycle.rules:
            progress = incident.progress.get(rule.name)
            if progress is None:
                if lasted_until < incident.opened_at + rule.min_duration:
                    continue
                if not await self._concerns(rule, event, severity):
                    continue
                if await self._held(cycle, event):
                    continue
                incident.progress[rule.name] = {"sent_at": now, "severity": severity,
                                                "repeats": 0, "escalated": False}  # fmt: skip
                sends += self._sends(cycle, rule, rule.channels, incident, event, "problem",
                                     severity, severity)  # fmt: skip
                continue
            sends += await self._later(cycle, rule, incident, event, progress)
        return sends

    async def _later(
        self,
        cycle: Cycle,
        rule: Rule,
        incident: IncidentRecord,
        event: NotifyEvent,
        progress: dict[str, Any],
    ) -> list[NewDelivery]:
        now, sends = cycle.now, []
        repeats = int(progress.get("repeats", 0))
        repeat_due = rule.repeat > 0 and now >= progress["sent_at"] + rule.repeat * (repeats + 1)
        escalate_due = (
            rule.escalate_after > 0
            and not progress.get("escalated")
            and now >= incident.opened_at + rule.escalate_after
        )
        if not (repeat_due or escalate_due) or await self._held(cycle, event):
            return []
        severity = str(progress.get("severity", event.severity))
        if repeat_due:
            # Counted from the first message, so a late cycle does not shift the next one.
            repeats = int((now - progress["sent_at"]) // rule.repeat)
            progress["repeats"] = repeats
            sends += self._sends(cycle, rule, rule.channels, incident, event, "repeat",
                                 severity, ("repeat", repeats))  # fmt: skip
        if escalate_due:
            progress["escalated"] = True
            sends += self._sends(cycle, rule, rule.escalate_to, incident, event, "escalation",
                                 severity, "escalation")  # fmt: skip
        return sends

    # -- helpers

    async def _concerns(self, rule: Rule, event: NotifyEvent, severity: str) -> bool:
        tags = await self.tags.tags_of(event) if rule.tags else frozenset[str]()
        return rule.matches(event, severity, tags)

    async def _held(self, cycle: Cycle, event: NotifyEvent) -> bool:
        """Whether a downtime covers the event's object (a host's covers its services)."""
        if not event.host:
            return False
        if event.kind == "downtime":  # one that started or ended since the cycle began
            found = await self.store.get_check_object(event.host, event.service)
            key = (event.host, event.service)
            if found is not None and found.downtime_depth > 0:
                cycle.downtimes.add(key)
            else:
                cycle.downtimes.discard(key)
        keys = ((event.host, event.service), (event.host, ""))
        return any(key in cycle.downtimes for key in keys)

    def _sends(
        self,
        cycle: Cycle,
        rule: Rule,
        channels: tuple[str, ...],
        incident: IncidentRecord | None,
        event: NotifyEvent,
        phase: str,
        severity: str,
        tag: object,
    ) -> list[NewDelivery]:
        fields = fields_of(event, phase, severity, cycle.now, self.messages.public_url)
        title, body = self.messages.render(rule.title, rule.body, fields)
        problem = (incident.subject, incident.opened_at) if incident is not None else ()
        out = []
        for name in channels:
            channel_id = cycle.channels.get(name)
            if channel_id is None:
                log.warning("notification rule %s names no channel %r", rule.name, name)
                continue
            key = delivery_key(*problem, rule.name, name, tag)
            out.append(NewDelivery(key, channel_id, rule.name, phase, cycle.now, title, body,
                                   {**fields, "title": title}))  # fmt: skip
        return out

    def _event_of(self, incident: IncidentRecord) -> NotifyEvent:
        return NotifyEvent(**incident.event)


def _stored(event: NotifyEvent) -> dict[str, Any]:
    return dataclasses.asdict(event)


async def _first(stop: asyncio.Event, wakeup: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
