"""Running a hub: socket, TLS, signals, the HTTP engine, and one-line start-up errors."""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import signal
import socket
import ssl
import sys
from pathlib import Path

from fleetwatch.app import Hub
from fleetwatch.gc_policy import settle_after_start
from fleetwatch.http_engines import make_engine
from fleetwatch.store.errors import StoreError

log = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long a thread may hold the interpreter while another waits for it (CPython's default is
# 5 ms). The event loop shares it with threads that parse long perfdata, run OP5 filters and
# SQLite's reads and writes; a request needs it several times, waiting up to an interval each
# time per busy thread. Under ten of each of the worst requests (bench/hostile_requests.py)
# 1 ms took /api/4/status p99 from 91 to 56 ms on SQLite and from 78 to 64 ms on PostgreSQL.
# It changes nothing while no thread competes with the loop.
SWITCH_INTERVAL_SECONDS = 0.001
# The store, the log, the listening socket, argon2 and TLS files: generous, they are cheap.
FILES_BESIDE_CONNECTIONS = 256


class StartError(RuntimeError):
    """A reason the hub cannot start, worded as the one line the CLI prints."""


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {host} is already in use") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartError(f"cannot bind to {host}: no such local address") from None
        if exc.errno == errno.EACCES:
            raise StartError(f"not allowed to bind {host}:{port}") from None
        raise StartError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    # Listening now, before the log line says so: early clients queue instead of being refused.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def raise_open_files_limit(connections: int) -> None:
    """Let the process hold ``connections`` sockets beside its files, up to the hard limit.

    Past the soft limit (often 1024) accept() fails with EMFILE and the hub takes no one,
    which is what a flood would aim for; past the hard limit only an administrator can help,
    so the hub says so and starts.
    """
    wanted = connections + FILES_BESIDE_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("open files are limited to %d: server.max_connections = %d needs %d "
                    "(raise LimitNOFILE / ulimit -n)", soft, connections, wanted)  # fmt: skip


def check_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartError(f"data dir {path} is not usable: {exc.strerror}") from None


def check_tls(certfile: str, keyfile: str) -> None:
    if bool(certfile) != bool(keyfile):
        raise StartError("--certfile and --keyfile go together: give both or neither")
    if not certfile:
        return
    for name, value in (("certificate", certfile), ("key", keyfile)):
        if not Path(value).is_file():
            raise StartError(f"TLS {name} file {value} does not exist")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        raise StartError(f"cannot load TLS certificate {certfile}: {exc}") from None


def serve(hub: Hub) -> None:
    """Serve until SIGTERM or SIGINT; raises StartError for a clear start-up failure."""
    config = hub.config
    certfile = str(config.get("server", "certfile"))
    keyfile = str(config.get("server", "keyfile"))
    check_tls(certfile, keyfile)
    if config.database.startswith("sqlite"):
        check_data_dir(config.data_dir)
    raise_open_files_limit(hub.limits.max_connections)
    sock = bind_socket(config.bind, config.port)
    port = sock.getsockname()[1]
    scheme = "https" if certfile else "http"
    try:
        engine = make_engine(str(config.get("server", "http_engine")), hub.app, sock, certfile,
                             keyfile, hub.limits)  # fmt: skip
    except ValueError as exc:
        sock.close()
        raise StartError(str(exc)) from None

    async def main() -> None:
        try:
            await hub.start()
        except StoreError as exc:
            raise StartError(f"cannot open the store {hub.store.url}: {exc}") from None
        settle_after_start()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        # A clean stop on SIGTERM/SIGINT ends with status 0, which is what a service manager
        # expects of a clean stop (uvicorn alone would re-raise the signal and die of it).
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, engine.stop)
        host = f"[{config.bind}]" if ":" in config.bind else config.bind
        log.info("listening on %s://%s:%d%s/", scheme, host, port, config.url_prefix)
        try:
            await engine.serve()
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)
            await hub.stop()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())


def _loop_factory() -> type[asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional: absent on platforms without a wheel
    except ImportError:
        return None
    return uvloop.Loop
