"""The collector protocol: a plugin's spec plus one ``collect`` call per refresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec


@dataclass(slots=True)
class CollectContext:
    """What one collection round shares between plugins.

    ``results`` holds the stats already gathered in this round, so that ``quicklook`` reuses
    the cpu figures and ``processcount`` the process table instead of asking the OS twice.
    """

    now: float
    limits: dict[str, Limits]
    results: dict[str, Any] = field(default_factory=dict)


class Collector(Protocol):
    """One plugin's gatherer. ``collect`` runs in the collector thread, never in a request."""

    spec: PluginSpec

    def collect(self, ctx: CollectContext) -> Any: ...


class EmptyCollector:
    """A plugin of the reference that this hub does not gather (yet, or on this platform)."""

    def __init__(self, spec: PluginSpec) -> None:
        self.spec = spec

    def collect(self, ctx: CollectContext) -> Any:
        return self.spec.empty()
