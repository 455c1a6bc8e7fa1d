"""``/api/v1/notifications.*``: channels, rules and deliveries, Rocket.Chat style.

Managing channels and rules needs ``manage-notifications``; reading deliveries ``view-events``.
A channel's URL is only ever shown masked (``tgram://***``); a webhook's signing secret is in
the answer to ``notifications.channels.create`` and nowhere else, ever.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetwatch.api.errors import BadRequest, NotFound
from fleetwatch.api.guard import Guard, actor, checked, text_field
from fleetwatch.auth.permissions import MANAGE_NOTIFICATIONS, VIEW_EVENTS
from fleetwatch.engine.notify.manage import NotifyAdmin, channel_json
from fleetwatch.store.notify import AttemptRecord, DeliveryRecord

__all__ = ["NotificationsAPI", "notification_routes"]

STATUSES = ("pending", "sending", "sent", "failed")
MAX_OFFSET = 1_000_000


def ok(**data: Any) -> JSONResponse:
    return JSONResponse({**data, "success": True})


def delivery_json(delivery: DeliveryRecord, attempts: list[AttemptRecord]) -> dict[str, Any]:
    return {
        "_id": str(delivery.id), "channel": delivery.channel_name, "rule": delivery.rule_name,
        "phase": delivery.phase, "status": delivery.status, "title": delivery.title,
        "createdAt": delivery.created_at, "nextAttemptAt": delivery.due_at
        if delivery.status in ("pending", "sending") else None,
        "finishedAt": delivery.finished_at, "lastError": delivery.last_error,
        "idempotencyKey": delivery.idempotency_key,
        "attempts": [
            {"at": a.at, "outcome": a.outcome, "statusCode": a.status_code,
             "detail": a.detail, "seconds": a.seconds}
            for a in attempts
        ],
    }  # fmt: skip


class NotificationsAPI:
    def __init__(self, guard: Guard, admin: NotifyAdmin, *, default_count: int = 50,
                 max_count: int = 100) -> None:  # fmt: skip
        self.guard = guard
        self.admin = admin
        self.default_count = default_count
        self.max_count = max_count

    async def channels_list(self, request: Request) -> Response:
        """Channels, their URLs masked (manage-notifications)."""
        await self.guard.require(request, MANAGE_NOTIFICATIONS)
        channels = await self.admin.list_channels()
        return ok(channels=channels, count=len(channels), offset=0, total=len(channels))

    async def channels_create(self, request: Request) -> Response:
        """Add a channel (name, url, secret); a webhook's secret is answered once."""
        by = await self.guard.require(request, MANAGE_NOTIFICATIONS)
        fields = await self.guard.fields(request)
        name, url = text_field(fields, "name"), text_field(fields, "url")
        secret = text_field(fields, "secret", required=False) or ""
        channel, secret = await checked(self.admin.add_channel(actor(by, request), name, url,
                                                               secret))  # fmt: skip
        body: dict[str, Any] = {"channel": channel_json(channel)}
        if secret:
            body["secret"] = secret  # shown this once
        return ok(**body)

    async def channels_delete(self, request: Request) -> Response:
        """Remove a channel (name); refused while a rule sends to it."""
        by = await self.guard.require(request, MANAGE_NOTIFICATIONS)
        name = text_field(await self.guard.fields(request), "name")
        if not await checked(self.admin.remove_channel(actor(by, request), name)):
            raise NotFound(f"no channel named {name!r}")
        return ok()

    async def channels_test(self, request: Request) -> Response:
        """Send a test message on a channel (name) now; the receiver's answer."""
        await self.guard.require(request, MANAGE_NOTIFICATIONS)
        name = text_field(await self.guard.fields(request), "name")
        try:
            result = await self.admin.test_channel(name, time.time())
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        return ok(sent=result.ok, statusCode=result.status_code, detail=result.detail)

    async def rules_list(self, request: Request) -> Response:
        """Rules, with their keys."""
        await self.guard.require(request, MANAGE_NOTIFICATIONS)
        rules = await self.admin.list_rules()
        return ok(rules=rules, count=len(rules), offset=0, total=len(rules))

    async def rules_create(self, request: Request) -> Response:
        """Add a rule (its keys: name, channels, kinds, severities, ...)."""
        by = await self.guard.require(request, MANAGE_NOTIFICATIONS)
        fields = await self.guard.fields(request)
        rule = await checked(self.admin.add_rule(actor(by, request), fields))
        return ok(rule=rule.spec())

    async def rules_delete(self, request: Request) -> Response:
        """Remove a rule (name)."""
        by = await self.guard.require(request, MANAGE_NOTIFICATIONS)
        name = text_field(await self.guard.fields(request), "name")
        if not await self.admin.remove_rule(actor(by, request), name):
            raise NotFound(f"no rule named {name!r}")
        return ok()

    async def deliveries_list(self, request: Request) -> Response:
        """Deliveries, newest first, with every attempt (count, offset, status)."""
        await self.guard.require(request, VIEW_EVENTS)
        query = request.query_params
        count = self._number(query.get("count"), "count", self.default_count, self.max_count)
        offset = self._number(query.get("offset"), "offset", 0, MAX_OFFSET)
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
        store = self.admin.store
        rows, total = await store.list_deliveries(count=count, offset=offset, status=status)
        attempts = await store.delivery_attempts([d.id for d in rows])
        by_delivery: dict[int, list[AttemptRecord]] = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        deliveries = [delivery_json(d, by_delivery.get(d.id, [])) for d in rows]
        return ok(deliveries=deliveries, count=len(deliveries), offset=offset, total=total)

    @staticmethod
    def _number(value: str | None, name: str, default: int, largest: int) -> int:
        if value is None or value == "":
            return default
        if not value.isdigit() or int(value) > largest:
            raise BadRequest(f"{name} must be a whole number from 0 to {largest}")
        return int(value)


def notification_routes(api: NotificationsAPI) -> list[Route]:
    """Routes to add to the ``/api/v1`` family."""
    get, post = ["GET"], ["POST"]
    return [
        Route("/notifications.channels.list", api.channels_list, methods=get),
        Route("/notifications.channels.create", api.channels_create, methods=post),
        Route("/notifications.channels.delete", api.channels_delete, methods=post),
        Route("/notifications.channels.test", api.channels_test, methods=post),
        Route("/notifications.rules.list", api.rules_list, methods=get),
        Route("/notifications.rules.create", api.rules_create, methods=post),
        Route("/notifications.rules.delete", api.rules_delete, methods=post),
        Route("/notifications.deliveries.list", api.deliveries_list, methods=get),
    ]
