"""History: bounded series per field, served as ``[[iso timestamp, value], ...]``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fleetwatch.collect.cpu import SPEC as CPU
from fleetwatch.collect.network import SPEC as NETWORK
from fleetwatch.model.history import History

T0 = dt.datetime(2025, 6, 30, 8, 3, 54, 573558).timestamp()


def nic(name: str, recv_rate: float, sent_rate: float) -> dict[str, Any]:
    return {
        "key": "interface_name",
        "interface_name": name,
        "bytes_recv_rate_per_sec": recv_rate,
        "bytes_sent_rate_per_sec": sent_rate,
    }


def test_dict_plugin_series_are_named_by_field() -> None:
    history = History(1200)

    history.record({"total": 6.9, "user": 4.5, "system": 2.9, "idle": 92.1}, T0, CPU.history, None)

    assert sorted(history.names()) == ["system", "total", "user"]
    assert history.as_json() == {
        "total": [["2025-06-30T08:03:54.573558", 6.9]],
        "user": [["2025-06-30T08:03:54.573558", 4.5]],
        "system": [["2025-06-30T08:03:54.573558", 2.9]],
    }


def test_list_plugin_series_are_named_key_value_then_field() -> None:
    history = History(1200)

    history.record(
        [nic("eth0", 10.0, 1.0), nic("wlan0", 20.0, 2.0)], T0, NETWORK.history, "interface_name"
    )

    assert sorted(history.names()) == [
        "eth0_bytes_recv_rate_per_sec",
        "eth0_bytes_sent_rate_per_sec",
        "wlan0_bytes_recv_rate_per_sec",
        "wlan0_bytes_sent_rate_per_sec",
    ]
    assert history.as_json(["wlan0_bytes_sent_rate_per_sec"]) == {
        "wlan0_bytes_sent_rate_per_sec": [["2025-06-30T08:03:54.573558", 2.0]]
    }


def test_ring_buffer_keeps_only_the_newest_points() -> None:
    history = History(3)

    for i in range(5):
        history.add("total", T0 + i, float(i))

    values = [value for _, value in history.as_json()["total"]]
    assert values == [2.0, 3.0, 4.0]


def test_size_below_one_still_keeps_the_latest_point() -> None:
    history = History(0)

    history.add("total", T0, 1.0)
    history.add("total", T0 + 1, 2.0)

    assert [value for _, value in history.as_json()["total"]] == [2.0]


def test_last_n_returns_the_newest_points_in_order() -> None:
    history = History(1200)
    for i in range(10):
        history.add("system", T0 + i, i / 10)

    points = history.as_json(last=2)["system"]

    assert [value for _, value in points] == [0.8, 0.9]
    assert [when for when, _ in points] == [
        "2025-06-30T08:04:02.573558",
        "2025-06-30T08:04:03.573558",
    ]


def test_last_larger_than_series_or_zero_returns_everything() -> None:
    history = History(1200)
    for i in range(3):
        history.add("total", T0 + i, i)

    assert len(history.as_json(last=50)["total"]) == 3
    assert len(history.as_json(last=0)["total"]) == 3


def test_timestamps_are_naive_local_iso_that_parse_back() -> None:
    history = History(10)
    history.add("total", T0, 1.0)

    ((stamp, _),) = history.as_json()["total"]
    parsed = dt.datetime.fromisoformat(stamp)

    assert parsed.tzinfo is None
    assert parsed.timestamp() == T0


def test_unknown_names_are_left_out() -> None:
    history = History(10)
    history.add("total", T0, 1.0)

    assert history.as_json(["total", "nope"]) == {"total": [["2025-06-30T08:03:54.573558", 1.0]]}
    assert history.as_json(["nope"]) == {}


def test_fields_missing_from_stats_or_no_history_fields_record_nothing() -> None:
    history = History(10)

    history.record({"idle": 92.1}, T0, CPU.history, None)
    history.record({"total": 5.0}, T0, (), None)
    history.record([nic("eth0", 1.0, 1.0)], T0, NETWORK.history, None)

    assert history.names() == []
    assert history.as_json() == {}


def test_series_grow_independently() -> None:
    history = History(5)
    history.record({"total": 1.0, "user": 0.5}, T0, CPU.history, None)
    history.record({"total": 2.0}, T0 + 1, CPU.history, None)

    out = history.as_json()

    assert [v for _, v in out["total"]] == [1.0, 2.0]
    assert [v for _, v in out["user"]] == [0.5]
