"""``amps``: configured regexes counted in this round's real process table (this machine's
``processlist``: the pytest process itself is one match)."""

from __future__ import annotations

import re
import time
from typing import Any

from fleetwatch.collect.amps import AmpsCollector
from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.processes import ProcesslistCollector
from fleetwatch.model.limits import Limits, apply_overrides, default_limits


def limits_with(values: dict[str, Any]) -> dict[str, Limits]:
    limits = default_limits(["amps", "processlist"], 1200)
    apply_overrides(limits, "amps", values)
    return limits


def round_with(limits: dict[str, Limits], collector: AmpsCollector, now: float) -> Any:
    ctx = CollectContext(now=now, limits=limits)
    ctx.results["processlist"] = ProcesslistCollector().collect(ctx)
    return {a["name"]: a for a in collector.collect(ctx)}


def test_real_processes_are_counted_against_countmin_and_countmax() -> None:
    limits = limits_with(
        {
            "python_regex": r"python|pytest",
            "python_countmin": 1,
            "python_countmax": 500,
            "python_refresh": 3,
            "nothing_regex": r"^no-such-program-\d+$",
            "nothing_countmin": 1,
            "off_regex": ".*",
            "off_enable": False,
        }
    )

    amps = round_with(limits, AmpsCollector(), time.time())

    assert list(amps) == ["python", "nothing"]  # disabled AMPs are left out
    python = amps["python"]
    assert python["count"] >= 1
    assert (python["countmin"], python["countmax"], python["refresh"]) == (1.0, 500.0, 3.0)
    assert re.fullmatch(r"CPU: \d+\.\d% \| MEM: \d+\.\d%", python["result"])
    assert python["regex"] is True
    assert python["key"] == "name"
    nothing = amps["nothing"]
    assert (nothing["count"], nothing["result"], nothing["countmax"]) == (0, None, None)


def test_command_line_matches_too() -> None:
    processes = [
        {"name": "java", "cmdline": ["java", "-jar", "/opt/jenkins/jenkins.war"],
         "cpu_percent": 12.5, "memory_percent": 3.0},
        {"name": "bash", "cmdline": [], "cpu_percent": 1.0, "memory_percent": 0.1},
    ]  # fmt: skip
    ctx = CollectContext(now=1000.0, limits=limits_with({"jenkins_regex": "jenkins"}))
    ctx.results["processlist"] = processes

    (amp,) = AmpsCollector().collect(ctx)

    assert (amp["count"], amp["result"]) == (1, "CPU: 12.5% | MEM: 3.0%")


def test_refresh_keeps_the_count_until_due_and_counts_the_timer_down() -> None:
    limits = limits_with({"sh_regex": "^sh$", "sh_refresh": 10})
    collector = AmpsCollector()
    one = [{"name": "sh", "cmdline": ["sh"], "cpu_percent": 0.0, "memory_percent": 0.0}]

    def run(now: float, procs: list[dict[str, Any]]) -> dict[str, Any]:
        ctx = CollectContext(now=now, limits=limits)
        ctx.results["processlist"] = procs
        return collector.collect(ctx)[0]

    assert run(1000.0, one)["count"] == 1
    kept = run(1004.0, one * 3)
    assert (kept["count"], kept["timer"]) == (1, 6.0)
    assert run(1010.0, one * 3)["count"] == 3


def test_bad_regex_is_left_out() -> None:
    ctx = CollectContext(now=1000.0, limits=limits_with({"bad_regex": "(unclosed"}))
    ctx.results["processlist"] = []

    assert AmpsCollector().collect(ctx) == []


def test_nothing_configured_gives_glances_empty_list() -> None:
    ctx = CollectContext(now=1000.0, limits=default_limits(["amps"], 1200))

    assert AmpsCollector().collect(ctx) == []
