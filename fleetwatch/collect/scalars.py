"""The one-value plugins: ``uptime``, ``version``, ``psutilversion``, ``now`` and ``help``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch import __version__
from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec


def format_uptime(seconds: float) -> str:
    """Glances' uptime text: ``"8 days, 18:39:26"`` (``str`` of a whole-second timedelta)."""
    return str(dt.timedelta(seconds=int(max(seconds, 0))))


class UptimeCollector:
    spec = PluginSpec(name="uptime", shape="scalar")

    def __init__(self, boot_time: Callable[[], float] = psutil.boot_time) -> None:
        self._boot = boot_time()

    def collect(self, ctx: CollectContext) -> str:
        return format_uptime(ctx.now - self._boot)


class VersionCollector:
    spec = PluginSpec(name="version", shape="scalar")

    def collect(self, ctx: CollectContext) -> str:
        return __version__


class PsutilVersionCollector:
    spec = PluginSpec(name="psutilversion", shape="scalar")

    def collect(self, ctx: CollectContext) -> str:
        return str(psutil.__version__)


class NowCollector:
    spec = PluginSpec(name="now", shape="dict")

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        local = dt.datetime.fromtimestamp(ctx.now).astimezone()
        return {
            "custom": local.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "iso": local.replace(microsecond=0).isoformat(),
        }


class HelpCollector:
    """Glances' ``help`` plugin: an object of labelled lines (Glances' fills its terminal UI's
    help screen; the reference's ``None`` is a generation artefact, and clients such as
    Glances' own test suite expect an object). Ours says what runs and where the docs are."""

    spec = PluginSpec(name="help", shape="dict")

    def collect(self, ctx: CollectContext) -> dict[str, str]:
        return {
            "version": f"Fleetwatch {__version__}",
            "psutil_version": f" with psutil {psutil.__version__}",
            "api": "Glances REST API v4 under /api/4 (see /api/4/pluginslist)",
            "documentation": "/docs (Swagger UI) and /openapi.json",
        }
