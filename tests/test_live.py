"""LiveStats: collection rounds, what gets published, and the background loop."""

from __future__ import annotations

import asyncio
import copy
import gzip
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from fleetwatch.collect.base import CollectContext, Collector
from fleetwatch.collect.diskio import SPEC as DISKIO
from fleetwatch.collect.live import PRIMING_SECONDS, LiveStats
from fleetwatch.collect.system import SPEC as SYSTEM
from fleetwatch.model.limits import Limits, default_limits
from fleetwatch.model.plugin import PluginSpec, ViewRule

THINGS = PluginSpec("things", "list", key="name")
GAUGE = PluginSpec("gauge", "dict", history=("value",), views=(ViewRule("value", "gauge"),))
WORDS = PluginSpec("words", "scalar")
SLOW = PluginSpec("slow", "dict", refresh_limit="slow_refresh")


class Fake:
    """A collector returning recorded stats: one value per call, the last one repeated."""

    def __init__(self, spec: PluginSpec, *values: Any) -> None:
        self.spec = spec
        self._values = list(values)
        self.calls = 0
        self.seen: list[dict[str, Any]] = []

    def collect(self, ctx: CollectContext) -> Any:
        self.seen.append(dict(ctx.results))
        value = self._values[min(self.calls, len(self._values) - 1)]
        self.calls += 1
        if isinstance(value, Exception):
            raise value
        return copy.deepcopy(value)


class Clock:
    def __init__(self, now: float = 1_751_263_432.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def things(*names: str) -> list[dict[str, Any]]:
    return [{"key": "name", "name": name, "value": i} for i, name in enumerate(names)]


def make_live(
    collectors: list[Collector],
    limits: dict[str, Limits] | None = None,
    clock: Callable[[], float] = time.time,
    refresh: float = 2.0,
) -> LiveStats:
    return LiveStats(collectors, limits or {}, refresh=refresh, history_size=10, clock=clock)


def round_trip(live: LiveStats) -> None:
    live.publish(live.gather())


def published_stats(live: LiveStats, name: str) -> Any:
    assert live.published is not None
    return orjson.loads(live.published.states[name].body)


def test_publish_encodes_each_plugin_once_as_json() -> None:
    gauge = {"value": 42.5, "label": "ok", "nothing": None}
    live = make_live([Fake(GAUGE, gauge), Fake(THINGS, things("a", "b")), Fake(WORDS, "1:04:29")])

    round_trip(live)

    assert live.published is not None
    states = live.published.states
    assert states["gauge"].stats == gauge
    assert orjson.loads(states["gauge"].body) == gauge
    assert orjson.loads(states["things"].body) == things("a", "b")
    assert states["words"].body == b'"1:04:29"'
    assert live.collections == 1
    assert live.ready.is_set()


def test_all_body_is_one_json_object_of_every_plugin() -> None:
    live = make_live([Fake(GAUGE, {"value": 1}), Fake(THINGS, things("a")), Fake(WORDS, None)])

    round_trip(live)

    assert live.published is not None
    everything = orjson.loads(live.published.all_body)
    assert everything == {"gauge": {"value": 1}, "things": things("a"), "words": None}


def test_gzipped_bodies_decompress_to_the_bodies() -> None:
    live = make_live([Fake(THINGS, things(*(f"item{i}" for i in range(200))))])

    round_trip(live)

    assert live.published is not None
    state = live.published.states["things"]
    assert gzip.decompress(state.gzipped()) == state.body
    assert gzip.decompress(live.published.all_gzipped()) == live.published.all_body
    assert state.gzipped() is state.gzipped()  # compressed once


def test_hide_rules_fullmatch_case_insensitive() -> None:
    limits: dict[str, Limits] = {"things": {"things_hide": ["docker.*", "LO"]}}
    live = make_live([Fake(THINGS, things("lo", "Docker0", "eth0", "mydocker0", "lo2"))], limits)

    round_trip(live)

    names = [item["name"] for item in published_stats(live, "things")]
    assert names == ["eth0", "mydocker0", "lo2"]


def test_show_rules_keep_only_matching_items_and_win_over_hide() -> None:
    limits: dict[str, Limits] = {
        "things": {"things_show": ["eth.*", "wlan0"], "things_hide": ["eth1"]}
    }
    live = make_live([Fake(THINGS, things("lo", "eth0", "eth1", "wlan0", "wlan01"))], limits)

    round_trip(live)

    names = [item["name"] for item in published_stats(live, "things")]
    assert names == ["eth0", "eth1", "wlan0"]


def test_default_limits_hide_loop_devices() -> None:
    disks = [
        {"key": "disk_name", "disk_name": name, "read_count": 0, "write_count": 0}
        for name in ("loop0", "nvme0n1", "loop12")
    ]
    live = make_live([Fake(DISKIO, disks)], default_limits(["diskio"], 1200))

    round_trip(live)

    assert [d["disk_name"] for d in published_stats(live, "diskio")] == ["nvme0n1"]


def test_disabled_plugin_gives_its_empty_value_without_collecting() -> None:
    gauge = Fake(GAUGE, {"value": 1})
    items = Fake(THINGS, things("a"))
    limits: dict[str, Limits] = {
        "gauge": {"gauge_disable": ["True"]},
        "things": {"things_disable": ["true"]},
    }
    live = make_live([gauge, items], limits)

    round_trip(live)

    assert published_stats(live, "gauge") == {}
    assert published_stats(live, "things") == []
    assert gauge.calls == 0
    assert items.calls == 0
    assert live.disabled("gauge")


def test_refresh_limit_skips_a_plugin_until_due() -> None:
    clock = Clock()
    slow = Fake(SLOW, {"round": 1}, {"round": 2})
    fast = Fake(GAUGE, {"value": 1}, {"value": 2}, {"value": 3}, {"value": 4})
    live = make_live([slow, fast], {"slow": {"slow_refresh": 60.0}}, clock)

    round_trip(live)
    for _ in range(2):
        clock.now += 2.0
        round_trip(live)

    assert (slow.calls, fast.calls) == (1, 3)
    assert published_stats(live, "slow") == {"round": 1}  # kept from the earlier round
    assert published_stats(live, "gauge") == {"value": 3}

    clock.now += 56.0  # 60 s after the first round
    round_trip(live)

    assert (slow.calls, fast.calls) == (2, 4)
    assert published_stats(live, "slow") == {"round": 2}


def test_system_refresh_default_is_honoured() -> None:
    # The reference's system_refresh is 60 (an integer, unlike the other limits).
    clock = Clock()
    system = Fake(SYSTEM, {"hostname": "hub-01"})
    gauge = Fake(GAUGE, {"value": 1})
    live = make_live([system, gauge], default_limits(["system", "gauge"], 1200), clock)

    for _ in range(5):
        round_trip(live)
        clock.now += 2.0

    assert system.calls == 1
    assert gauge.calls == 5


def test_a_failing_collector_keeps_its_previous_stats(caplog: pytest.LogCaptureFixture) -> None:
    flaky = Fake(GAUGE, {"value": 1}, RuntimeError("sensor gone"), {"value": 3})
    steady = Fake(THINGS, things("a"), things("a", "b"), things("c"))
    live = make_live([flaky, steady])

    round_trip(live)
    with caplog.at_level(logging.ERROR, logger="fleetwatch.collect.live"):
        round_trip(live)

    assert published_stats(live, "gauge") == {"value": 1}
    assert [t["name"] for t in published_stats(live, "things")] == ["a", "b"]
    assert "gauge" in caplog.text
    assert "sensor gone" in caplog.text

    round_trip(live)

    assert published_stats(live, "gauge") == {"value": 3}


def test_a_collector_failing_from_the_start_publishes_the_empty_value() -> None:
    broken = Fake(THINGS, OSError("no such file"))
    live = make_live([broken, Fake(GAUGE, {"value": 1})])

    round_trip(live)

    assert published_stats(live, "things") == []
    assert published_stats(live, "gauge") == {"value": 1}


def test_later_collectors_see_earlier_results_of_the_round() -> None:
    first = Fake(GAUGE, {"value": 1}, {"value": 2})
    second = Fake(THINGS, [])
    live = make_live([first, second])

    round_trip(live)
    round_trip(live)

    assert second.seen[0]["gauge"] == {"value": 1}
    assert second.seen[1]["gauge"] == {"value": 2}


def test_counter_fields_get_rates_between_rounds() -> None:
    clock = Clock()
    disk = {"key": "disk_name", "disk_name": "sda", "read_count": 100, "write_count": 0}
    later = disk | {"read_count": 160}
    live = make_live([Fake(DISKIO, [disk], [later])], clock=clock)

    round_trip(live)
    clock.now += 2.0
    round_trip(live)

    (item,) = published_stats(live, "diskio")
    assert item["read_count"] == 60
    assert item["read_count_gauge"] == 160
    assert item["read_count_rate_per_sec"] == 30.0
    assert item["time_since_update"] == 2.0


def test_history_is_recorded_on_publish() -> None:
    clock = Clock()
    live = make_live([Fake(GAUGE, {"value": 1.0}, {"value": 2.0})], clock=clock)

    fresh = live.gather()
    assert live.history["gauge"].as_json() == {}

    live.publish(fresh)
    clock.now += 2.0
    round_trip(live)

    assert [v for _, v in live.history["gauge"].as_json()["value"]] == [1.0, 2.0]


def test_views_use_the_plugin_limits() -> None:
    limits: dict[str, Limits] = {
        "gauge": {"gauge_careful": 50.0, "gauge_warning": 70.0, "gauge_critical": 90.0}
    }
    live = make_live([Fake(GAUGE, {"value": 75.0, "other": 1})], limits)

    round_trip(live)

    assert live.published is not None
    views = live.published.states["gauge"].views
    assert views["value"]["decoration"] == "WARNING"
    assert views["other"]["decoration"] == "DEFAULT"


@pytest.mark.anyio
async def test_run_publishes_a_first_round_soon_then_stops() -> None:
    disk = {"key": "disk_name", "disk_name": "sda", "read_count": 0, "write_count": 0}
    counter = Fake(DISKIO, [disk], [disk | {"read_count": 50}], [disk | {"read_count": 100}])
    gauge = Fake(GAUGE, {"value": 1.0})
    live = make_live([counter, gauge], refresh=0.05)
    stop = asyncio.Event()

    started = time.monotonic()
    task = asyncio.create_task(live.run(stop))
    first = await live.current(wait_seconds=3.0)
    elapsed = time.monotonic() - started

    assert elapsed < PRIMING_SECONDS + 0.4
    # The priming round set the baselines: the first published round has a real rate.
    (item,) = orjson.loads(first.states["diskio"].body)
    assert item["read_count"] == 50
    assert item["read_count_rate_per_sec"] > 0
    assert orjson.loads(first.states["gauge"].body) == {"value": 1.0}

    stop.set()
    await asyncio.wait_for(task, timeout=1.0)
    assert task.done()
    rounds = live.collections
    await asyncio.sleep(0.1)
    assert live.collections == rounds  # nothing runs after the stop


@pytest.mark.anyio
async def test_run_returns_at_once_when_already_stopped() -> None:
    live = make_live([Fake(GAUGE, {"value": 1.0})])
    stop = asyncio.Event()
    stop.set()

    await asyncio.wait_for(live.run(stop), timeout=1.0)

    assert live.published is None
