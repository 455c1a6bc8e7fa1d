"""Typed settings, declared once: defaults < TOML file < environment < command-line flags.

Every key is also settable as ``FLEETWATCH_<SECTION>_<KEY>``. Plugin sections (``[cpu]``,
``[fs]``...) hold Glances-style limits without the plugin prefix (``total_careful = 70``).
An unknown section or key, or a value of the wrong type, stops the start with one line that
names it. No value is ever run as a command.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetwatch.collect.configured import ITEM_ATTRIBUTES, split_item_key
from fleetwatch.config_checks import DeclaredObject, parse_declared
from fleetwatch.config_notify import parse_channels, parse_rules
from fleetwatch.engine.notify.manage import ChannelSpec
from fleetwatch.engine.notify.rules import Rule
from fleetwatch.model.limits import GLANCES_DEFAULTS, coerce_limit

ENV_PREFIX = "FLEETWATCH_"


class ConfigError(ValueError):
    """A configuration problem, worded as the one line the CLI prints."""


@dataclass(frozen=True, slots=True)
class Setting:
    section: str
    key: str
    kind: type
    default: Any
    help: str
    secret: bool = False
    env: str | None = None  # a contract name besides FLEETWATCH_<SECTION>_<KEY>


def _default_data_dir() -> str:
    return str(Path.home() / ".local" / "share" / "fleetwatch")


SETTINGS: tuple[Setting, ...] = (
    Setting("server", "bind", str, "127.0.0.1", "Address to listen on."),
    Setting("server", "port", int, 61208, "TCP port (Glances' port: its clients need no change)."),
    Setting("server", "url_prefix", str, "", "Serve every route under this path, e.g. /glances/."),
    Setting("server", "refresh", float, 2.0, "Seconds between two collections of local stats."),
    Setting("server", "disable_webui", bool, False, "Do not serve the web dashboard."),
    Setting("server", "certfile", str, "", "PEM certificate: serve HTTPS."),
    Setting("server", "keyfile", str, "", "PEM private key of the certificate."),
    Setting("server", "http_engine", str, "granian",
            "HTTP server: granian (the fastest) or uvicorn (the fallback)."),
    Setting("server", "max_body_bytes", int, 1_048_576, "Largest request body accepted."),
    Setting("server", "header_timeout_seconds", float, 10.0,
            "Seconds a client has to send a request's headers, from its connection or its "
            "previous response; then the connection is closed."),
    Setting("server", "idle_timeout_seconds", float, 75.0,
            "Seconds an HTTP/2 connection may stay open with no request (Granian): longer "
            "than the agent's 60 s interval, so its connection is kept across pushes."),
    Setting("server", "body_timeout_seconds", float, 10.0,
            "Seconds a request body may take, plus the time its bytes so far take at "
            "body_min_bytes_per_second; then 408 and the connection is closed."),
    Setting("server", "body_min_bytes_per_second", int, 1024,
            "The slowest rate a request body may keep up after body_timeout_seconds."),
    Setting("server", "max_connections", int, 4096,
            "Connections open at once, in all (also capped by the open-files limit)."),
    Setting("server", "max_connections_per_address", int, 128,
            "Requests in progress (uvicorn: connections) per client address before 429."),
    Setting("server", "reserved_connections", int, 256,
            "Of max_connections, kept for addresses holding fewer than 4 (503 to the others)."),
    Setting("server", "allowed_origins", str, "",
            "Other origins (scheme://host:port, comma-separated) whose pages may change state."),
    Setting("server", "trusted_proxies", str, "",
            "Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
            "and X-Forwarded-Proto name the client: limits then apply per real client."),
    Setting("auth", "anonymous_read", str, "loopback",
            "Anonymous access to /api/4: loopback (while bound to loopback and no proxy is "
            "trusted), always, never."),
    Setting("auth", "cache_seconds", float, 10.0,
            "Seconds a verified credential is reused before it is checked again."),
    Setting("auth", "system_cache_seconds", float, 600.0,
            "Seconds a verified system token is reused (revocations still apply within 1 s)."),
    Setting("auth", "login_token_days", float, 90.0, "Lifetime of a POST /api/v1/login token."),
    Setting("auth", "max_failures", int, 10,
            "Failures of one credential from one address within failure_window_seconds "
            "before 429 (an address spraying many credentials: ten times as many)."),
    Setting("auth", "failure_window_seconds", float, 300.0, "The window of max_failures."),
    Setting("storage", "data_dir", str, "", "Directory of the SQLite file and other state.",
            env="FLEETWATCH_HOME"),
    Setting("storage", "database", str, "", "Database URL: sqlite:///path or postgresql://...",
            secret=True, env="FLEETWATCH_DATABASE"),
    Setting("storage", "queue_size", int, 10_000, "Writes waiting for commit before 503."),
    Setting("storage", "retention_days", float, 30.0,
            "Snapshots older than this many days are pruned (0: kept forever)."),
    Setting("storage", "rollup_minute_days", float, 90.0,
            "1-minute history averages older than this many days are pruned (0: kept forever)."),
    Setting("storage", "rollup_hour_days", float, 730.0,
            "1-hour history averages older than this many days are pruned (0: kept forever)."),
    Setting("collector", "history_size", int, 1200, "Points of history kept per field."),
    Setting("collector", "store_interval", float, 60.0,
            "Seconds between two stored snapshots of the hub's own machine (0: never)."),
    Setting("checks", "auto_create", bool, False,
            "A passive result for an unknown host or service creates it (OP5 refuses it)."),
    Setting("server", "public_url", str, "",
            "The hub's address as people reach it (https://hub.example.com): links in messages."),
    Setting("notify", "enabled", bool, True,
            "Run the notification dispatcher and delivery worker in this hub."),
    Setting("notify", "worker", str, "process",
            "Where delivery runs: process (a child of the hub, from the first channel on), "
            "inline (in the hub's own process) or off (run `fleetwatch notify worker` "
            "elsewhere)."),
    Setting("notify", "worker_nice", int, 10,
            "How much the delivery process lowers its CPU priority (nice, 0-19): under a "
            "storm the cores go to ingestion first, and the messages follow."),
    Setting("notify", "timeout_seconds", float, 10.0, "Longest wait for one send to a channel."),
    Setting("notify", "concurrency", int, 4, "Sends in flight per channel at most."),
    Setting("notify", "retry_first_seconds", float, 10.0,
            "Wait after a failed send; doubled after each further failure."),
    Setting("notify", "retry_longest_seconds", float, 3600.0, "Longest wait between two tries."),
    Setting("notify", "give_up_after_seconds", float, 86400.0,
            "A delivery not sent this long after it was made is marked failed."),
    Setting("notify", "poll_seconds", float, 0.5,
            "How often the dispatcher and the worker look for work (sooner when woken)."),
    Setting("events", "max_streams", int, 100,
            "Open GET /api/v1/events.stream connections at most."),
    Setting("events", "stream_buffer", int, 1000,
            "Events held per stream for a slow client before the oldest are dropped."),
    Setting("events", "heartbeat_seconds", float, 15.0,
            "A comment line on an idle stream this often."),
    Setting("events", "max_stream_seconds", float, 3600.0,
            "A stream ends after this long; the client reconnects with Last-Event-ID."),
    Setting("events", "replay_max", int, 1000, "Events replayed after a Last-Event-ID at most."),
    Setting("query", "default_count", int, 50, "Records per page of a list endpoint by default."),
    Setting("query", "max_count", int, 100,
            "Largest page of a list endpoint; a larger count is lowered to it (0 streams all)."),
    Setting("query", "exact_total", int, 10_000,
            "List totals are exact up to this many matches, estimated above it."),
    Setting("query", "time_limit_seconds", float, 10.0,
            "A list query running longer is cancelled and answered 503."),
    Setting("query", "per_client", int, 1,
            "List queries and OP5 filters one client may run at once; more wait their turn."),
    Setting("query", "statistics_max_age", float, 60.0,
            "Seconds GET /api/v1/statistics reuses its figures (?refresh=true recomputes)."),
    Setting("metrics", "refresh_seconds", float, 5.0,
            "Seconds between two renderings of GET /metrics while it is scraped."),
    Setting("console", "refresh_seconds", float, 5.0,
            "Seconds between two updates of an open console page (one request each)."),
    Setting("console", "stale_minimum_seconds", float, 120.0,
            "A pushing system is stale after 3 x its interval, and never sooner than this."),
    # Several hubs on one PostgreSQL database (README: "Several hubs on one PostgreSQL").
    Setting("server", "system_name", str, "",
            "The hub's own machine's system name; empty: its host name, or host-port when "
            "another live hub on the database holds that name."),
    Setting("storage", "rollup_every_seconds", float, 60.0,
            "Seconds between two roll-up passes (the hub holding the roll-up job)."),
    Setting("storage", "retention_every_seconds", float, 3600.0,
            "Seconds between two retention passes (the hub holding the retention job)."),
)  # fmt: skip

SETTINGS_BY_NAME = {(s.section, s.key): s for s in SETTINGS}
CORE_SECTIONS = {s.section for s in SETTINGS}
PLUGIN_SECTIONS = set(GLANCES_DEFAULTS) | {
    "cloud", "connections", "irq", "raid", "smart", "vms", "fs", "diskio", "network",
}  # fmt: skip
PLUGIN_GENERIC_KEYS = {"disable", "hide", "show", "refresh", "alias", "hide_zero"}
# Section keys of plugins that Glances configures beyond its limits.
PLUGIN_EXTRA_KEYS = {"cloud": {"base_url", "timeout"}}
# Item attributes (``[ports] web_port = 443``, or ``[ports.web] port = 443``) that are numbers.
ITEM_NUMBER_ATTRIBUTES = {"port", "timeout", "refresh", "rtt_warning", "careful", "warning",
                          "critical", "countmin", "countmax"}  # fmt: skip
PLUGIN_KEY_PATTERN = re.compile(r"(.+_)?(careful|warning|critical|log|action|action_repeat)$")
NUMBER_KEY_PATTERN = re.compile(r"(.+_)?(careful|warning|critical)")
SECRET_PATTERN = re.compile(r"password|secret|token", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Config:
    """The effective settings of one hub process."""

    values: dict[str, dict[str, Any]]
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    # Hosts and services of [[checks.hosts]] / [[checks.services]] (config_checks.py).
    check_objects: tuple[DeclaredObject, ...] = ()
    # Channels and rules of [[notify.channels]] / [[notify.rules]] (config_notify.py).
    notify_channels: tuple[ChannelSpec, ...] = ()
    notify_rules: tuple[Rule, ...] = ()

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def bind(self) -> str:
        return str(self.get("server", "bind"))

    @property
    def port(self) -> int:
        return int(self.get("server", "port"))

    @property
    def url_prefix(self) -> str:
        return normalise_prefix(str(self.get("server", "url_prefix")))

    @property
    def refresh(self) -> float:
        return float(self.get("server", "refresh"))

    @property
    def data_dir(self) -> Path:
        return Path(str(self.get("storage", "data_dir")) or _default_data_dir()).expanduser()

    @property
    def database(self) -> str:
        url = str(self.get("storage", "database"))
        return url or f"sqlite:///{self.data_dir / 'fleetwatch.sqlite3'}"

    def masked(self) -> dict[str, dict[str, Any]]:
        """The settings as ``/api/4/config`` shows them: secrets never leave the process."""
        out: dict[str, dict[str, Any]] = {}
        for section, values in {**self.values, **self.plugins}.items():
            shown: dict[str, Any] = {}
            for key, value in values.items():
                setting = SETTINGS_BY_NAME.get((section, key))
                # A declared setting is a secret when the table says so (auth.login_token_days
                # is not); an undeclared key, by its name.
                secret = setting.secret if setting is not None else SECRET_PATTERN.search(key)
                shown[key] = mask_url(str(value)) if secret and value else value
            out[section] = shown
        return out


def normalise_prefix(prefix: str) -> str:
    """``glances``, ``/glances/`` and ``/glances`` all mean ``/glances``; empty means none."""
    prefix = prefix.strip().strip("/")
    return f"/{prefix}" if prefix else ""


def mask_url(value: str) -> str:
    """Hide a password inside a URL, or the whole value when it is not a URL."""
    # The user information runs to the last "@" before the path, so that an unencoded "@"
    # inside the password is hidden too; libpq also takes a password=... query parameter.
    match = re.match(r"^([a-z][a-z0-9+.-]*://)([^/?#]*@)?(.*)$", value, re.IGNORECASE)
    if not match:
        return "********"
    scheme, userinfo, rest = match.groups()
    if userinfo and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":********@"
    rest = re.sub(r"([?&]password=)[^&#]*", r"\1********", rest, flags=re.IGNORECASE)
    return f"{scheme}{userinfo or ''}{rest}"


def _cast(setting: Setting, value: Any, origin: str) -> Any:
    name = f"{setting.section}.{setting.key}"
    kind = setting.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"{origin}: {name} must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ConfigError(f"{origin}: {name} must be an integer, not {value!r}")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise ConfigError(f"{origin}: {name} must be a number, not {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: {name} must be a string, not {value!r}")
    return value


def _check_plugin_key(section: str, key: str, origin: str) -> None:
    known = {k.removeprefix(f"{section}_") for k in GLANCES_DEFAULTS.get(section, {})}
    if key in known or key in PLUGIN_GENERIC_KEYS or PLUGIN_KEY_PATTERN.fullmatch(key):
        return
    if key in PLUGIN_EXTRA_KEYS.get(section, ()) or split_item_key(section, key) is not None:
        return
    raise ConfigError(f"{origin}: unknown key {key!r} in section [{section}]")


def _wants_number(section: str, key: str) -> bool:
    """Thresholds, refresh intervals and keys whose Glances default is a number."""
    default = GLANCES_DEFAULTS.get(section, {}).get(f"{section}_{key}")
    item = split_item_key(section, key)
    return (
        isinstance(default, int | float)
        or key in {"refresh", "timeout"}
        or (item is not None and item[1] in ITEM_NUMBER_ATTRIBUTES)
        or NUMBER_KEY_PATTERN.fullmatch(key) is not None
    )


def _merge(
    values: dict[str, dict[str, Any]],
    plugins: dict[str, dict[str, Any]],
    section: str,
    key: str,
    value: Any,
    origin: str,
) -> None:
    if section in CORE_SECTIONS:
        setting = SETTINGS_BY_NAME.get((section, key))
        if setting is None:
            raise ConfigError(f"{origin}: unknown key {key!r} in section [{section}]")
        values[section][key] = _cast(setting, value, origin)
    elif section in PLUGIN_SECTIONS:
        _check_plugin_key(section, key, origin)
        try:
            limit = coerce_limit(f"{section}.{key}", value)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
        if _wants_number(section, key) and not isinstance(limit, float):
            raise ConfigError(f"{origin}: {section}.{key} must be a number, not {value!r}")
        plugins.setdefault(section, {})[key] = value
    else:
        raise ConfigError(f"{origin}: unknown section [{section}]")


def _flatten_items(section: str, table: dict[str, Any]) -> list[tuple[str, Any]]:
    """``[ports.web] host = ...`` is ``[ports] web_host = ...``: items as TOML sub-tables."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, dict) and section in ITEM_ATTRIBUTES:
            out += [(f"{key}_{attr}", v) for attr, v in value.items()]
        else:
            out.append((key, value))
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _split_env(name: str) -> tuple[str, str] | None:
    rest = name[len(ENV_PREFIX) :].lower()
    section, sep, key = rest.partition("_")
    if not sep or section not in CORE_SECTIONS | PLUGIN_SECTIONS:
        return None
    return section, key


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[tuple[str, str], Any] | None = None,
) -> Config:
    """Build the effective settings; raises ConfigError with a one-line message."""
    env = os.environ if env is None else env
    values: dict[str, dict[str, Any]] = {s: {} for s in CORE_SECTIONS}
    for s in SETTINGS:
        values[s.section][s.key] = s.default
    plugins: dict[str, dict[str, Any]] = {}
    if path is None and env.get("FLEETWATCH_CONFIG"):
        path = Path(env["FLEETWATCH_CONFIG"])
    declared: list[DeclaredObject] = []
    channels: list[ChannelSpec] = []
    rules: list[Rule] = []
    if path is not None:
        for section, table in _read_toml(path).items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
            if section == "checks":
                declared += _declared_checks(table, str(path))
            if section == "notify":
                channels, rules = _declared_notify(table, str(path))
            for key, value in _flatten_items(section, table):
                _merge(values, plugins, section, key, value, str(path))
    for s in SETTINGS:
        if s.env and s.env in env:
            values[s.section][s.key] = _cast(s, env[s.env], s.env)
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and (parts := _split_env(name)):
            _merge(values, plugins, parts[0], parts[1], value, name)
    for (section, key), value in (flags or {}).items():
        if value is not None:
            _merge(values, plugins, section, key, value, f"--{key.replace('_', '-')}")
    return Config(values=values, plugins=plugins, path=path, check_objects=tuple(declared),
                  notify_channels=tuple(channels), notify_rules=tuple(rules))  # fmt: skip


def _declared_checks(table: dict[str, Any], origin: str) -> list[DeclaredObject]:
    """Take the arrays of tables out of [checks]; its other keys are plain settings."""
    declared: list[DeclaredObject] = []
    for key in ("hosts", "services"):
        if key in table:
            try:
                declared += parse_declared(key, table.pop(key), origin)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return declared


def _declared_notify(table: dict[str, Any], origin: str) -> tuple[list[ChannelSpec], list[Rule]]:
    """Take the arrays of tables out of [notify]; its other keys are plain settings."""
    try:
        channels = parse_channels(table.pop("channels", []), origin)
        rules = parse_rules(table.pop("rules", []), origin)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return channels, rules
