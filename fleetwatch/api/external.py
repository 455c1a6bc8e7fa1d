"""TrueCommand's external hooks: ``submit_stats`` and ``submit_alerts`` with a system token.

``curl -u ":$TOKEN" -X PUT --data "$DATA" .../api/external/submit_stats`` is answered
``{"result": "success"}`` only once the snapshot is committed. The token names the system;
the Basic user name is ignored, as TrueCommand does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.routing import Route

from fleetwatch.api import json_body
from fleetwatch.api.asgi import Receive, Scope, Send, send_body, send_json
from fleetwatch.api.errors import ApiError, BadRequest, Forbidden
from fleetwatch.api.guard import Guard, from_store_error
from fleetwatch.api.shapes import handler, truecommand_error
from fleetwatch.engine.bus import EventBus, new_statistics
from fleetwatch.engine.last_seen import LastSeen
from fleetwatch.ingest.normalise import normalise
from fleetwatch.ingest.submit_stats import InvalidDocument, parse_json, validate, validate_alerts
from fleetwatch.store import EventRecord, Store, StoreError

__all__ = ["External", "external_app"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SUCCESS = b'{"result":"success"}'
Evaluate = Callable[[int, dict[str, Any], float], Awaitable[None]]


class External:
    """The hooks as plain ASGI endpoints: no Starlette request or response is built.

    ``Hub.app`` calls ``handle`` straight for ``PUT|POST .../api/external/<hook>``, past the
    site's routing and middleware, as it does for ``/api/4`` and ``/api/command``; the Starlette
    app of ``external_app`` routes the same endpoints for everything else (405, 404, OpenAPI).
    """

    HOOKS = ("submit_stats", "submit_alerts")

    def __init__(
        self,
        guard: Guard,
        store: Store,
        evaluate: Evaluate | None,
        bus: EventBus | None,
        last_seen: LastSeen,
    ) -> None:
        self.guard = guard
        self.store = store
        self.evaluate = evaluate
        self.bus = bus
        self.last_seen = last_seen

    def endpoint(self, hook: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self.handle(scope, receive, send, hook)

        return app

    async def handle(self, scope: Scope, receive: Receive, send: Send, hook: str) -> None:
        """Answer one submission: ``{"result":"success"}`` once it is committed, or
        TrueCommand's error body."""
        try:
            if hook == "submit_stats":
                await self.submit_stats(scope, receive)
            else:
                await self.submit_alerts(scope, receive)
        except (ApiError, StoreError) as exc:
            status, body, headers = truecommand_error(from_store_error(exc))
            await send_json(send, status, body, headers=headers)
            return
        await send_body(send, 200, SUCCESS)

    async def _submission(
        self, scope: Scope, receive: Receive, check: Callable[[Any], T]
    ) -> tuple[str, int, T]:
        """The submitting system (name, id) and its checked document."""
        principal = await self.guard.scope_principal(scope)
        if principal.kind != "system" or principal.system_id is None:
            raise Forbidden('a system token (curl -u ":$TOKEN")')
        try:
            body = await self.guard.read_body(scope, receive)
            parsed = parse_json(body)
            json_body.check_json(parsed, body)
            document = check(parsed)
        except InvalidDocument as exc:
            raise BadRequest(str(exc)) from None
        return principal.name, principal.system_id, document

    async def submit_stats(self, scope: Scope, receive: Receive) -> None:
        name, system_id, document = await self._submission(scope, receive, validate)
        stats = normalise(document)
        now = time.time()
        # The snapshot is the one write the reply acknowledges: refused (503) means nothing is
        # stored. last_seen is derived bookkeeping, updated after it without holding the reply,
        # coalesced with other systems' into one write a moment later.
        await self.store.add_snapshot(system_id, now, document, stats, "push")
        self.last_seen.seen(system_id, now, document["hostname"])
        if self.bus is not None:
            self.bus.publish(new_statistics(name, system_id, document, stats))
        if self.evaluate is not None:
            await self.evaluate(system_id, stats, now)

    async def submit_alerts(self, scope: Scope, receive: Receive) -> None:
        _, system_id, alerts = await self._submission(scope, receive, validate_alerts)
        now = time.time()
        known = {e.type: e for e in await self.store.list_events(system_id=system_id, limit=1000)}
        saves = [
            self.store.save_event(alert_event(system_id, alert_id, alert, now, known))
            for alert_id, alert in alerts.items()
        ]
        await asyncio.gather(*saves)


def alert_event(
    system_id: int, alert_id: str, alert: dict[str, Any], now: float, known: dict[str, EventRecord]
) -> EventRecord:
    """One hub event per alert id: a repeated id updates it and records each submission."""
    kind = f"ALERT_{alert_id}"
    state = str(alert["type"]).upper()
    when = float(alert["time_t"])
    previous = known.get(kind)
    submissions = [*(previous.data.get("submissions", []) if previous else []), now]
    data = {"alert_id": alert_id, "source": alert["source"], "submissions": submissions}
    if previous is None:
        return EventRecord(
            id=None, system_id=system_id, begin=when, end=-1, state=state, type=kind,
            value_max=when, value_avg=when, value_min=when, value_sum=when, count=1,
            desc=str(alert["text"]), sort=str(alert["source"]), data=data,
        )  # fmt: skip
    return replace(
        previous, state=state, desc=str(alert["text"]), count=previous.count + 1,
        value_max=max(previous.value_max, when), value_min=min(previous.value_min, when),
        value_sum=previous.value_sum + when,
        value_avg=(previous.value_sum + when) / (previous.count + 1), data=data,
    )  # fmt: skip


def external_app(
    guard: Guard,
    store: Store,
    evaluate: Evaluate | None = None,
    bus: EventBus | None = None,
    last_seen: LastSeen | None = None,
) -> tuple[External, Starlette]:
    """The hooks' endpoints, and their app to be mounted at ``{prefix}/api/external``."""
    api = External(guard, store, evaluate, bus, last_seen or LastSeen(store))
    routes = [Route(f"/{hook}", api.endpoint(hook), methods=["PUT", "POST"]) for hook in api.HOOKS]
    render = handler(truecommand_error)
    app = Starlette(routes=routes, exception_handlers={ApiError: render, StoreError: render})
    return api, app
