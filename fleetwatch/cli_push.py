"""``fleetwatch push``: the agent that sends this machine's statistics to a hub."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import click

DEFAULT_SPOOL = Path.home() / ".local" / "state" / "fleetwatch" / "spool"


@click.command()
@click.option("--hub", required=True, help="The hub's URL, e.g. https://hub.example:61208.")
@click.option(
    "--token",
    envvar="FLEETWATCH_TOKEN",
    required=True,
    help="The system token (or env FLEETWATCH_TOKEN, which keeps it out of `ps`).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds between two submissions.",
)
@click.option("--once", is_flag=True, help="Submit once (and whatever is spooled), then exit.")
@click.option("--insecure", is_flag=True, help="Do not verify the hub's TLS certificate.")
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle to verify the hub's certificate with.",
)
@click.option(
    "--spool",
    "spool_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SPOOL,
    show_default=True,
    help="Where unsent documents wait while the hub is unreachable.",
)
@click.option(
    "--spool-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most documents kept; the oldest go first when full.",
)
@click.option(
    "--http1",
    is_flag=True,
    help="Speak HTTP/1.1 only (by default HTTP/2 where the hub speaks it, one connection kept "
    "across pushes; the agent falls back to HTTP/1.1 by itself where it does not).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def push(hub: str, token: str, interval: float, once: bool, insecure: bool, cafile: str | None,
         spool_dir: Path, spool_size: int, http1: bool, verbose: bool) -> None:  # fmt: skip
    """Measure this machine and push its statistics to a hub (TrueCommand's submit_stats)."""
    from fleetwatch.agent.run import PushOptions  # noqa: PLC0415 - keeps `--help` fast
    from fleetwatch.agent.run import push as run_push  # noqa: PLC0415
    from fleetwatch.agent.sender import Rejected  # noqa: PLC0415

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    for chatty in ("h2", "hpack"):  # a line per frame and header field at debug
        logging.getLogger(chatty).setLevel(logging.INFO)
    stopping: list[int] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    options = PushOptions(hub=hub, token=token, interval=interval, once=once,
                          spool_dir=spool_dir, spool_size=spool_size, insecure=insecure,
                          cafile=cafile, http1=http1)  # fmt: skip
    try:
        delivered = run_push(options, stop=lambda: bool(stopping))
    except Rejected as exc:
        click.echo(f"fleetwatch push: error: {exc}", err=True)
        sys.exit(1)
    except (OSError, ValueError) as exc:
        click.echo(f"fleetwatch push: error: {exc}", err=True)
        sys.exit(1)
    if once and not delivered:
        click.echo(f"fleetwatch push: the hub did not take the statistics; kept in {spool_dir} "
                   "for the next run", err=True)  # fmt: skip
        sys.exit(2)
