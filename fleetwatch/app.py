"""The composition root: build the collector, the store and the HTTP app, and wire them.

Nothing runs at import; ``build_hub`` makes one hub from its config, and the ASGI lifespan
starts and stops its background work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from fleetwatch import __version__
from fleetwatch.api.asgi import ASGIApp, Receive, Scope, Send, send_json
from fleetwatch.api.client_limits import ClientLimits, ConnectionLimits
from fleetwatch.api.commands import Commands, command_app
from fleetwatch.api.compression import ReadCompression
from fleetwatch.api.cross_site import CrossSiteGuard, parse_origins
from fleetwatch.api.docs import docs_routes
from fleetwatch.api.events import EventsAPI
from fleetwatch.api.events_stream import EventStreamAPI
from fleetwatch.api.external import External, external_app
from fleetwatch.api.fleet import Fleet
from fleetwatch.api.fleet_latest import FleetLatest
from fleetwatch.api.glances import GlancesAPI
from fleetwatch.api.glances_config import config_sections
from fleetwatch.api.guard import Guard
from fleetwatch.api.history_range import HistoryReader, Retention
from fleetwatch.api.host_check import host_refusal
from fleetwatch.api.hub_statistics import HubStatistics
from fleetwatch.api.json_body import url_refusal
from fleetwatch.api.lists import ListLimits, Lists
from fleetwatch.api.metrics import MetricsExposition
from fleetwatch.api.metrics_instruments import HubInstruments
from fleetwatch.api.notifications import NotificationsAPI, notification_routes
from fleetwatch.api.objects import objects_app
from fleetwatch.api.proxies import PROXIED, Network, TrustedProxies, parse_trusted_proxies
from fleetwatch.api.servers import servers_app
from fleetwatch.api.servers_list import ServersList
from fleetwatch.api.status import filter_app, status_app
from fleetwatch.api.systems import SystemsAPI
from fleetwatch.api.tags import TagsAPI
from fleetwatch.api.v1 import v1_app
from fleetwatch.auth.admin import Admin
from fleetwatch.auth.authenticator import Authenticator
from fleetwatch.auth.permissions import API_COMMAND, CLEAR_EVENTS, VIEW_STATISTICS
from fleetwatch.auth.ratelimit import CredentialLimiter
from fleetwatch.auth.shared_limits import SharedLimits
from fleetwatch.collect.base import Collector
from fleetwatch.collect.live import LiveStats
from fleetwatch.collect.registry import PLUGIN_NAMES, build_collectors
from fleetwatch.config import Config, ConfigError
from fleetwatch.engine.alerts import AlertEngine
from fleetwatch.engine.bus import EventBus
from fleetwatch.engine.checks import EVENTS_SYSTEM, CheckService
from fleetwatch.engine.declared import apply_declared
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.engine.event_stream import EventStreams
from fleetwatch.engine.freshness import FreshnessScheduler
from fleetwatch.engine.last_seen import LastSeen
from fleetwatch.engine.notify.channels import Senders
from fleetwatch.engine.notify.dispatcher import Dispatcher
from fleetwatch.engine.notify.manage import NotifyAdmin
from fleetwatch.engine.notify.messages import Messages
from fleetwatch.engine.notify.process import WORKER_MODES, DeliveryProcess, DeliverySettings
from fleetwatch.engine.notify.tags import StoredTags
from fleetwatch.engine.notify.worker import DeliveryWorker, RetryPolicy
from fleetwatch.engine.recorder import LocalRecorder
from fleetwatch.engine.retention import RetentionJob
from fleetwatch.engine.service import AlertService, SystemAlerts
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.model.history import History
from fleetwatch.model.limits import Limits, apply_overrides, default_limits
from fleetwatch.model.rollup import HOUR, MINUTE
from fleetwatch.store import Store, SystemRecord, open_store
from fleetwatch.web import ConsoleParts, web_routes
from fleetwatch.web.pages import Pages
from fleetwatch.web.session import SessionGate

log = logging.getLogger(__name__)

ANONYMOUS_READ = ("loopback", "always", "never")


def build_limits(config: Config) -> dict[str, Limits]:
    limits = default_limits(list(PLUGIN_NAMES), config.get("collector", "history_size"))
    for section, values in config.plugins.items():
        limits.setdefault(section, {"history_size": float(config.get("collector", "history_size"))})
        apply_overrides(limits, section, values)
    return limits


def is_loopback(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Hub:
    """One hub process' parts. ``app`` is the ASGI callable handed to the server."""

    config: Config
    live: LiveStats
    store: Store
    glances: GlancesAPI
    site: Starlette
    auth: Authenticator
    admin: Admin
    alerts: AlertService | None = None
    pushed: SystemAlerts | None = None
    systems: SystemsAPI | None = None
    staleness: StalenessWatcher | None = None
    bus: EventBus = field(default_factory=EventBus)
    recorder: LocalRecorder | None = None
    retention: RetentionJob | None = None
    downsample: DownsampleJob | None = None
    last_seen: LastSeen | None = None
    external: External | None = None  # also routed in ``site``; reached directly, see app()
    checks: CheckService | None = None
    freshness: FreshnessScheduler | None = None
    commands: Commands | None = None
    metrics: MetricsExposition | None = None
    instruments: HubInstruments | None = None
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    notify: Notifications | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.glances.clear_events = self.clear_events
        # Once, not per request: parsing the address showed in profiles of the ingest path.
        self._loopback_bound = is_loopback(self.config.bind)
        self._command_prefix = f"{self.config.url_prefix}/api/command/"
        self._hooks_prefix = f"{self.config.url_prefix}/api/external/"
        routed: ASGIApp = (
            self.instruments.measured(self._route) if self.instruments else self._route
        )
        # Outermost first: the per-address limits and body deadline, cross-site refusal, then
        # console sessions.
        prefix = self.config.url_prefix
        try:
            origins = parse_origins(str(self.config.get("server", "allowed_origins")))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        # Console sessions: the cookie becomes a bearer credential for every family below.
        # Gzip for large reads (the fleet's lists), inside the limits, outside the routing.
        gated = SessionGate(
            ReadCompression(routed), int(self.config.get("server", "max_body_bytes"))
        )
        guarded = CrossSiteGuard(gated, prefix, origins)
        self._front: ASGIApp = ClientLimits(guarded, self.limits, prefix)
        # Outside the limits: they then count per client behind the proxy, not per proxy.
        proxies = trusted_proxies(self.config)
        if proxies:
            self._front = TrustedProxies(self._front, proxies)

    @property
    def api_prefix(self) -> str:
        return f"{self.config.url_prefix}/api/4"

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            checked = self._loopback_bound and not scope.get(PROXIED)  # a proxy checked it
            refused = host_refusal(scope, self.config.bind) if checked else None
            if refused is not None:
                await send_json(send, refused[0], {"detail": refused[1]})
                return
            if (bad_url := url_refusal(scope)) is not None:
                await send_json(send, 400, bad_url)
                return
            path: str = scope["path"]
            prefix = self.api_prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                inner = dict(scope)
                inner["path"] = path[len(prefix) :] or "/"
                await self.glances(inner, receive, send)
                return
            if (
                self.commands is not None
                and path.startswith(self._command_prefix)
                and scope["method"] == "POST"
            ):
                # The passive-result hot path: straight to the endpoint, past the routing.
                name = path[len(self._command_prefix) :]
                if name and "/" not in name:
                    await self.commands.handle(scope, receive, send, name)
                    return
            if (
                self.external is not None
                and path.startswith(self._hooks_prefix)
                and scope["method"] in ("PUT", "POST")
            ):
                # The ingest hot path: the site's middleware, routing and request objects cost
                # a third of a submission's CPU. Other methods get the site's 405.
                hook = path[len(self._hooks_prefix) :]
                if hook in External.HOOKS:
                    await self.external.handle(scope, receive, send, hook)
                    return
            systems = f"{self.config.url_prefix}/systems/"
            if self.systems is not None and path.startswith(systems) and _system_api(path):
                await self.systems(
                    {**scope, "path": path[len(self.config.url_prefix) :]}, receive, send
                )
                return
        await self.site(scope, receive, send)

    async def prepare(self) -> None:
        """Open the store and attach the alert engine of the hub's own machine."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        # First-run seeding (the hub's own system, the checks' system, declared objects, the
        # configured channels) one hub at a time: hubs started together on a fresh PostgreSQL
        # database would otherwise insert the same rows. A no-op on SQLite.
        async with self.store.exclusive("seeding"):
            system = await self._own_system()
            if self.recorder is not None:
                self.recorder.system_id = system.id
            self.alerts = AlertService(AlertEngine(), self.store, system.id)
            await self.alerts.restore()
            self.live.evaluator = self.alerts.evaluate
            if self.checks is not None:
                await self.checks.prepare()
                await apply_declared(self.store, self.config.check_objects)
            if self.notify is not None:
                await self.notify.prepare(self.config)

    async def _own_system(self) -> SystemRecord:
        """The hub's machine as a system of its own (source ``local``).

        ``server.system_name`` names it; by default the host name (``hub-<host>`` when a
        pushed system has that name), as a single hub always did. A hub holds its name's lock
        while it runs (PostgreSQL; SQLite has one hub per file), so a second hub on the same
        host and database, finding the host name held, is ``<host>-<port>`` instead of sharing
        the first one's system (its snapshots and events stored twice); ``<host>-2``... on a
        port the system picks (``--port 0``).
        """
        hostname = socket.gethostname()
        configured = str(self.config.get("server", "system_name")).strip()
        port = self.config.port
        if configured:
            bases = [configured]
        elif port:
            bases = [hostname, f"{hostname}-{port}"]
        else:  # a port the system picks is not known yet, nor the same next time: numbered
            bases = [hostname, *(f"{hostname}-{n}" for n in range(2, 10))]
        tried = []
        for base in bases:
            for name in (base, f"hub-{base}"):
                found = await self.store.get_system(name)
                if found is not None and found.source != "local":
                    tried.append(f"{name} (a {found.source} system)")
                    continue  # a pushed system has the name
                if not await self.store.hold_lock(f"local-system:{name}"):
                    tried.append(f"{name} (another running hub's)")
                    break  # hub-<name> would be confusing: try the next base
                log.info("this hub's own machine is the system %s", name)
                if found is not None:
                    return found
                return await self.store.add_system(name, hostname=hostname, source="local")
        raise ConfigError(f"no name for this hub's own system: {', '.join(tried)}; set "
                          "server.system_name")  # fmt: skip

    async def clear_events(self, warning_only: bool) -> int:
        if self.alerts is None:
            return 0
        cleared = await self.alerts.clear(warning_only)
        self.live.replace("alert", self.alerts.engine.as_glances())
        return cleared

    async def start(self) -> None:
        await self.prepare()
        self._stop.clear()
        if self.staleness is not None:
            # Before the background passes start: with 10,000 systems the first roll-up and
            # retention passes would share the store with it and delay the first answer.
            await self.staleness.restore()
        if self.retention is not None:
            self._tasks.append(
                asyncio.create_task(self.retention.run(self._stop), name="retention")
            )
        if self.downsample is not None:
            self._tasks.append(
                asyncio.create_task(self.downsample.run(self._stop), name="downsample")
            )
        if self.recorder is not None and self.recorder.interval > 0:
            self._tasks.append(asyncio.create_task(self.recorder.run(self._stop), name="recorder"))
        if self.staleness is not None:
            self._tasks.append(
                asyncio.create_task(self.staleness.run(self._stop), name="staleness")
            )
        self._tasks.append(asyncio.create_task(self.live.run(self._stop), name="collector"))
        if self.freshness is not None:
            self._tasks.append(
                asyncio.create_task(self.freshness.run(self._stop), name="freshness")
            )
        self._tasks.append(asyncio.create_task(self.auth.watch(self._stop), name="auth-watch"))
        if self.auth.shared is not None:
            self._tasks.append(
                asyncio.create_task(self.auth.shared.run(self._stop), name="auth-shared")
            )
        if self.metrics is not None:
            self._tasks.append(asyncio.create_task(self.metrics.run(self._stop), name="metrics"))
        if self.notify is not None:
            self._tasks += self.notify.start(self._stop, bool(self.config.get("notify", "enabled")))
        log.info("fleetwatch %s: collecting every %ss, store %s", __version__,
                 self.config.refresh, self.store.url)  # fmt: skip
        if anonymous_permissions(self.config) and not is_loopback(self.config.bind):
            log.warning("anonymous read of /api/4 is allowed while bound to %s, not loopback "
                        "(auth.anonymous_read = always)", self.config.bind)  # fmt: skip

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for alerts in (self.alerts, self.pushed):
            if alerts is not None:
                await alerts.flush()
        if self.last_seen is not None:
            await self.last_seen.flush()
        if self.staleness is not None:
            await self.staleness.flush()
        if self.notify is not None:
            await self.notify.senders.close()
        await self.store.close()


def build_hub(config: Config, collectors: list[Collector] | None = None) -> Hub:
    limits = build_limits(config)
    live = LiveStats(
        collectors if collectors is not None else build_collectors(),
        limits,
        refresh=config.refresh,
        history_size=int(config.get("collector", "history_size")),
    )
    instruments = HubInstruments(config.url_prefix)
    store = open_store(config.database, max_queue=int(config.get("storage", "queue_size")),
                       on_commit=instruments.observe_commit)  # fmt: skip
    auth = build_authenticator(config, store)
    admin = Admin(store, auth.hashing, on_change=auth.forget)
    guard = Guard(auth, int(config.get("server", "max_body_bytes")))

    prefix = config.url_prefix
    built: list[Starlette] = []
    routes = docs_routes(prefix, live, lambda: built[0].routes if built else [])
    pushed = SystemAlerts(store, limits)
    staleness = StalenessWatcher(
        store, minimum=float(config.get("console", "stale_minimum_seconds"))
    )
    bus = EventBus()
    seen = LastSeen(store)
    lists = Lists(guard, store, list_limits(config))
    fleet = Fleet(guard, store, staleness, default_count=lists.limits.default_count,
                  max_count=lists.limits.max_count)  # fmt: skip
    hub_statistics = HubStatistics(
        guard, store, staleness,
        max_age=float(config.get("query", "statistics_max_age")),
        time_limit=float(config.get("query", "time_limit_seconds")),
    )  # fmt: skip
    kept = Retention(
        raw_days=float(config.get("storage", "retention_days")),
        minute_days=float(config.get("storage", "rollup_minute_days")),
        hour_days=float(config.get("storage", "rollup_hour_days")),
        history_size=int(config.get("collector", "history_size")),
    )
    rollup_days = {MINUTE: kept.minute_days, HOUR: kept.hour_days}
    for key in ("rollup_every_seconds", "retention_every_seconds"):
        if not float(config.get("storage", key)) > 0:
            raise ConfigError(f"storage.{key} must be greater than 0")
    retention = RetentionJob(
        store,
        kept.raw_days,
        rollup_days=rollup_days,
        every=float(config.get("storage", "retention_every_seconds")),
    )
    downsample = DownsampleJob(
        store,
        live.specs,
        first_days=kept.minute_days,
        every=float(config.get("storage", "rollup_every_seconds")),
    )
    recorder = LocalRecorder(store, live.latest, float(config.get("collector", "store_interval")))
    checks = CheckService(store, auto_create=bool(config.get("checks", "auto_create")))
    checks.listeners.append(bus.publish)
    commands = Commands(guard, checks)
    notify = build_notifications(config, store)
    limits_of_lists = list_limits(config)
    notify_api = NotificationsAPI(guard, notify.admin, default_count=limits_of_lists.default_count,
                                  max_count=limits_of_lists.max_count)  # fmt: skip
    stream_api = EventStreamAPI(guard, notify.streams,
                                float(config.get("events", "heartbeat_seconds")))  # fmt: skip
    extra_v1 = [*notification_routes(notify_api), *stream_api.routes()]

    latest = FleetLatest(store, staleness, lambda: (recorder.system_id, live.latest()))
    metrics = MetricsExposition(
        guard, store, latest, instruments,
        refresh_seconds=float(config.get("metrics", "refresh_seconds")),
    )  # fmt: skip

    async def on_snapshot(system_id: int, stats: dict[str, Any], now: float) -> None:
        latest.put(system_id, stats, now)
        await staleness.seen(system_id, now)
        await pushed.evaluate(system_id, stats, now)

    external, external_routes = external_app(guard, store, on_snapshot, bus, seen)
    routes += [
        Mount(f"{prefix}/api/external", app=external_routes),
        Mount(
            f"{prefix}/api/v1",
            app=v1_app(
                guard,
                admin,
                fleet,
                lists,
                hub_statistics,
                EventsAPI(guard, store),
                TagsAPI(guard, store),
                extra_v1,
            ),
        ),
        Mount(f"{prefix}/api/servers", app=servers_app(guard, admin, fleet)),
        Mount(f"{prefix}/api/command", app=command_app(commands)),
        Mount(f"{prefix}/api/status", app=status_app(guard, store)),
        Mount(
            f"{prefix}/api/filter",
            app=filter_app(guard, store, lists.limits.time_limit, lists.slots),
        ),
        Mount(f"{prefix}/api/config", app=objects_app(guard, store)),
        Route(f"{prefix}/metrics", metrics.endpoint, methods=["GET"]),
    ]
    if not config.get("server", "disable_webui"):
        pages = Pages(guard, prefix, anonymous_permissions(config) & {VIEW_STATISTICS},
                      float(config.get("console", "refresh_seconds")), time.time)  # fmt: skip
        routes += web_routes(ConsoleParts(pages, guard, store, fleet, admin, limits,
                                          notify.admin))  # fmt: skip
    site = Starlette(routes=routes)
    built.append(site)
    reader = HistoryReader(store, live.specs, kept)
    systems = SystemsAPI(store, live.specs, limits, auth, config.masked, reader)

    async def local_history(since: float, until: float) -> tuple[dict[str, History], int]:
        # The hub's own machine, as LocalRecorder stored it: the same ranges as a pushed one.
        if recorder.system_id is None:
            return {}, 0
        return await reader.over(recorder.system_id, since, until)

    glances = GlancesAPI(
        live,
        settings=lambda: config_sections(config, limits),
        args=lambda: _args(config),
        auth=auth,
        anonymous=anonymous_permissions(config),
        servers=ServersList(
            store,
            latest,
            config.port,
            prefix,
            default_count=lists.limits.default_count,
            max_count=lists.limits.max_count,
        ),
        history_over=local_history,
    )
    return Hub(config=config, live=live, store=store, glances=glances, site=site, auth=auth,
               admin=admin, pushed=pushed, systems=systems, staleness=staleness,
               bus=bus, recorder=recorder, checks=checks,
               freshness=FreshnessScheduler(checks), retention=retention,
               commands=commands, downsample=downsample, last_seen=seen,
               external=external, metrics=metrics, instruments=instruments,
               limits=connection_limits(config), notify=notify)  # fmt: skip


def connection_limits(config: Config) -> ConnectionLimits:
    """The ``server.*`` limits on slow and greedy clients; ConfigError when one is not > 0."""
    limits = ConnectionLimits(
        header_timeout=float(config.get("server", "header_timeout_seconds")),
        idle_timeout=float(config.get("server", "idle_timeout_seconds")),
        body_timeout=float(config.get("server", "body_timeout_seconds")),
        body_min_rate=int(config.get("server", "body_min_bytes_per_second")),
        max_connections=int(config.get("server", "max_connections")),
        per_address=int(config.get("server", "max_connections_per_address")),
        reserved=int(config.get("server", "reserved_connections")),
    )
    for name, value in (("header_timeout_seconds", limits.header_timeout),
                        ("idle_timeout_seconds", limits.idle_timeout),
                        ("body_timeout_seconds", limits.body_timeout),
                        ("body_min_bytes_per_second", limits.body_min_rate),
                        ("max_connections", limits.max_connections),
                        ("max_connections_per_address", limits.per_address)):  # fmt: skip
        if not value > 0:
            raise ConfigError(f"server.{name} must be greater than 0, not {value!r}")
    if not 0 <= limits.reserved < limits.max_connections:
        raise ConfigError("server.reserved_connections must be at least 0 and less than "
                          f"server.max_connections, not {limits.reserved}")  # fmt: skip
    return limits


def _system_api(path: str) -> bool:
    """``/systems/<name>/api/4...`` is the API; ``/systems/<name>`` the console's page."""
    _, _, rest = path.partition("/systems/")
    return rest.partition("/")[2].startswith("api/4")


@dataclass
class Notifications:
    """The notification parts of one hub: dispatcher, delivery worker, event stream."""

    admin: NotifyAdmin
    dispatcher: Dispatcher
    worker: DeliveryWorker
    senders: Senders
    streams: EventStreams
    # notify.worker: "process" runs dispatcher and worker in a child (process.py), "inline"
    # here, "off" nowhere (``fleetwatch notify worker`` elsewhere).
    mode: str = "inline"
    process: DeliveryProcess | None = None

    async def prepare(self, config: Config) -> None:
        """Make the store hold the TOML file's channels and rules."""
        known = {c.name for c in config.notify_channels}
        known |= {c.name for c in await self.admin.store.list_channels() if c.origin != "config"}
        for rule in config.notify_rules:
            try:
                await self.admin.check_rule(rule.spec(), channels=sorted(known))
            except ValueError as exc:
                raise ConfigError(f"notify.rules {rule.name}: {exc}") from None
        await self.admin.apply_config(config.notify_channels, config.notify_rules)
        await self.streams.start()

    def start(self, stop: asyncio.Event, deliver: bool) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self.streams.run(stop), name="event-stream")]
        if not deliver or self.mode == "off":
            return tasks
        if self.mode == "process" and self.process is not None:
            tasks.append(asyncio.create_task(self._process(stop, self.process),
                                             name="notify-process"))  # fmt: skip
            return tasks
        tasks.append(
            asyncio.create_task(
                self.dispatcher.run(stop, self.worker.poll_seconds), name="notify-dispatch"
            )
        )
        tasks.append(asyncio.create_task(self.worker.run(stop), name="notify-deliver"))
        return tasks

    async def _process(self, stop: asyncio.Event, process: DeliveryProcess) -> None:
        """The delivery child starts with the first channel, and stays until the hub stops.

        With no channel there is nothing to send, and the child (a second interpreter,
        ~34 MiB) would only keep the incidents. The hub keeps them meanwhile (so a rule made
        later knows what is open, and old outbox rows are not read against it) and leaves the
        dispatcher's lead to the child once a channel exists.
        """
        await self.dispatcher.run(stop, self.worker.poll_seconds, until_channel=True)
        if stop.is_set():
            return
        await self.admin.store.give_up_lead()
        await process.run(stop)


def build_notifications(config: Config, store: Store) -> Notifications:
    mode = str(config.get("notify", "worker"))
    if mode not in WORKER_MODES:
        raise ConfigError(f"notify.worker must be one of {', '.join(WORKER_MODES)}, not {mode!r}")
    if not 0 <= int(config.get("notify", "worker_nice")) <= 19:
        raise ConfigError("notify.worker_nice must be from 0 to 19")
    timeout = float(config.get("notify", "timeout_seconds"))
    concurrency = int(config.get("notify", "concurrency"))
    poll = float(config.get("notify", "poll_seconds"))
    senders = Senders(timeout=timeout, concurrency=concurrency)
    retry = RetryPolicy(
        first=float(config.get("notify", "retry_first_seconds")),
        longest=float(config.get("notify", "retry_longest_seconds")),
        give_up_after=float(config.get("notify", "give_up_after_seconds")),
    )
    worker = DeliveryWorker(store, senders, retry=retry, concurrency=concurrency,
                            timeout=timeout, poll_seconds=poll)  # fmt: skip
    messages = Messages(str(config.get("server", "public_url")))
    dispatcher = Dispatcher(store, messages, checks_system=EVENTS_SYSTEM, tags=StoredTags(store))
    dispatcher.on_deliveries = worker.wakeup.set
    streams = EventStreams(
        store, checks_system=EVENTS_SYSTEM,
        max_streams=int(config.get("events", "max_streams")),
        buffer=int(config.get("events", "stream_buffer")),
        replay_max=int(config.get("events", "replay_max")), poll_seconds=poll,
        max_stream_seconds=float(config.get("events", "max_stream_seconds")),
    )  # fmt: skip
    process = DeliveryProcess(DeliverySettings.from_config(config)) if mode == "process" else None
    return Notifications(NotifyAdmin(store, senders), dispatcher, worker, senders, streams,
                         mode=mode, process=process)  # fmt: skip


def list_limits(config: Config) -> ListLimits:
    if int(config.get("query", "per_client")) < 1:
        raise ConfigError("query.per_client must be at least 1")
    return ListLimits(
        default_count=int(config.get("query", "default_count")),
        max_count=int(config.get("query", "max_count")),
        exact_total=int(config.get("query", "exact_total")),
        time_limit=float(config.get("query", "time_limit_seconds")),
        per_client=int(config.get("query", "per_client")),
    )


def anonymous_permissions(config: Config) -> frozenset[str]:
    """What ``/api/4`` grants without credentials (``auth.anonymous_read``).

    Bound to loopback, as Glances behaves locally: its reads and its two UI actions (the
    extended process view, clearing events). Elsewhere nothing, unless the config says
    ``always``: then reads only.
    """
    mode = str(config.get("auth", "anonymous_read"))
    if mode not in ANONYMOUS_READ:
        raise ConfigError(f"auth.anonymous_read must be one of {', '.join(ANONYMOUS_READ)}, "
                          f"not {mode!r}")  # fmt: skip
    if mode == "never":
        return frozenset()
    # Behind a proxy, a hub bound to loopback is reached from everywhere the proxy is.
    if is_loopback(config.bind) and not trusted_proxies(config):
        return frozenset({VIEW_STATISTICS, API_COMMAND, CLEAR_EVENTS})
    return frozenset({VIEW_STATISTICS}) if mode == "always" else frozenset()


def trusted_proxies(config: Config) -> tuple[Network, ...]:
    """``server.trusted_proxies``, parsed; ConfigError naming a bad entry."""
    try:
        return parse_trusted_proxies(str(config.get("server", "trusted_proxies")))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_authenticator(config: Config, store: Store) -> Authenticator:
    limiter = CredentialLimiter(
        int(config.get("auth", "max_failures")),
        float(config.get("auth", "failure_window_seconds")),
    )
    auth = Authenticator(
        store,
        cache_seconds=float(config.get("auth", "cache_seconds")),
        system_cache_seconds=float(config.get("auth", "system_cache_seconds")),
        login_token_seconds=float(config.get("auth", "login_token_days")) * 86400,
        limiter=limiter,
    )
    if store.dialect == "postgres":  # other hubs may share the database: and the failures
        auth.shared = SharedLimits(store, limiter)
    return auth


def _args(config: Config) -> dict[str, Any]:
    masked = config.masked()
    return {**masked["server"], **masked["storage"], **masked["collector"]}
