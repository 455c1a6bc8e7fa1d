"""``sensors``: psutil's temperatures, fans and battery. This machine (a VM) exposes none:
psutil answers empty, so the live plugin answers ``[]`` and the test says so. The
conversion runs on readings recorded from a laptop (psutil's own named tuples)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import psutil
import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.live import LiveStats
from fleetwatch.collect.sensors import SensorsCollector
from fleetwatch.model.limits import Limits, apply_overrides, default_limits


class shwtemp(NamedTuple):
    label: str
    current: float
    high: float | None
    critical: float | None


class sfan(NamedTuple):
    label: str
    current: int


class sbattery(NamedTuple):
    percent: float
    secsleft: int
    power_plugged: bool | None


TEMPERATURES = {
    "coretemp": [
        shwtemp("Package id 0", 52.0, 100.0, 100.0),
        shwtemp("Core 0", 49.0, 100.0, 100.0),
    ],
    "nvme": [shwtemp("Composite", 38.85, 84.85, 84.85)],
    "acpitz": [shwtemp("", 27.8, None, None)],
}
FANS = {"dell_smm": [sfan("CPU Fan", 2380), sfan("", 0)]}
BATTERY = sbattery(percent=93.0, secsleft=psutil.POWER_TIME_UNLIMITED, power_plugged=True)


def collect(limits: dict[str, Limits] | None = None, battery: Any = BATTERY) -> list[Any]:
    collector = SensorsCollector(
        temperatures=lambda: TEMPERATURES, fans=lambda: FANS, battery=lambda: battery
    )
    ctx = CollectContext(now=time.time(), limits=limits or default_limits(["sensors"], 1200))
    return collector.collect(ctx)


def by_label(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["label"]: item for item in items}


def test_recorded_readings_become_glances_items() -> None:
    items = by_label(collect())

    assert items["Package id 0"] == {
        "key": "label",
        "label": "Package id 0",
        "unit": "C",
        "value": 52.0,
        "warning": 100.0,
        "critical": 100.0,
        "type": "temperature_core",
    }
    assert items["Composite"]["value"] == 38.9
    assert items["CPU Fan"] == {
        "key": "label", "label": "CPU Fan", "unit": "R", "value": 2380.0,
        "warning": None, "critical": None, "type": "fan_speed",
    }  # fmt: skip
    assert items["Battery"]["type"] == "battery"
    assert items["Battery"]["unit"] == "%"
    # Glances' battery thresholds from its limits.
    assert (items["Battery"]["warning"], items["Battery"]["critical"]) == (80.0, 90.0)


def test_unlabelled_entries_are_named_after_their_chip() -> None:
    items = by_label(collect())

    assert items["acpitz 0"]["value"] == 27.8
    assert items["acpitz 0"]["warning"] is None
    assert items["dell_smm 1"]["type"] == "fan_speed"


def test_limits_override_the_chip_thresholds_per_type_and_per_sensor() -> None:
    limits = default_limits(["sensors"], 1200)
    apply_overrides(limits, "sensors", {"temperature_core_warning": 70, "Core_0_critical": 95})

    items = by_label(collect(limits))

    assert items["Package id 0"]["warning"] == 70.0
    assert items["Package id 0"]["critical"] == 100.0
    assert items["Core 0"]["critical"] == 95.0


def test_no_battery() -> None:
    assert "Battery" not in by_label(collect(battery=None))


def test_hide_rules_and_refresh_limit_apply_in_the_loop() -> None:
    limits = default_limits(["sensors"], 1200)
    apply_overrides(limits, "sensors", {"hide": ["Core.*", "acpitz.*"]})
    collector = SensorsCollector(
        temperatures=lambda: TEMPERATURES, fans=lambda: FANS, battery=lambda: BATTERY
    )
    now = [1000.0]
    live = LiveStats([collector], limits, refresh=2.0, history_size=10, clock=lambda: now[0])

    first = live.gather()["fresh"]["sensors"]
    now[0] += 2.0
    second = live.gather()["fresh"]
    now[0] += 4.5

    labels = [item["label"] for item in first]
    assert "Core 0" not in labels
    assert "acpitz 0" not in labels
    assert "Package id 0" in labels
    assert "sensors" not in second  # sensors_refresh is 6 s: not due 2 s later
    assert "sensors" in live.gather()["fresh"]


def test_live_machine() -> None:
    items = SensorsCollector().collect(
        CollectContext(now=time.time(), limits=default_limits(["sensors"], 1200))
    )
    readable = bool(psutil.sensors_temperatures() or psutil.sensors_fans())
    if not readable and psutil.sensors_battery() is None:
        # This machine exposes no hwmon sensor, fan or battery: Glances' empty list.
        assert items == []
    else:
        assert items
        assert all(i["type"] in {"temperature_core", "fan_speed", "battery"} for i in items)


@pytest.mark.parametrize("field", ["label", "unit", "value", "warning", "critical", "type"])
def test_fields_are_described(field: str) -> None:
    assert field in SensorsCollector.spec.wire_fields
