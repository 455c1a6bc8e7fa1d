"""Views: per-field display hints with a decoration judged against the limits, as Glances does."""

from __future__ import annotations

from typing import Any

import pytest

from fleetwatch.collect.cpu import SPEC as CPU
from fleetwatch.collect.fs import SPEC as FS
from fleetwatch.collect.load import SPEC as LOAD
from fleetwatch.collect.mem import SPEC as MEM
from fleetwatch.collect.network import SPEC as NETWORK
from fleetwatch.collect.percpu import SPEC as PERCPU
from fleetwatch.model.limits import Limits, default_limits
from fleetwatch.model.views import build_views, decoration

VIEW_KEYS = {"decoration", "optional", "additional", "splittable", "hidden"}
GiB = 1024**3


def limits_of(plugin: str) -> Limits:
    return default_limits([plugin], 1200)[plugin]


def cpu_stats(**fields: float) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "total": 5.0,
        "user": 3.0,
        "nice": 0.0,
        "system": 2.0,
        "idle": 95.0,
        "iowait": 0.0,
        "irq": 0.0,
        "steal": 0.0,
        "guest": 0.0,
        "ctx_switches": 0,
        "ctx_switches_gauge": 1_000_000,
        "ctx_switches_rate_per_sec": 1000.0,
        "cpucore": 4,
    }
    stats.update(fields)
    return stats


def fs_item(mnt: str, size: int, used: int) -> dict[str, Any]:
    return {
        "key": "mnt_point",
        "device_name": "/dev/sda1",
        "fs_type": "ext4",
        "mnt_point": mnt,
        "options": "rw",
        "size": size,
        "used": used,
        "free": size - used,
        "percent": round(100.0 * used / size, 1),
    }


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0.0, "OK"),
        (64.9, "OK"),
        (65.0, "CAREFUL"),
        (74.9, "CAREFUL"),
        (75.0, "WARNING"),
        (84.9, "WARNING"),
        (85.0, "CRITICAL"),
        (100.0, "CRITICAL"),
    ],
)
def test_cpu_total_against_its_own_thresholds(total: float, expected: str) -> None:
    # cpu_total_careful/warning/critical are 65/75/85, unlike the 50/70/90 of user and system.
    views = build_views(CPU, cpu_stats(total=total), limits_of("cpu"))

    assert views["total"]["decoration"] == expected


def test_every_field_has_the_full_view_shape() -> None:
    stats = cpu_stats()
    views = build_views(CPU, stats, limits_of("cpu"))

    assert set(views) == set(stats)
    for view in views.values():
        assert set(view) == VIEW_KEYS
        assert view["optional"] is False
        assert view["additional"] is False
        assert view["splittable"] is False
        assert view["hidden"] is False


def test_fields_without_a_rule_are_default() -> None:
    views = build_views(CPU, cpu_stats(idle=2.0, nice=99.0), limits_of("cpu"))

    assert views["idle"]["decoration"] == "DEFAULT"
    assert views["nice"]["decoration"] == "DEFAULT"
    assert views["cpucore"]["decoration"] == "DEFAULT"


def test_user_system_iowait_use_their_stat_limits() -> None:
    stats = cpu_stats(user=55.0, system=71.0, iowait=7.0, steal=10.0)
    views = build_views(CPU, stats, limits_of("cpu"))

    assert views["user"]["decoration"] == "CAREFUL"
    assert views["system"]["decoration"] == "WARNING"
    # iowait thresholds are 5 / 5.625 / 6.25.
    assert views["iowait"]["decoration"] == "CRITICAL"
    assert views["steal"]["decoration"] == "OK"


def test_ctx_switches_are_judged_on_their_rate_not_the_delta() -> None:
    limits = limits_of("cpu")
    busy = build_views(CPU, cpu_stats(ctx_switches=10, ctx_switches_rate_per_sec=650_000), limits)
    quiet = build_views(CPU, cpu_stats(ctx_switches=10**9, ctx_switches_rate_per_sec=10), limits)

    # maximum 100: the value is its own percentage, compared with 640000/720000/800000.
    assert busy["ctx_switches"]["decoration"] == "CAREFUL"
    assert quiet["ctx_switches"]["decoration"] == "OK"


def test_plugin_level_limits_are_the_fallback() -> None:
    # mem has no mem_percent_* limits: mem_careful/warning/critical (50/70/90) apply.
    limits = limits_of("mem")

    assert build_views(MEM, {"percent": 49.9}, limits)["percent"]["decoration"] == "OK"
    assert build_views(MEM, {"percent": 50.0}, limits)["percent"]["decoration"] == "CAREFUL"
    assert build_views(MEM, {"percent": 70.0}, limits)["percent"]["decoration"] == "WARNING"
    assert build_views(MEM, {"percent": 93.2}, limits)["percent"]["decoration"] == "CRITICAL"


def test_stat_limit_wins_over_plugin_limit() -> None:
    limits = limits_of("cpu")
    limits["cpu_careful"] = 1.0
    limits["cpu_warning"] = 2.0
    limits["cpu_critical"] = 3.0

    views = build_views(CPU, cpu_stats(total=50.0), limits)

    assert views["total"]["decoration"] == "OK"


def test_no_limits_at_all_is_default() -> None:
    views = build_views(CPU, cpu_stats(total=99.0), {})

    assert views["total"]["decoration"] == "DEFAULT"


def test_load_is_judged_per_core() -> None:
    # Glances: min15 * 100 / (100 * cpucore) against load_careful 0.7, warning 1.0, critical 5.0.
    limits = limits_of("load")
    views = build_views(LOAD, {"min1": 2.7, "min5": 4.0, "min15": 20.0, "cpucore": 4}, limits)

    assert views["min1"]["decoration"] == "OK"  # 0.675 per core
    assert views["min5"]["decoration"] == "WARNING"  # 1.0 per core
    assert views["min15"]["decoration"] == "CRITICAL"  # 5.0 per core
    assert views["cpucore"]["decoration"] == "DEFAULT"


def test_fs_used_is_a_percentage_of_size() -> None:
    stats = [fs_item("/", 100 * GiB, 20 * GiB), fs_item("/data", 100 * GiB, 95 * GiB)]

    views = build_views(FS, stats, limits_of("fs"))

    assert set(views) == {"/", "/data"}
    assert views["/"]["used"]["decoration"] == "OK"
    assert views["/data"]["used"]["decoration"] == "CRITICAL"
    assert views["/data"]["size"]["decoration"] == "DEFAULT"
    assert set(views["/data"]["mnt_point"]) == VIEW_KEYS


def test_fs_per_mount_limits_come_first() -> None:
    limits = limits_of("fs")
    limits["fs_/data_careful"] = 96.0
    limits["fs_/data_warning"] = 97.0
    limits["fs_/data_critical"] = 98.0
    stats = [fs_item("/", 100 * GiB, 95 * GiB), fs_item("/data", 100 * GiB, 95 * GiB)]

    views = build_views(FS, stats, limits)

    assert views["/"]["used"]["decoration"] == "CRITICAL"
    assert views["/data"]["used"]["decoration"] == "OK"


def test_fs_with_zero_size_is_default() -> None:
    item = fs_item("/proc", 1, 0) | {"size": 0, "used": 0, "free": 0, "percent": 0.0}

    views = build_views(FS, [item], limits_of("fs"))

    assert views["/proc"]["used"]["decoration"] == "DEFAULT"


def test_list_views_are_keyed_by_item_key_as_text() -> None:
    stats = [
        {"key": "cpu_number", "cpu_number": n, "user": u, "system": 1.0, "iowait": 0.0}
        for n, u in ((0, 10.0), (1, 75.0))
    ]

    views = build_views(PERCPU, stats, limits_of("percpu"))

    assert set(views) == {"0", "1"}
    assert views["0"]["user"]["decoration"] == "OK"
    assert views["1"]["user"]["decoration"] == "WARNING"
    assert views["1"]["system"]["decoration"] == "OK"


def test_network_rate_in_bits_against_link_speed() -> None:
    base = {"key": "interface_name", "alias": None, "bytes_recv": 0, "bytes_sent": 0}
    fast = base | {
        "interface_name": "eth0",
        "speed": 1_000_000_000,
        "bytes_recv_rate_per_sec": 100_000_000,  # 800 Mbit/s on a 1 Gbit/s link: 80 %
        "bytes_sent_rate_per_sec": 1_000,
    }
    unknown_speed = base | {
        "interface_name": "wlan0",
        "speed": 0,
        "bytes_recv_rate_per_sec": 100_000_000,
        "bytes_sent_rate_per_sec": 0,
    }

    views = build_views(NETWORK, [fast, unknown_speed], limits_of("network"))

    assert views["eth0"]["bytes_recv"]["decoration"] == "WARNING"
    assert views["eth0"]["bytes_sent"]["decoration"] == "OK"
    assert views["wlan0"]["bytes_recv"]["decoration"] == "DEFAULT"


def test_missing_or_non_numeric_values_are_default() -> None:
    limits = limits_of("mem")

    assert build_views(MEM, {"percent": None}, limits)["percent"]["decoration"] == "DEFAULT"
    assert build_views(MEM, {"percent": "high"}, limits)["percent"]["decoration"] == "DEFAULT"
    assert build_views(MEM, {"percent": True}, limits)["percent"]["decoration"] == "DEFAULT"


def test_other_shapes_have_empty_views() -> None:
    assert build_views(CPU, None, limits_of("cpu")) == {}
    assert build_views(CPU, "1:04:29", limits_of("cpu")) == {}


def test_decoration_function_per_item_then_stat_then_plugin() -> None:
    limits: Limits = {
        "network_eth0_careful": 10.0,
        "network_eth0_warning": 20.0,
        "network_eth0_critical": 30.0,
        "network_rx_careful": 70.0,
        "network_rx_warning": 80.0,
        "network_rx_critical": 90.0,
    }

    assert decoration(25.0, 100.0, limits, "network", "network_rx", "eth0") == "WARNING"
    assert decoration(25.0, 100.0, limits, "network", "network_rx", "wlan0") == "OK"
    assert decoration(85.0, 100.0, limits, "network", "network_rx", "wlan0") == "WARNING"
    assert decoration(85.0, 100.0, limits, "network", "network_rx") == "WARNING"


def test_decoration_value_as_percent_of_maximum() -> None:
    limits: Limits = {"mem_careful": 50.0, "mem_warning": 70.0, "mem_critical": 90.0}

    assert decoration(8.0, 16.0, limits, "mem", "mem") == "CAREFUL"
    assert decoration(15.0, 16.0, limits, "mem", "mem") == "CRITICAL"
    assert decoration(8.0, 0.0, limits, "mem", "mem") == "DEFAULT"
    assert decoration(None, 16.0, limits, "mem", "mem") == "DEFAULT"
