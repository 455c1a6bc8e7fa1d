"""Passive check results, acknowledgements and downtimes, applied to the store.

``CheckService`` is what the command API, the freshness scheduler and the CLI share. Each
result is applied under a per-object lock (read the state, apply Naemon's logic from
``checkstate``, write), and answered after its writes are committed. A change of hard state,
an acknowledgement, a downtime start or end and a stale result become events: one row each in
the store's events (under the hub's ``checks`` system) and a call to every listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fleetwatch.engine.checkstate import CheckState, Transition, apply_result, state_name
from fleetwatch.ingest.perfdata import PluginOutput, parse_output
from fleetwatch.store.base import EventRecord, Store
from fleetwatch.store.checks import CheckObject, CheckResultRecord, DowntimeRecord, PerfPoint
from fleetwatch.store.errors import Conflict, StoreError, StoreUnavailable

__all__ = ["EVENTS_SYSTEM", "CheckService", "UnknownObject", "stale_message"]

log = logging.getLogger(__name__)

# The system under which check events are stored (events belong to a system).
EVENTS_SYSTEM = "fleetwatch-checks"

Listener = Callable[[dict[str, Any]], None]
SAVE_ATTEMPTS = 3
# Plugin output longer than this is parsed in a thread: a thousand perfdata labels take ~13 ms
# of Python, which the event loop would otherwise spend away from every other request.
PARSE_INLINE_CHARS = 4096


class UnknownObject(ValueError):
    """A result or command for a host or service the hub does not know (OP5 answers 400)."""


class CheckService:
    """Applies results and commands to hosts and services; ``prepare`` before use."""

    def __init__(
        self,
        store: Store,
        *,
        auto_create: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.auto_create = auto_create
        self.clock = clock
        self.listeners: list[Listener] = []
        self.on_schedule_change: Callable[[], None] | None = None
        self._events_system: int | None = None
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        # The objects as last read or saved here; a save over a version that changed meanwhile
        # (another process, an acknowledgement) fails, and the object is read again.
        self._known: dict[tuple[str, str], CheckObject] = {}

    async def prepare(self) -> None:
        found = await self.store.get_system(EVENTS_SYSTEM)
        if found is None:
            try:
                found = await self.store.add_system(EVENTS_SYSTEM, source="checks")
            except Conflict:  # another hub process made it meanwhile
                found = await self.store.get_system(EVENTS_SYSTEM)
        assert found is not None
        self._events_system = found.id

    # -- objects

    async def find(self, host: str, service: str | None, *, create: bool = False) -> CheckObject:
        """The host (``service`` None) or service; ``UnknownObject`` unless ``create``."""
        found = await self.store.get_check_object(host, service or "")
        if found is not None:
            return found
        if not create:
            if service is None:
                raise UnknownObject(f"host {host!r} does not exist")
            raise UnknownObject(f"service {service!r} on host {host!r} does not exist")
        if await self.store.get_check_object(host) is None:
            with contextlib.suppress(Conflict):
                await self.store.add_check_object("host", host)
        if service is not None:
            with contextlib.suppress(Conflict):
                await self.store.add_check_object("service", host, service)
        found = await self.store.get_check_object(host, service or "")
        assert found is not None
        return found

    # -- results

    async def process_result(
        self,
        host: str,
        service: str | None,
        code: int,
        text: str,
        *,
        ttl: float | None = None,
        now: float | None = None,
    ) -> Transition:
        """Apply a passive result (``code`` already checked); return the state transition."""
        # PerfdataError (a ValueError) for bad perfdata, or too much of it.
        if len(text) <= PARSE_INLINE_CHARS:
            parsed, points = _parsed(text)
        else:
            parsed, points = await asyncio.to_thread(_parsed, text)
        key = (host, service or "")
        async with self._locked(*key):
            for _ in range(SAVE_ATTEMPTS):
                obj = self._known.get(key) or await self.find(host, service,
                                                             create=self.auto_create)  # fmt: skip
                if not obj.passive_checks_enabled:
                    raise ValueError(f"passive checks are disabled for {obj.display_name}")
                at = self.clock() if now is None else now
                transition = apply_result(_state_of(obj), code, at, host=obj.is_host,
                                          max_attempts=obj.max_check_attempts)  # fmt: skip
                acknowledged = obj.acknowledged and not (
                    code == 0 or (not obj.ack_sticky and code != obj.state)
                )
                window = ttl if ttl is not None else obj.freshness_threshold
                due = at + window if (obj.check_freshness or ttl is not None) else None
                after = _with_state(obj, transition.after, parsed.output, parsed.long_output,
                                    parsed.perfdata, acknowledged=acknowledged, stale=False,
                                    ttl=ttl, due=due, version=obj.version)  # fmt: skip
                result = _result_of(after, "passive", ttl)
                # The event is written with the state it reports, in one transaction: a crash
                # cannot leave a hard change without its event (and notification).
                changes = (
                    [self._change("CHECK_HARD_STATE", after, transition, at)]
                    if transition.hard_change
                    else []
                )
                events = [record for _, record in changes if record is not None]
                if await self.store.record_check_result(after, result, points, events=events):
                    self._known[key] = _next_version(after)
                    break
                self._known.pop(key, None)
            else:
                raise StoreUnavailable(f"{host};{service or ''} keeps changing; try again")
            if obj.acknowledged and not acknowledged:
                await self.store.remove_acknowledgement(obj.id, at)
        self._schedule_changed()
        self._tell(changes)
        if transition.before.state == 0 and transition.after.state != 0:
            await self._trigger_flexible(after, at)
        return transition

    async def mark_stale(self, obj: CheckObject, now: float | None = None) -> bool:
        """Record the synthetic result of an object whose result is overdue, once per silence.

        False when a result came meanwhile (the object is no longer due as ``obj`` says)."""
        if obj.fresh_due_at is None:
            return False
        at = self.clock() if now is None else now
        async with self._locked(obj.host_name, obj.service_description):
            code = obj.stale_state
            output = obj.stale_output or stale_message(obj, at)
            transition = apply_result(_state_of(obj), code, at, host=obj.is_host, max_attempts=1)
            after = _with_state(
                obj,
                transition.after,
                output,
                "",
                "",
                acknowledged=obj.acknowledged and code == obj.state,
                stale=True,
                ttl=None,
                due=None,
                version=obj.version,
            )
            changes = [self._change("CHECK_STALE", after, transition, at)]
            if transition.hard_change:
                changes.append(self._change("CHECK_HARD_STATE", after, transition, at))
            saved = await self.store.record_check_result(
                after, _result_of(after, "stale", None), only_if_due_at=obj.fresh_due_at,
                events=[record for _, record in changes if record is not None],
            )  # fmt: skip
            self._forget(obj)
        if saved:
            self._tell(changes)
        return saved

    # -- acknowledgements

    async def acknowledge(
        self,
        obj: CheckObject,
        author: str,
        comment: str,
        *,
        sticky: bool,
        notify: bool,
        persistent: bool,
    ) -> None:
        if obj.state == 0:
            what = "host is UP" if obj.is_host else "service is OK"
            raise ValueError(f"cannot acknowledge {obj.display_name}: the {what}")
        at = self.clock()
        self._forget(obj)
        await self.store.set_acknowledgement(
            obj.id, author, comment, sticky=sticky, notify=notify, persistent=persistent, at=at
        )
        await self._event("ACKNOWLEDGEMENT", obj, None, at, author=author, comment=comment)

    async def remove_acknowledgement(self, obj: CheckObject) -> bool:
        at = self.clock()
        removed = await self.store.remove_acknowledgement(obj.id, at)
        self._forget(obj)
        if removed:
            await self._event("ACKNOWLEDGEMENT_REMOVED", obj, None, at)
        return removed

    # -- downtimes

    async def schedule_downtime(
        self,
        obj: CheckObject,
        author: str,
        comment: str,
        *,
        start_time: float,
        end_time: float,
        fixed: bool,
        duration: float,
    ) -> DowntimeRecord:
        at = self.clock()
        if end_time <= at:
            raise ValueError("end_time is in the past")
        downtime = await self.store.add_downtime(
            obj.id,
            author,
            comment,
            start_time=start_time,
            end_time=end_time,
            fixed=fixed,
            duration=duration,
            at=at,
        )
        if start_time <= at:
            await self.advance_downtime(downtime, at)
        self._schedule_changed()
        return downtime

    async def delete_downtime(self, downtime_id: int, *, host: bool) -> None:
        downtime = await self.store.get_downtime(downtime_id)
        obj = await self._object_of(downtime) if downtime is not None else None
        if downtime is None or downtime.next_at is None or obj is None or obj.is_host != host:
            kind = "host" if host else "service"
            raise UnknownObject(f"no current {kind} downtime with id {downtime_id}")
        at = self.clock()
        started = downtime.started_at is not None
        moved = await self.store.move_downtime(
            downtime,
            started_at=downtime.started_at,
            ended_at=at,
            next_at=None,
            depth_change=-1 if started else 0,
        )
        self._forget(obj)
        if moved and started:
            await self._event(
                "DOWNTIME_END", obj, None, at, downtime_id=downtime.id, cancelled=True
            )

    async def advance_downtime(self, downtime: DowntimeRecord, now: float) -> bool:
        """Act on a downtime whose next moment has come: its start or its end.

        A fixed downtime runs from ``start_time`` to ``end_time``. A flexible one (``fixed``
        false), as in Naemon, waits in its window for the object's first problem and then runs
        for ``duration``; one that is never triggered expires at ``end_time`` unseen."""
        obj = await self._object_of(downtime)
        if obj is None or downtime.next_at is None:
            return False
        if downtime.started_at is None and now < downtime.end_time:
            if downtime.fixed or obj.state != 0:
                return await self._start(obj, downtime, now)
            # Flexible, and no problem yet: wait for one until the window closes.
            end = downtime.end_time
            return await self.store.move_downtime(downtime, started_at=None, ended_at=None,
                                                  next_at=end, depth_change=0)  # fmt: skip
        started = downtime.started_at is not None
        moved = await self.store.move_downtime(downtime, started_at=downtime.started_at,
                                               ended_at=now, next_at=None,
                                               depth_change=-1 if started else 0)  # fmt: skip
        self._forget(obj)
        if moved and started:
            await self._event("DOWNTIME_END", obj, None, now, downtime_id=downtime.id,
                              comment=downtime.comment)  # fmt: skip
        return moved

    async def _start(self, obj: CheckObject, downtime: DowntimeRecord, now: float) -> bool:
        end = downtime.end_time if downtime.fixed else now + downtime.duration
        moved = await self.store.move_downtime(downtime, started_at=now, ended_at=None,
                                               next_at=end, depth_change=1)  # fmt: skip
        self._forget(obj)
        if moved:
            await self._event("DOWNTIME_START", obj, None, now, downtime_id=downtime.id,
                              comment=downtime.comment)  # fmt: skip
            self._schedule_changed()
        return moved

    async def _trigger_flexible(self, obj: CheckObject, now: float) -> None:
        """A problem began: start the object's flexible downtimes waiting in their window."""
        for downtime in await self.store.list_downtimes(obj.id):
            waiting = downtime.started_at is None and downtime.start_time <= now
            if not downtime.fixed and waiting and now < downtime.end_time:
                await self._start(obj, downtime, now)

    async def _object_of(self, downtime: DowntimeRecord) -> CheckObject | None:
        return await self.store.check_object_by_id(downtime.object_id)

    # -- plumbing

    def _forget(self, obj: CheckObject) -> None:
        """Read the object again before its next result (its row changed here)."""
        self._known.pop((obj.host_name, obj.service_description), None)

    def _schedule_changed(self) -> None:
        if self.on_schedule_change is not None:
            self.on_schedule_change()

    @contextlib.asynccontextmanager
    async def _locked(self, host: str, service: str) -> AsyncIterator[None]:
        key = (host, service)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _event(
        self,
        kind: str,
        obj: CheckObject,
        transition: Transition | None,
        at: float,
        **extra: Any,
    ) -> None:
        """Tell the listeners and save the event (a change saved on its own before)."""
        change = self._change(kind, obj, transition, at, **extra)
        self._tell([change])
        _, record = change
        if record is None:
            return
        try:
            await self.store.save_event(record)
        except StoreError as exc:
            log.warning("could not save the %s event of %s: %s", kind, obj.display_name, exc)

    def _tell(self, changes: list[tuple[dict[str, Any], EventRecord | None]]) -> None:
        """The listeners hear of changes once they are saved."""
        for data, _ in changes:
            for listener in self.listeners:
                listener(data)

    def _change(
        self,
        kind: str,
        obj: CheckObject,
        transition: Transition | None,
        at: float,
        **extra: Any,
    ) -> tuple[dict[str, Any], EventRecord | None]:
        """What the listeners hear of a change, and its event record (None: no store)."""
        old = transition.before.state if transition is not None else obj.state
        new = transition.after.state if transition is not None else obj.state
        data: dict[str, Any] = {
            "kind": obj.kind,
            "host": obj.host_name,
            "service": obj.service_description or None,
            "old_state": state_name(old, host=obj.is_host),
            "new_state": state_name(new, host=obj.is_host),
            "output": obj.output,
            "time": at,
            **extra,
        }
        heard = {"event": kind.lower(), "type": kind, **data}
        if self._events_system is None:
            return heard, None
        record = EventRecord(
            id=None,
            system_id=self._events_system,
            begin=at,
            end=at,
            state=data["new_state"],
            type=kind,
            value_max=float(new),
            value_avg=float(new),
            value_min=float(new),
            value_sum=float(new),
            count=1,
            desc=f"{obj.display_name}: {data['old_state']} -> {data['new_state']}",
            data=data,
        )
        return heard, record


def _parsed(text: str) -> tuple[PluginOutput, list[PerfPoint]]:
    """The output and its points, made together (in the thread, for a long one)."""
    parsed = parse_output(text)
    points = [PerfPoint(v.label, v.value, v.uom, v.warn, v.crit, v.min, v.max)
              for v in parsed.values]  # fmt: skip
    return parsed, points


def stale_message(obj: CheckObject, now: float) -> str:
    """``CRITICAL: no result for 3605 s (threshold 3600 s)``."""
    since = obj.last_check if obj.last_check is not None else obj.created_at
    threshold = obj.ttl if obj.ttl is not None else obj.freshness_threshold
    name = state_name(obj.stale_state, host=obj.is_host)
    return f"{name}: no result for {now - since:.0f} s (threshold {threshold:.0f} s)"


def _state_of(obj: CheckObject) -> CheckState:
    return CheckState(
        obj.state,
        obj.state_type,
        obj.attempt,
        obj.last_hard_state,
        obj.last_check or 0.0,
        obj.last_state_change,
        obj.last_hard_state_change,
    )


def _with_state(
    obj: CheckObject,
    state: CheckState,
    output: str,
    long_output: str,
    perfdata: str,
    *,
    acknowledged: bool,
    stale: bool,
    ttl: float | None,
    due: float | None,
    version: int,
) -> CheckObject:
    # Built whole rather than with dataclasses.replace: this runs for every result, and replace
    # (which walks all the fields) was a tenth of the command path's time.
    return CheckObject(
        obj.id,
        obj.kind,
        obj.host_id,
        obj.host_name,
        obj.service_description,
        obj.check_freshness,
        obj.freshness_threshold,
        obj.max_check_attempts,
        obj.stale_state,
        obj.stale_output,
        obj.passive_checks_enabled,
        obj.notes,
        obj.created_at,
        state=state.state,
        state_type=state.state_type,
        attempt=state.attempt,
        output=output,
        long_output=long_output,
        perfdata=perfdata,
        has_been_checked=True,
        last_check=state.last_check,
        last_state_change=state.last_state_change,
        last_hard_state=state.last_hard_state,
        last_hard_state_change=state.last_hard_state_change,
        acknowledged=acknowledged,
        ack_sticky=obj.ack_sticky and acknowledged,
        downtime_depth=obj.downtime_depth,
        is_stale=stale,
        ttl=ttl,
        fresh_due_at=due,
        version=version,
    )


def _next_version(obj: CheckObject) -> CheckObject:
    """``obj`` as its row is once saved: the store counted the save in ``version``."""
    return dataclasses.replace(obj, version=obj.version + 1)


def _result_of(obj: CheckObject, source: str, ttl: float | None) -> CheckResultRecord:
    assert obj.last_check is not None
    return CheckResultRecord(
        None,
        obj.id,
        obj.last_check,
        obj.state,
        obj.state_type,
        obj.attempt,
        obj.output,
        obj.long_output,
        obj.perfdata,
        source,
        ttl,
    )
