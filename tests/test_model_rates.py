"""RateTracker: cumulative counters become Glances' delta, ``_gauge`` and ``_rate_per_sec``."""

from __future__ import annotations

from typing import Any

from fleetwatch.collect.diskio import SPEC as DISKIO
from fleetwatch.collect.network import SPEC as NETWORK
from fleetwatch.model.rates import RateTracker

T0 = 1_700_000_000.0


def nic(name: str, recv: int, sent: int) -> dict[str, Any]:
    return {"key": "interface_name", "interface_name": name, "bytes_recv": recv, "bytes_sent": sent}


def by_name(stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["interface_name"]: item for item in stats}


def test_first_reading_gives_zero_not_the_whole_counter() -> None:
    tracker = RateTracker(("ctx_switches",), None)

    stats = tracker.apply({"ctx_switches": 1_092_357_433, "cpucore": 16}, T0)

    assert stats == {
        "ctx_switches": 0,
        "ctx_switches_gauge": 1_092_357_433,
        "ctx_switches_rate_per_sec": 0,
        "cpucore": 16,
        "time_since_update": 0,
    }


def test_second_reading_gives_delta_gauge_and_rate() -> None:
    tracker = RateTracker(("ctx_switches", "interrupts"), None)
    tracker.apply({"ctx_switches": 1000, "interrupts": 50}, T0)

    stats = tracker.apply({"ctx_switches": 1500, "interrupts": 50}, T0 + 2.0)

    assert stats["ctx_switches"] == 500
    assert stats["ctx_switches_gauge"] == 1500
    assert stats["ctx_switches_rate_per_sec"] == 250.0
    assert stats["interrupts"] == 0
    assert stats["interrupts_gauge"] == 50
    assert stats["interrupts_rate_per_sec"] == 0.0
    assert stats["time_since_update"] == 2.0


def test_rate_is_per_second_of_elapsed_time_rounded() -> None:
    tracker = RateTracker(("read_bytes",), None)
    tracker.apply({"read_bytes": 0}, T0)

    stats = tracker.apply({"read_bytes": 1000}, T0 + 3.0)

    assert stats["read_bytes_rate_per_sec"] == 333.333
    assert stats["time_since_update"] == 3.0


def test_counter_reset_gives_zero_and_counts_on_from_the_new_value() -> None:
    tracker = RateTracker(("bytes_recv",), None)
    tracker.apply({"bytes_recv": 10_000}, T0)

    after_reset = tracker.apply({"bytes_recv": 300}, T0 + 1.0)
    assert after_reset["bytes_recv"] == 0
    assert after_reset["bytes_recv_rate_per_sec"] == 0
    assert after_reset["bytes_recv_gauge"] == 300

    next_round = tracker.apply({"bytes_recv": 800}, T0 + 2.0)
    assert next_round["bytes_recv"] == 500
    assert next_round["bytes_recv_rate_per_sec"] == 500.0


def test_list_items_are_tracked_by_their_key_whatever_their_order() -> None:
    tracker = RateTracker(("bytes_recv", "bytes_sent"), "interface_name")
    tracker.apply([nic("eth0", 1000, 100), nic("wlan0", 5000, 500)], T0)

    stats = by_name(tracker.apply([nic("wlan0", 5600, 560), nic("eth0", 1100, 100)], T0 + 2.0))

    assert stats["eth0"]["bytes_recv"] == 100
    assert stats["eth0"]["bytes_recv_rate_per_sec"] == 50.0
    assert stats["eth0"]["bytes_sent"] == 0
    assert stats["wlan0"]["bytes_recv"] == 600
    assert stats["wlan0"]["bytes_sent"] == 60
    assert stats["wlan0"]["bytes_sent_rate_per_sec"] == 30.0
    assert stats["wlan0"]["bytes_recv_gauge"] == 5600


def test_new_item_starts_at_zero_while_known_items_get_rates() -> None:
    tracker = RateTracker(("bytes_recv",), "interface_name")
    tracker.apply([nic("eth0", 1000, 0)], T0)

    stats = by_name(tracker.apply([nic("eth0", 1200, 0), nic("tun0", 9_999_999, 0)], T0 + 1.0))

    assert stats["eth0"]["bytes_recv"] == 200
    assert stats["tun0"]["bytes_recv"] == 0
    assert stats["tun0"]["bytes_recv_rate_per_sec"] == 0
    assert stats["tun0"]["bytes_recv_gauge"] == 9_999_999
    assert stats["tun0"]["time_since_update"] == 0


def test_an_item_that_vanished_is_forgotten() -> None:
    tracker = RateTracker(("bytes_recv",), "interface_name")
    tracker.apply([nic("eth0", 1000, 0), nic("usb0", 1000, 0)], T0)
    tracker.apply([nic("eth0", 2000, 0)], T0 + 1.0)

    # usb0 comes back (re-plugged): no delta against the reading from before it went away.
    stats = by_name(tracker.apply([nic("eth0", 3000, 0), nic("usb0", 50_000, 0)], T0 + 2.0))

    assert stats["usb0"]["bytes_recv"] == 0
    assert stats["usb0"]["bytes_recv_gauge"] == 50_000
    assert stats["eth0"]["bytes_recv"] == 1000


def test_fields_that_are_not_numbers_are_left_alone() -> None:
    tracker = RateTracker(("bytes_recv",), None)
    tracker.apply({"bytes_recv": None}, T0)

    stats = tracker.apply({"bytes_recv": None}, T0 + 1.0)

    assert stats["bytes_recv"] is None
    assert "bytes_recv_gauge" not in stats


def test_no_rate_fields_leaves_stats_untouched() -> None:
    tracker = RateTracker((), None)
    stats = {"total": 12.5}

    assert tracker.apply(stats, T0) == {"total": 12.5}
    assert tracker.apply(stats, T0 + 1.0) == {"total": 12.5}


def test_rate_fields_come_from_the_plugin_field_metadata() -> None:
    assert set(NETWORK.rate_fields) == {"bytes_recv", "bytes_sent", "bytes_all"}
    assert set(DISKIO.rate_fields) == {"read_count", "write_count", "read_bytes", "write_bytes"}
    wire = NETWORK.wire_fields
    assert wire["bytes_recv_rate_per_sec"].unit == "byte per second"
    assert wire["bytes_recv_gauge"].unit == "byte"
    assert wire["time_since_update"].unit == "seconds"


def test_diskio_round_trip_with_the_plugin_spec() -> None:
    tracker = RateTracker(DISKIO.rate_fields, DISKIO.key)
    disk = {"key": "disk_name", "disk_name": "nvme0n1", "read_count": 10, "write_count": 20}
    tracker.apply([dict(disk, read_bytes=4096, write_bytes=0)], T0)

    (item,) = tracker.apply([dict(disk, read_count=14, read_bytes=8192, write_bytes=0)], T0 + 2)

    assert item["read_count"] == 4
    assert item["read_count_rate_per_sec"] == 2.0
    assert item["write_count"] == 0
    assert item["read_bytes"] == 4096
    assert item["read_bytes_rate_per_sec"] == 2048.0
    assert item["read_bytes_gauge"] == 8192
