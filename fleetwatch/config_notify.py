"""Channels and rules declared in the TOML config, as ``[[notify.channels]]`` and
``[[notify.rules]]`` tables::

    [[notify.channels]]
    name = "ops-phone"
    url = "ntfy://ntfy.example.com/ops"          # any Apprise URL

    [[notify.channels]]
    name = "pager"
    url = "webhook+https://pager.example.com/hook"
    secret = "a-long-random-string"               # signs each POST (HMAC-SHA256)

    [[notify.rules]]
    name = "critical-to-phone"
    channels = ["ops-phone"]
    severities = ["CRITICAL", "recovery"]
    min_duration = "2m"
    repeat = 30                                   # minutes
    escalate_after = 60                           # minutes
    escalate_to = ["pager"]

Each table is checked key by key at load time, an error is one line naming the table and the
key (``notify.rules[2]: repeat must be ...``). The hub makes the store hold exactly the file's
channels and rules at start (those made with the CLI or the API are left alone). Arrays of
tables have no environment-variable form: declare them in the file.
"""

from __future__ import annotations

from typing import Any

from fleetwatch.engine.notify.manage import ChannelSpec, check_channel
from fleetwatch.engine.notify.rules import Rule, RuleError, parse_rule

__all__ = ["CHANNEL_KEYS", "parse_channels", "parse_rules"]

CHANNEL_KEYS = ("name", "url", "secret")


def _tables(tables: Any, where: str, key: str) -> list[dict[str, Any]]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{where} must be an array of tables ([[notify.{key}]])")
    return tables


def parse_channels(tables: Any, origin: str) -> list[ChannelSpec]:
    where = f"{origin}: notify.channels"
    out: list[ChannelSpec] = []
    for number, table in enumerate(_tables(tables, where, "channels"), start=1):
        unknown = [k for k in table if k not in CHANNEL_KEYS]
        if unknown:
            raise ValueError(f"{where}[{number}]: unknown key {unknown[0]!r}")
        for required in ("name", "url"):
            if required not in table:
                raise ValueError(f"{where}[{number}]: {required} is required")
        try:
            spec = check_channel(table["name"], table["url"], table.get("secret", ""))
        except ValueError as exc:
            raise ValueError(f"{where}[{number}]: {exc}") from None
        if spec.url.startswith("webhook+") and not spec.secret:
            raise ValueError(f"{where}[{number}]: secret is required for a webhook channel")
        if any(c.name == spec.name for c in out):
            raise ValueError(f"{where}[{number}]: channel {spec.name!r} is declared twice")
        out.append(spec)
    return out


def parse_rules(tables: Any, origin: str) -> list[Rule]:
    where = f"{origin}: notify.rules"
    out: list[Rule] = []
    for number, table in enumerate(_tables(tables, where, "rules"), start=1):
        try:
            rule = parse_rule(table)
        except RuleError as exc:
            raise ValueError(f"{where}[{number}]: {exc}") from None
        if any(r.name == rule.name for r in out):
            raise ValueError(f"{where}[{number}]: rule {rule.name!r} is declared twice")
        out.append(rule)
    return out
