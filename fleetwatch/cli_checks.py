"""``fleetwatch host|service ...`` (check objects in the store) and ``fleetwatch report``.

``host`` and ``service`` open the store like the identity commands (``--data-dir``,
``--database``, ``--config``), next to a running hub or not. ``report`` is the passive-result
client of the OP5 guide's backup script, in place of its ``update-status.py``: the same flags,
exit 0 when the hub accepted the result and 2 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from fleetwatch.cli_admin import run, say, store_options, table, when
from fleetwatch.store.checks import MAX_CHECK_ATTEMPTS

__all__ = ["host", "report", "service"]

DEFAULT_PORT = 61208
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN", "UP", "DOWN", "UNREACHABLE")


def _state(code: int, is_host: bool) -> str:
    names = ("UP", "DOWN", "UNREACHABLE") if is_host else ("OK", "WARNING", "CRITICAL", "UNKNOWN")
    return names[code] if 0 <= code < len(names) else str(code)


# -- hosts


@click.group()
def host() -> None:
    """Hosts that passive check results are reported for."""


@host.command("add")
@click.argument("name")
@click.option("--freshness", type=float, metavar="SECONDS",
              help="Mark the host DOWN when no result came for this long.")  # fmt: skip
@click.option("--notes", default="", help="Free text shown with the host.")
@store_options
def host_add(name: str, freshness: float | None, notes: str, **opts: Any) -> None:
    """Add a host."""
    run(opts, lambda admin, _: admin.store.add_check_object(
        "host", name, freshness_threshold=freshness, notes=notes))  # fmt: skip
    say(f"added host {name}")


@host.command("list")
@store_options
def host_list(**opts: Any) -> None:
    """Every host with its state."""
    hosts = run(opts, lambda admin, _: admin.store.list_check_objects("host"))
    rows: list[tuple[str, ...]] = [("NAME", "STATE", "LAST CHECK", "OUTPUT")]
    rows += [(h.host_name, _shown_state(h.state, h.has_been_checked, True),
              when(h.last_check), h.output) for h in hosts]  # fmt: skip
    table(rows)


@host.command("remove")
@click.argument("name")
@store_options
def host_remove(name: str, **opts: Any) -> None:
    """Remove a host with its services and their history."""

    async def remove(store: Any) -> None:
        if not await store.remove_check_object(name):
            raise ValueError(f"no host named {name!r}")

    run(opts, lambda admin, _: remove(admin.store))
    say(f"removed host {name}")


# -- services


@click.group()
def service() -> None:
    """Services of hosts, updated by passive check results."""


@service.command("add")
@click.argument("host_name", metavar="HOST")
@click.argument("description", metavar="SERVICE")
@click.option("--freshness", type=float, metavar="SECONDS",
              help="Mark the service CRITICAL when no result came for this long.")  # fmt: skip
@click.option("--max-attempts", type=click.IntRange(1, MAX_CHECK_ATTEMPTS), default=1,
              show_default=True,
              help="Problem results in a row before the state is HARD.")  # fmt: skip
@click.option("--notes", default="", help="Free text shown with the service.")
@store_options
def service_add(host_name: str, description: str, freshness: float | None, max_attempts: int,
                notes: str, **opts: Any) -> None:  # fmt: skip
    """Add a service (and its host, if it is new)."""

    async def add(store: Any) -> None:
        from fleetwatch.store import Conflict  # noqa: PLC0415

        if await store.get_check_object(host_name) is None:
            try:
                await store.add_check_object("host", host_name)
                say(f"added host {host_name}")
            except Conflict:
                pass  # added meanwhile
        await store.add_check_object("service", host_name, description,
                                     freshness_threshold=freshness,
                                     max_check_attempts=max_attempts, notes=notes)  # fmt: skip

    run(opts, lambda admin, _: add(admin.store))
    say(f"added service {description!r} on {host_name}")


@service.command("list")
@click.option("--host", "host_name", help="Only this host's services.")
@store_options
def service_list(host_name: str | None, **opts: Any) -> None:
    """Every service with its state."""
    found = run(opts, lambda admin, _: admin.store.list_check_objects(
        "service", host_name=host_name))  # fmt: skip
    rows: list[tuple[str, ...]] = [("HOST", "SERVICE", "STATE", "FRESHNESS", "LAST CHECK",
                                    "OUTPUT")]  # fmt: skip
    for s in found:
        fresh = f"{s.freshness_threshold:g}s" if s.check_freshness else "-"
        state = _shown_state(s.state, s.has_been_checked, False)
        if s.state_type == "SOFT":
            state += f" (soft {s.attempt}/{s.max_check_attempts})"
        rows.append((s.host_name, s.service_description, state, fresh, when(s.last_check),
                     s.output))  # fmt: skip
    table(rows)


@service.command("remove")
@click.argument("host_name", metavar="HOST")
@click.argument("description", metavar="SERVICE")
@store_options
def service_remove(host_name: str, description: str, **opts: Any) -> None:
    """Remove a service with its history."""

    async def remove(store: Any) -> None:
        if not await store.remove_check_object(host_name, description):
            raise ValueError(f"no service {description!r} on host {host_name!r}")

    run(opts, lambda admin, _: remove(admin.store))
    say(f"removed service {description!r} on {host_name}")


@host.command("tag")
@click.argument("name")
@click.argument("tags", nargs=-1, required=True)
@store_options
def host_tag(name: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Add tags to a host; prints its tags."""
    click.echo(" ".join(run(opts, lambda admin, _: admin.store.tag_check_object(name, add=tags))))


@host.command("untag")
@click.argument("name")
@click.argument("tags", nargs=-1, required=True)
@store_options
def host_untag(name: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Remove tags from a host; prints the tags it keeps."""
    found = run(opts, lambda admin, _: admin.store.tag_check_object(name, remove=tags))
    click.echo(" ".join(found))


@service.command("tag")
@click.argument("host_name", metavar="HOST")
@click.argument("description", metavar="SERVICE")
@click.argument("tags", nargs=-1, required=True)
@store_options
def service_tag(host_name: str, description: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Add tags to a service; prints its tags."""
    found = run(opts, lambda a, _: a.store.tag_check_object(host_name, description, add=tags))
    click.echo(" ".join(found))


@service.command("untag")
@click.argument("host_name", metavar="HOST")
@click.argument("description", metavar="SERVICE")
@click.argument("tags", nargs=-1, required=True)
@store_options
def service_untag(host_name: str, description: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Remove tags from a service; prints the tags it keeps."""
    found = run(opts, lambda a, _: a.store.tag_check_object(host_name, description, remove=tags))
    click.echo(" ".join(found))


def _shown_state(code: int, checked: bool, is_host: bool) -> str:
    return _state(code, is_host) if checked else "PENDING"


# -- report


STATES_HELP = "OK, WARNING, CRITICAL, UNKNOWN (a service), UP, DOWN, UNREACHABLE (a host) or 0-3"


def hub_url(value: str) -> str:
    """A URL as it is; ``host`` or ``host:port`` means HTTPS on port 61208 by default."""
    value = value.strip().rstrip("/")
    if "://" in value:
        return value
    if value.startswith("[") and "]" in value:  # [v6] or [v6]:port
        address, _, port = value[1:].partition("]")
        return f"https://[{address}]:{port.lstrip(':') or DEFAULT_PORT}"
    name, colon, port = value.partition(":")
    return f"https://{name}:{port if colon else DEFAULT_PORT}"


def _give_up(message: str) -> NoReturn:
    click.echo(f"fleetwatch report: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option(
    "-M",
    "--monitor",
    "hub",
    required=True,
    metavar="HUB",
    help="The hub: a URL, or host[:port] meaning https on 61208.",
)
@click.option("-u", "--user", required=True, help="User name.")
@click.option(
    "-p",
    "--password",
    envvar="FLEETWATCH_PASSWORD",
    required=True,
    help="Password (or FLEETWATCH_PASSWORD).",
)
@click.option("-H", "--host", "host_name", required=True, help="Host name.")
@click.option("-S", "--service", "description", help="Service; omit for a host result.")
@click.option("-m", "--message", default="", help="Plugin output (text after | is perfdata).")
@click.option(
    "-s",
    "--state",
    required=True,
    help=f"{STATES_HELP}.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the hub's TLS certificate.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds.")
def report(hub: str, user: str, password: str, host_name: str, description: str | None,
           message: str, state: str, insecure: bool, timeout: float) -> None:  # fmt: skip
    """Report a passive check result to the hub (exit 0 accepted, 2 not)."""
    import httpx  # noqa: PLC0415 - keeps `fleetwatch --help` fast

    from fleetwatch.engine.checkstate import BadStatusCode, parse_status_code  # noqa: PLC0415

    try:
        code = parse_status_code(state, host=description is None)
    except BadStatusCode as exc:
        if not state.strip().lstrip("-").isdigit():  # an unknown name: every state, as --help
            _give_up(f"the state must be one of {STATES_HELP}, not {state!r}")
        _give_up(str(exc).replace("status_code", "the state"))
    body: dict[str, Any] = {"host_name": host_name, "status_code": code, "plugin_output": message}
    command = "PROCESS_HOST_CHECK_RESULT"
    if description is not None:
        body["service_description"] = description
        command = "PROCESS_SERVICE_CHECK_RESULT"
    url = f"{hub_url(hub)}/api/command/{command}"
    try:
        response = httpx.post(url, json=body, auth=(user, password), verify=not insecure,
                              timeout=timeout)  # fmt: skip
    except httpx.TimeoutException:
        _give_up(f"the hub at {url} did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        plain = _plain_http(url, timeout) if isinstance(exc, httpx.ConnectError) else None
        if plain is not None:
            _give_up(f"the hub at {url.partition('/api/')[0]} serves plain HTTP, not HTTPS: "
                     f"use -M {plain}")  # fmt: skip
        _give_up(f"cannot reach the hub at {url}: {exc}")
    if response.status_code == 200:
        return
    _give_up(_reason(response, host_name, description))


def _plain_http(url: str, timeout: float) -> str | None:
    """``http://host:port`` when an HTTPS ``url`` failed because the hub speaks plain HTTP
    (``make serve``'s default): one GET of its status route over HTTP tells."""
    import httpx  # noqa: PLC0415

    if not url.startswith("https://"):
        return None
    base = "http://" + url.removeprefix("https://").partition("/api/")[0]
    try:
        answer = httpx.get(f"{base}/api/4/status", timeout=timeout)
    except httpx.HTTPError:
        return None
    return base if answer.status_code == 200 else None


def _reason(response: Any, host_name: str, description: str | None) -> str:
    try:
        detail = str(response.json().get("full_error") or response.json().get("error"))
    except (ValueError, AttributeError):
        detail = response.text.strip()[:200] or response.reason_phrase
    status = response.status_code
    if status == 401:
        return f"bad credentials (401): {detail}"
    if status == 403:
        return f"not allowed (403): {detail}"
    if status == 400:
        what = f"service {description!r} on host {host_name!r}" if description else host_name
        return f"the hub refused the result for {what} (400): {detail}"
    return f"the hub answered {status}: {detail}"


COMMANDS: tuple[click.Command, ...] = (host, service, report)
