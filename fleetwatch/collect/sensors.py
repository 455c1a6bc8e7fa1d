"""``sensors``: temperatures, fan speeds and the battery, as psutil reads them from sysfs.

``warning`` and ``critical`` come from the limits (``sensors_<type>_warning``, or per sensor
``sensors_<label>_warning`` with spaces as underscores), else from the chip's own ``high``
and ``critical`` values. Glances' ``sensors_refresh`` (6 s) applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(
    name="sensors",
    shape="list",
    key="label",
    history=("value",),
    refresh_limit="sensors_refresh",
)


def _temperatures() -> dict[str, list[Any]]:
    return psutil.sensors_temperatures() if hasattr(psutil, "sensors_temperatures") else {}


def _fans() -> dict[str, list[Any]]:
    return psutil.sensors_fans() if hasattr(psutil, "sensors_fans") else {}


def _battery() -> Any:
    return psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None


def _threshold(limits: Limits, label: str, kind: str, level: str, chip: float | None) -> Any:
    for name in (f"sensors_{label.replace(' ', '_')}_{level}", f"sensors_{kind}_{level}"):
        value = limits.get(name)
        if isinstance(value, float):
            return value
    return chip if chip else None


def _labelled(chip: str, entries: list[Any]) -> list[tuple[str, Any]]:
    """Entries with their label; unlabelled ones are named ``<chip> <n>`` as in Glances."""
    return [(e.label or f"{chip} {n}", e) for n, e in enumerate(entries)]


class SensorsCollector:
    spec = SPEC

    def __init__(
        self,
        temperatures: Callable[[], dict[str, list[Any]]] = _temperatures,
        fans: Callable[[], dict[str, list[Any]]] = _fans,
        battery: Callable[[], Any] = _battery,
    ) -> None:
        self._temperatures = temperatures
        self._fans = fans
        self._battery = battery

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        limits = ctx.limits.get("sensors", {})
        out: list[dict[str, Any]] = []
        for chip, entries in self._temperatures().items():
            for label, e in _labelled(chip, entries):
                out.append(
                    self._item(
                        limits, label, "temperature_core", "C", e.current, e.high, e.critical
                    )
                )
        for chip, entries in self._fans().items():
            for label, e in _labelled(chip, entries):
                out.append(self._item(limits, label, "fan_speed", "R", e.current, None, None))
        battery = self._battery()
        if battery is not None:
            out.append(self._item(limits, "Battery", "battery", "%", battery.percent, None, None))
        return out

    @staticmethod
    def _item(
        limits: Limits,
        label: str,
        kind: str,
        unit: str,
        value: float,
        high: float | None,
        critical: float | None,
    ) -> dict[str, Any]:
        return {
            "key": "label",
            "label": label,
            "unit": unit,
            "value": round(float(value), 1) if value is not None else None,
            "warning": _threshold(limits, label, kind, "warning", high),
            "critical": _threshold(limits, label, kind, "critical", critical),
            "type": kind,
        }
