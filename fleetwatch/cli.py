"""The ``fleetwatch`` command: subcommands parse, build and hand over; no logic here."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from fleetwatch import __version__

# Each subcommand's module, imported only when that command runs (or --help lists them all):
# ``fleetwatch push``, the agent, then never loads the hub's configuration, store drivers or
# notification code, which were most of its memory.
LAZY_COMMANDS = {
    "push": "fleetwatch.cli_push",
    "user": "fleetwatch.cli_admin",
    "group": "fleetwatch.cli_admin",
    "system": "fleetwatch.cli_admin",
    "host": "fleetwatch.cli_checks",
    "service": "fleetwatch.cli_checks",
    "report": "fleetwatch.cli_checks",
    "notify": "fleetwatch.cli_notify",
}


class LazyGroup(click.Group):
    """A group whose subcommands (beside those added to it) come from ``LAZY_COMMANDS``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module = importlib.import_module(LAZY_COMMANDS[cmd_name])
            command = getattr(module, cmd_name)
            assert isinstance(command, click.Command)
        return command


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs each request's URL at INFO, and a notification channel's URL may hold a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def fail(message: str) -> None:
    click.echo(f"fleetwatch: error: {message}", err=True)
    sys.exit(1)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetwatch")
def main() -> None:
    """Fleetwatch: a self-hosted monitoring hub with a Glances-compatible API."""


@main.command()
@click.option("--bind", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="TCP port (default 61208; 0 picks a free one).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="State directory.")
@click.option(
    "--database", help="sqlite:///path or postgresql://... (default: SQLite in data dir)."
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--refresh", type=float, help="Seconds between collections (default 2).")
@click.option("--url-prefix", help="Serve every route under this path, e.g. /glances/.")
@click.option("--disable-webui", is_flag=True, default=None, help="Do not serve the dashboard.")
@click.option("--certfile", help="PEM certificate: serve HTTPS.")
@click.option("--keyfile", help="PEM private key for --certfile.")
@click.option(
    "--self-signed",
    is_flag=True,
    help="Serve HTTPS with a certificate made (once) in the data dir.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def serve(
    bind: str | None,
    port: int | None,
    data_dir: Path | None,
    database: str | None,
    config_path: Path | None,
    refresh: float | None,
    url_prefix: str | None,
    disable_webui: bool | None,
    certfile: str | None,
    keyfile: str | None,
    self_signed: bool,
    verbose: bool,
) -> None:
    """Run the hub: collect local stats and serve the API."""
    from fleetwatch.app import build_hub  # noqa: PLC0415 - keeps `fleetwatch --help` fast
    from fleetwatch.config import ConfigError, load_config  # noqa: PLC0415
    from fleetwatch.server import StartError  # noqa: PLC0415
    from fleetwatch.server import serve as run_server  # noqa: PLC0415

    _setup_logging(verbose)
    flags: dict[tuple[str, str], Any] = {
        ("server", "bind"): bind,
        ("server", "port"): port,
        ("server", "refresh"): refresh,
        ("server", "url_prefix"): url_prefix,
        ("server", "disable_webui"): disable_webui,
        ("server", "certfile"): certfile,
        ("server", "keyfile"): keyfile,
        ("storage", "data_dir"): str(data_dir) if data_dir is not None else None,
        ("storage", "database"): database,
    }
    try:
        config = load_config(config_path, flags=flags)
        if config.refresh <= 0:
            raise ConfigError("--refresh must be a positive number of seconds")
        if self_signed:
            if config.get("server", "certfile") or config.get("server", "keyfile"):
                raise ConfigError("--self-signed makes its own certificate: drop --certfile")
            # cryptography, only here: a hub that makes no certificate does not load it.
            from fleetwatch.tls import self_signed as make_certificate  # noqa: PLC0415

            cert, key = make_certificate(config.data_dir, config.bind)
            config.values["server"].update(certfile=str(cert), keyfile=str(key))
        hub = build_hub(config)
        run_server(hub)
    except (ConfigError, StartError, ValueError) as exc:
        fail(str(exc))
