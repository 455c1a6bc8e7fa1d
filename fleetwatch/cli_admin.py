"""``fleetwatch user|group|system ...``: manage identities in the store, hub running or not.

Each command opens the store the way ``serve`` would (``--data-dir``/``--database``/``--config``),
does one thing through ``auth.admin.Admin`` and closes it; SQLite's WAL and the PostgreSQL
backend let it run next to a live hub. Secrets go alone to stdout (``TOKEN=$(fleetwatch system
add web1)``), messages to stderr, errors as one line with exit status 1.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from fleetwatch.config import ConfigError, load_config

if TYPE_CHECKING:  # the store and argon2 load only when a command runs: `--help` stays fast
    from fleetwatch.auth.admin import Actor, Admin
    from fleetwatch.store import Store

__all__ = ["COMMANDS", "group", "system", "user"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def store_options(function: F) -> F:
    """``--data-dir``, ``--database`` and ``--config``, as ``serve`` takes them."""
    function = click.option("--config", "config_path", type=click.Path(path_type=Path),
                            help="TOML config file.")(function)  # fmt: skip
    function = click.option("--database", help="sqlite:///path or postgresql://... "
                            "(default: SQLite in data dir).")(function)  # fmt: skip
    return click.option("--data-dir", type=click.Path(path_type=Path),
                        help="State directory.")(function)  # fmt: skip


def run(opts: dict[str, Any], action: Callable[[Admin, Actor], Awaitable[T]]) -> T:
    """Open the store, run ``action``, close the store; errors become one line and exit 1."""
    from fleetwatch.store import open_store  # noqa: PLC0415

    try:
        config = load_config(
            opts.get("config_path"),
            flags={
                ("storage", "data_dir"): str(opts["data_dir"]) if opts.get("data_dir") else None,
                ("storage", "database"): opts.get("database"),
            },
        )
        store = open_store(config.database)
        if config.database.startswith("sqlite"):
            config.data_dir.mkdir(parents=True, exist_ok=True)
    except (ConfigError, ValueError, OSError) as exc:
        fail(str(exc))
    return asyncio.run(_run(store, action))


async def _run(store: Store, action: Callable[[Admin, Actor], Awaitable[T]]) -> T:
    from fleetwatch.auth.admin import Actor, Admin  # noqa: PLC0415
    from fleetwatch.auth.secrets import PasswordHashing  # noqa: PLC0415
    from fleetwatch.store import Conflict, NotFound, StoreError  # noqa: PLC0415

    try:
        await store.open()
    except StoreError as exc:
        fail(f"cannot open the store {store.url}: {exc}")
    try:
        actor = Actor(f"cli:{getpass.getuser()}", "local")
        return await action(Admin(store, PasswordHashing()), actor)
    except Conflict as exc:
        fail(str(exc) if exc.__cause__ is None else "that name is already taken")
    except (NotFound, ValueError) as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(f"the store {store.url} failed: {exc}")
    finally:
        await store.close()


def fail(message: str) -> NoReturn:
    click.echo(f"fleetwatch: error: {message}", err=True)
    sys.exit(1)


def say(message: str) -> None:
    click.echo(message, err=True)


def when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


# -- users


@click.group()
def user() -> None:
    """Users: people and scripts that log in with a password or a personal token."""


@user.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="Put the user in this group (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@store_options
def user_add(name: str, groups: tuple[str, ...], password_stdin: bool, **opts: Any) -> None:
    """Add a user (prompts twice for the password unless --password-stdin)."""
    password = read_password(password_stdin)
    added = run(opts, lambda admin, actor: admin.add_user(actor, name, password, groups))
    say(f"added user {added.name}" + (f" in {', '.join(added.groups)}" if added.groups else ""))


@user.command("list")
@store_options
def user_list(**opts: Any) -> None:
    """Every user with their groups."""
    users = run(opts, lambda admin, _: admin.store.list_users())
    rows: list[tuple[str, ...]] = [("NAME", "GROUPS", "CREATED")]
    rows += [(u.name, ",".join(u.groups) or "-", when(u.created_at)) for u in users]
    table(rows)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@store_options
def user_passwd(name: str, password_stdin: bool, **opts: Any) -> None:
    """Change a user's password; their login sessions end."""
    password = read_password(password_stdin)
    run(opts, lambda admin, actor: admin.set_password(actor, name, password))
    say(f"changed the password of {name}")


@user.command("remove")
@click.argument("name")
@store_options
def user_remove(name: str, **opts: Any) -> None:
    """Remove a user and every token of theirs."""
    run(opts, lambda admin, actor: admin.remove_user(actor, name))
    say(f"removed user {name}")


@user.command("groups")
@click.argument("name")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="A group the user is to be in (repeatable); none leaves them in no group.",
)
@store_options
def user_groups(name: str, groups: tuple[str, ...], **opts: Any) -> None:
    """Put an existing user in exactly these groups."""
    now = run(opts, lambda admin, actor: admin.set_groups(actor, name, groups))
    say(f"{name} is in: {', '.join(now) or 'no group'}")


@user.command("token")
@click.argument("name")
@click.option(
    "--name",
    "label",
    default=None,
    help="Token label (unique per user; default: personal, then personal-2...).",
)
@store_options
def user_token(name: str, label: str | None, **opts: Any) -> None:
    """Make a personal access token; prints it once, alone on stdout."""
    click.echo(run(opts, lambda admin, actor: admin.user_token(actor, name, label)))


# -- groups


@click.group()
def group() -> None:
    """Groups: sets of permissions that users are put in."""


@group.command("list")
@store_options
def group_list(**opts: Any) -> None:
    """Every group with its permissions and members."""
    groups = run(opts, lambda admin, _: admin.store.list_groups())
    rows: list[tuple[str, ...]] = [("NAME", "PERMISSIONS", "MEMBERS")]
    rows += [(g.name, ",".join(g.permissions) or "-", ",".join(g.members) or "-") for g in groups]
    table(rows)


@group.command("add")
@click.argument("name")
@click.option("--permission", "permissions", multiple=True, help="Grant this (repeatable).")
@store_options
def group_add(name: str, permissions: tuple[str, ...], **opts: Any) -> None:
    """Add a group with permissions."""
    run(opts, lambda admin, actor: admin.add_group(actor, name, permissions))
    say(f"added group {name}")


@group.command("grant")
@click.argument("name")
@click.argument("permission")
@store_options
def group_grant(name: str, permission: str, **opts: Any) -> None:
    """Give a group a permission."""
    changed = run(opts, lambda admin, actor: admin.grant(actor, name, permission))
    say(f"granted {permission} to {name}" if changed else f"{name} already had {permission}")


@group.command("revoke")
@click.argument("name")
@click.argument("permission")
@store_options
def group_revoke(name: str, permission: str, **opts: Any) -> None:
    """Take a permission from a group."""
    changed = run(opts, lambda admin, actor: admin.revoke(actor, name, permission))
    say(f"revoked {permission} from {name}" if changed else f"{name} did not have {permission}")


@group.command("remove")
@click.argument("name")
@store_options
def group_remove(name: str, **opts: Any) -> None:
    """Remove a group (not a built-in one); its members lose its permissions."""
    run(opts, lambda admin, actor: admin.remove_group(actor, name))
    say(f"removed group {name}")


# -- systems


@click.group()
def system() -> None:
    """Systems: machines that push their statistics with a system token."""


@system.command("add")
@click.argument("name")
@store_options
def system_add(name: str, **opts: Any) -> None:
    """Register a system; prints its first token (named "default") alone on stdout."""
    _, secret = run(opts, lambda admin, actor: admin.add_system(actor, name))
    click.echo(secret)


@system.command("token")
@click.argument("name")
@click.option(
    "--name",
    "label",
    default=None,
    help="Token label (unique per system; default: default, then default-2...).",
)
@store_options
def system_token(name: str, label: str | None, **opts: Any) -> None:
    """Make another token for a system; prints it once, alone on stdout."""
    click.echo(run(opts, lambda admin, actor: admin.system_token(actor, name, label)))


@system.command("revoke")
@click.argument("name")
@click.argument("label")
@store_options
def system_revoke(name: str, label: str, **opts: Any) -> None:
    """Revoke a system's token by its label."""
    removed = run(opts, lambda admin, actor: admin.revoke_system_tokens(actor, name, [label]))
    if not removed:
        fail(f"system {name!r} has no token named {label!r}")
    say(f"revoked token {label} of {name}")


@system.command("list")
@store_options
def system_list(**opts: Any) -> None:
    """Every system with its tokens (label and prefix; the secrets are not stored)."""

    async def listing(admin: Admin, _: Actor) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = [("NAME", "HOSTNAME", "LAST SEEN", "TOKENS")]
        for found in await admin.store.list_systems():
            tokens = await admin.store.list_system_tokens(found.id)
            shown = ",".join(f"{t.name}:{t.prefix}..." for t in tokens) or "-"
            rows.append((found.name, found.hostname or "-", when(found.last_seen), shown))
        return rows

    table(run(opts, listing))


@system.command("remove")
@click.argument("name")
@store_options
def system_remove(name: str, **opts: Any) -> None:
    """Remove a system with its tokens, statistics and events."""
    run(opts, lambda admin, actor: admin.remove_system(actor, name))
    say(f"removed system {name}")


@system.command("tag")
@click.argument("name")
@click.argument("tags", nargs=-1, required=True)
@store_options
def system_tag(name: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Add tags to a system (the console filters by them); prints its tags."""
    click.echo(" ".join(run(opts, lambda admin, _: admin.store.tag_system(name, add=tags))))


@system.command("untag")
@click.argument("name")
@click.argument("tags", nargs=-1, required=True)
@store_options
def system_untag(name: str, tags: tuple[str, ...], **opts: Any) -> None:
    """Remove tags from a system; prints the tags it keeps."""
    click.echo(" ".join(run(opts, lambda admin, _: admin.store.tag_system(name, remove=tags))))


COMMANDS: tuple[click.Group, ...] = (user, group, system)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def admin_main() -> None:
    """The identity commands on their own (``python -m fleetwatch.cli_admin``)."""


for _command in COMMANDS:
    admin_main.add_command(_command)

if __name__ == "__main__":
    admin_main()
