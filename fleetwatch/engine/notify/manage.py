"""Managing channels and rules: what the CLI, the API and the TOML file share.

Each change is checked here (a bad key is a ``ValueError`` naming it), written to the store and
recorded in the audit trail. Lists never show a channel's URL or secret: a channel's URL is
shown masked (``tgram://***``), and a webhook's secret only once, when it is made.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fleetwatch.engine.notify.channels import (
    ChannelError,
    Senders,
    SendResult,
    check_url,
    delivery_for_test,
    is_webhook,
    mask_url,
    new_secret,
)
from fleetwatch.engine.notify.rules import Rule, RuleError, parse_rule
from fleetwatch.store.base import Store
from fleetwatch.store.errors import Conflict
from fleetwatch.store.notify import ChannelRecord

__all__ = ["ChannelSpec", "NotifyAdmin", "channel_json"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_SECRET = 200
MAX_CHANNELS = 200
MAX_RULES = 500


class Actor(Protocol):
    """Who makes a change, for the audit trail (``auth.admin.Actor``)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as the TOML file declares it."""

    name: str
    url: str
    secret: str = ""


def channel_json(channel: ChannelRecord) -> dict[str, Any]:
    return {
        "name": channel.name,
        "kind": "webhook" if is_webhook(channel.url) else "apprise",
        "url": mask_url(channel.url),
        "origin": channel.origin,
        "createdAt": channel.created_at,
    }


def check_channel(name: Any, url: Any, secret: Any = "") -> ChannelSpec:
    """``ValueError`` naming the bad key: ``name``, ``url`` or ``secret``."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError("name must be 1-64 letters, digits, '_', '.' or '-'")
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    try:
        check_url(url)
    except ChannelError as exc:
        raise ValueError(f"url {exc}") from None
    if not isinstance(secret, str) or len(secret) > MAX_SECRET:
        raise ValueError(f"secret must be a string of at most {MAX_SECRET} characters")
    if secret and not is_webhook(url):
        raise ValueError("secret is for webhook+http(s):// channels only")
    return ChannelSpec(name, url, secret)


class NotifyAdmin:
    def __init__(self, store: Store, senders: Senders | None = None) -> None:
        self.store = store
        self.senders = senders

    # -- channels

    async def add_channel(
        self, actor: Actor, name: Any, url: Any, secret: Any = ""
    ) -> tuple[ChannelRecord, str]:
        """Add a channel; returns it and its signing secret (generated for a webhook when not
        given), the one time it is shown."""
        spec = check_channel(name, url, secret)
        if len(await self.store.list_channels()) >= MAX_CHANNELS:
            raise ValueError(f"name: there are {MAX_CHANNELS} channels already, the most kept")
        secret = spec.secret or (new_secret() if is_webhook(spec.url) else "")
        try:
            channel = await self.store.add_channel(spec.name, spec.url, secret, origin="api")
        except Conflict:
            raise ValueError(f"name {spec.name!r} is taken by another channel") from None
        await self._audit(actor, "notify.channel.add", spec.name, mask_url(spec.url))
        return channel, secret

    async def list_channels(self) -> list[dict[str, Any]]:
        return [channel_json(c) for c in await self.store.list_channels()]

    async def remove_channel(self, actor: Actor, name: str) -> bool:
        users = [r.name for r in await self._rules() if name in r.channels + r.escalate_to]
        if users:
            raise ValueError(f"name {name!r} is used by rule {users[0]!r}; remove that first")
        removed = await self.store.remove_channel(name)
        if removed:
            await self._audit(actor, "notify.channel.remove", name)
        return removed

    async def test_channel(self, name: str, now: float) -> SendResult:
        """Send a test message on ``name`` now; ``LookupError`` if there is none."""
        channel = next((c for c in await self.store.list_channels() if c.name == name), None)
        if channel is None:
            raise LookupError(f"no channel named {name!r}")
        senders = self.senders or Senders()
        try:
            async with asyncio.timeout(senders.timeout + 5):
                return await senders.send(channel, delivery_for_test(channel, now))
        except TimeoutError:
            return SendResult(False, None, f"no answer within {senders.timeout:g} s")
        finally:
            if self.senders is None:
                await senders.close()

    # -- rules

    async def add_rule(self, actor: Actor, spec: Any) -> Rule:
        rule = await self.check_rule(spec)
        if len(await self.store.list_rules()) >= MAX_RULES:
            raise ValueError(f"name: there are {MAX_RULES} rules already, the most kept")
        try:
            await self.store.add_rule(rule.name, rule.spec(), origin="api")
        except Conflict:
            raise ValueError(f"name {rule.name!r} is taken by another rule") from None
        await self._audit(actor, "notify.rule.add", rule.name, ",".join(rule.channels))
        return rule

    async def check_rule(self, spec: Any, channels: Sequence[str] | None = None) -> Rule:
        """The rule ``spec`` describes, naming only channels that exist (or ``channels``)."""
        try:
            rule = parse_rule(spec)
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        known = (
            set(channels)
            if channels is not None
            else {c.name for c in await self.store.list_channels()}
        )
        for key, names in (("channels", rule.channels), ("escalate_to", rule.escalate_to)):
            missing = [n for n in names if n not in known]
            if missing:
                raise ValueError(f"{key} names no channel {missing[0]!r}")
        return rule

    async def list_rules(self) -> list[dict[str, Any]]:
        records = await self.store.list_rules()
        return [{**r.spec, "name": r.name, "origin": r.origin, "createdAt": r.created_at}
                for r in records]  # fmt: skip

    async def remove_rule(self, actor: Actor, name: str) -> bool:
        removed = await self.store.remove_rule(name)
        if removed:
            await self._audit(actor, "notify.rule.remove", name)
        return removed

    # -- the TOML file's

    async def apply_config(self, channels: Sequence[ChannelSpec], rules: Sequence[Rule]) -> None:
        """Make the store hold the file's channels and rules (origin ``config``): added,
        updated, and those no longer in the file removed."""
        for channel in channels:
            await self.store.replace_channel(channel.name, channel.url, channel.secret,
                                             origin="config")  # fmt: skip
        for rule in rules:
            await self.store.replace_rule(rule.name, rule.spec(), origin="config")
        keep_rules = {r.name for r in rules}
        for record in await self.store.list_rules():
            if record.origin == "config" and record.name not in keep_rules:
                await self.store.remove_rule(record.name)
        keep_channels = {c.name for c in channels}
        for channel_record in await self.store.list_channels():
            if channel_record.origin == "config" and channel_record.name not in keep_channels:
                await self.store.remove_channel(channel_record.name)

    async def _rules(self) -> list[Rule]:
        out = []
        for record in await self.store.list_rules():
            try:
                out.append(parse_rule({**record.spec, "name": record.name}))
            except RuleError:
                continue
        return out

    async def _audit(self, actor: Actor, action: str, target: str, detail: str = "") -> None:
        await self.store.add_audit(actor.name, actor.address, action, target, detail)
