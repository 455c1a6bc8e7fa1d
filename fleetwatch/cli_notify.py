"""``fleetwatch notify channel|rule|test ...``: manage notifications, hub running or not.

Like the other admin commands, each opens the store as ``serve`` would, does one thing through
``engine.notify.manage.NotifyAdmin`` and closes it. A webhook's new signing secret goes alone
to stdout, the one time it is shown; lists never show a channel's URL unmasked.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from fleetwatch.cli_admin import fail, run, store_options

if TYPE_CHECKING:
    from fleetwatch.auth.admin import Actor, Admin

__all__ = ["notify"]


@click.group()
def notify() -> None:
    """Notification channels and rules, and test messages."""


@notify.group()
def channel() -> None:
    """Where messages go: Apprise URLs and signed webhooks."""


@notify.group()
def rule() -> None:
    """Which events go to which channels, and when."""


def _admin(admin: Admin) -> Any:
    from fleetwatch.engine.notify.manage import NotifyAdmin  # noqa: PLC0415

    return NotifyAdmin(admin.store)


@channel.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--secret", help="A webhook's signing secret (default: a new random one).")
@store_options
def channel_add(name: str, url: str, secret: str | None, **opts: Any) -> None:
    """Add channel NAME: an Apprise URL, or webhook+https://host/path for the signed webhook.

    A webhook's signing secret is printed alone on stdout, this once."""

    async def action(admin: Admin, actor: Actor) -> str:
        _, shown = await _admin(admin).add_channel(actor, name, url, secret or "")
        return str(shown)

    shown = run(opts, action)
    click.echo(f"channel {name} added", err=True)
    if shown:
        click.echo(shown)


@channel.command("list")
@store_options
def channel_list(**opts: Any) -> None:
    """Channels, their URLs masked."""

    async def action(admin: Admin, actor: Actor) -> list[dict[str, Any]]:
        channels: list[dict[str, Any]] = await _admin(admin).list_channels()
        return channels

    for item in run(opts, action):
        click.echo(f"{item['name']}\t{item['kind']}\t{item['url']}\t{item['origin']}")


@channel.command("remove")
@click.argument("name")
@store_options
def channel_remove(name: str, **opts: Any) -> None:
    """Remove channel NAME (refused while a rule sends to it)."""

    async def action(admin: Admin, actor: Actor) -> bool:
        return bool(await _admin(admin).remove_channel(actor, name))

    if not run(opts, action):
        fail(f"no channel named {name!r}")


@rule.command("add")
@click.argument("name")
@click.option("--channel", "channels", multiple=True, required=True, help="Send to (repeat).")
@click.option("--kind", "kinds", multiple=True, help="threshold, stale, alert, check, ...")
@click.option("--severity", "severities", multiple=True,
              help="WARNING, CRITICAL, recovery or info (repeat).")  # fmt: skip
@click.option("--system", "systems", multiple=True, help="System name glob (repeat).")
@click.option("--host", "hosts", multiple=True, help="Host name glob (repeat).")
@click.option("--service", "services", multiple=True, help="Service name glob (repeat).")
@click.option("--tag", "tags", multiple=True, help="Object tag (repeat): any of them matches.")
@click.option("--min-duration", help="Wait this long before the first message (90s, 5m).")
@click.option("--repeat", help="Remind every so often while unacknowledged (minutes, or 2h).")
@click.option("--escalate-after", help="Also tell --escalate-to after this long (minutes).")
@click.option("--escalate-to", multiple=True, help="Channel to escalate to (repeat).")
@click.option("--title", help="Title template (Jinja2, sandboxed).")
@click.option("--body", help="Body template (Jinja2, sandboxed).")
@store_options
def rule_add(name: str, **opts: Any) -> None:
    """Add rule NAME."""
    spec: dict[str, Any] = {"name": name}
    for key in ("channels", "kinds", "severities", "systems", "hosts", "services", "tags",
                "escalate_to"):  # fmt: skip
        if opts.get(key):
            spec[key] = list(opts.pop(key))
        else:
            opts.pop(key, None)
    for key in ("min_duration", "repeat", "escalate_after", "title", "body"):
        value = opts.pop(key, None)
        if value is not None:
            spec[key] = value

    async def action(admin: Admin, actor: Actor) -> None:
        await _admin(admin).add_rule(actor, spec)

    run(opts, action)
    click.echo(f"rule {name} added", err=True)


@rule.command("list")
@store_options
def rule_list(**opts: Any) -> None:
    """Rules, one a line: name, channels, what they match."""

    async def action(admin: Admin, actor: Actor) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = await _admin(admin).list_rules()
        return rules

    for item in run(opts, action):
        match = ",".join(item["kinds"]) + " " + ",".join(item["severities"])
        timing = f"min {item['min_duration']:g}s repeat {item['repeat']:g}m"
        click.echo(f"{item['name']}\t{','.join(item['channels'])}\t{match}\t{timing}")


@rule.command("remove")
@click.argument("name")
@store_options
def rule_remove(name: str, **opts: Any) -> None:
    """Remove rule NAME."""

    async def action(admin: Admin, actor: Actor) -> bool:
        return bool(await _admin(admin).remove_rule(actor, name))

    if not run(opts, action):
        fail(f"no rule named {name!r}")


@notify.command("test")
@click.argument("name")
@store_options
def test(name: str, **opts: Any) -> None:
    """Send a test message on channel NAME now and print the receiver's answer.

    Exit status 0 when it was accepted, 2 when not."""

    async def action(admin: Admin, actor: Actor) -> Any:
        try:
            return await _admin(admin).test_channel(name, time.time())
        except LookupError as exc:
            raise ValueError(str(exc)) from None

    result = run(opts, action)
    status = f"HTTP {result.status_code}" if result.status_code is not None else "answer"
    click.echo(f"{'sent' if result.ok else 'not sent'}: {status}: {result.detail}")
    if not result.ok:
        sys.exit(2)


@notify.command("worker")
@store_options
def worker(**opts: Any) -> None:
    """Dispatch and deliver notifications in the foreground until SIGTERM or Ctrl-C.

    For hubs run with notify.worker = "off": this process does their delivery (several may
    run on one PostgreSQL database; each delivery is still sent once)."""
    import asyncio  # noqa: PLC0415
    import logging  # noqa: PLC0415

    from fleetwatch.config import ConfigError, load_config  # noqa: PLC0415
    from fleetwatch.engine.notify.child import loop_factory, main_async  # noqa: PLC0415
    from fleetwatch.engine.notify.process import DeliverySettings  # noqa: PLC0415
    from fleetwatch.store.errors import StoreError  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request URLs may hold tokens
    try:
        config = load_config(
            opts.get("config_path"),
            flags={
                ("storage", "data_dir"): str(opts["data_dir"]) if opts.get("data_dir") else None,
                ("storage", "database"): opts.get("database"),
            },
        )
        settings = DeliverySettings.from_config(config)
    except (ConfigError, ValueError, OSError) as exc:
        fail(str(exc))
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main_async(settings, watch_parent=False))
    except StoreError as exc:
        fail(f"cannot open the store {config.database}: {exc}")
