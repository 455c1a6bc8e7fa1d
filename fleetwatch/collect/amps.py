"""``amps``: application monitoring, by counting the processes that match configured regexes.

Configured in ``[amps]`` as ``<name>_regex``, with optional ``<name>_countmin``,
``<name>_countmax``, ``<name>_refresh`` (seconds, default 60) and ``<name>_enable``. The
regex is searched in each process' name and in its command line, in this round's
``processlist``: no process is read twice. ``result`` is Glances' default AMP message, the
summed CPU and memory of the matches; unlike Glances, no configured command is ever run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.configured import as_number, as_text, configured_items
from fleetwatch.model.limits import is_true
from fleetwatch.model.plugin import PluginSpec

log = logging.getLogger(__name__)

SPEC = PluginSpec(name="amps", shape="list", key="name")

DEFAULT_REFRESH_SECONDS = 60.0


@dataclass(slots=True)
class _Last:
    at: float
    count: int
    result: str | None


def _matches(pattern: re.Pattern[str], proc: dict[str, Any]) -> bool:
    if pattern.search(str(proc.get("name") or "")):
        return True
    cmdline = proc.get("cmdline") or []
    return bool(cmdline) and pattern.search(" ".join(map(str, cmdline))) is not None


class AmpsCollector:
    spec = SPEC

    def __init__(self) -> None:
        self._last: dict[str, _Last] = {}
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    def _pattern(self, name: str, regex: str) -> re.Pattern[str] | None:
        if name not in self._patterns:
            try:
                self._patterns[name] = re.compile(regex)
            except re.error as exc:
                log.warning("amps: %s_regex %r is not a regular expression: %s", name, regex, exc)
                self._patterns[name] = None
        return self._patterns[name]

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        processes = ctx.results.get("processlist") or []
        out: list[dict[str, Any]] = []
        for name, attrs in configured_items(ctx.limits.get("amps", {}), "amps").items():
            regex = as_text(attrs.get("regex"))
            if not regex or ("enable" in attrs and not is_true(attrs["enable"])):
                continue
            pattern = self._pattern(name, regex)
            if pattern is None:
                continue
            refresh = as_number(attrs.get("refresh"), DEFAULT_REFRESH_SECONDS) or 0.0
            last = self._last.get(name)
            if last is None or ctx.now - last.at >= refresh:
                last = self._last[name] = self._measure(pattern, processes, ctx.now)
            out.append(
                {
                    "key": "name",
                    "name": name,
                    "result": last.result,
                    "refresh": refresh,
                    "timer": max(0.0, refresh - (ctx.now - last.at)),
                    "count": last.count,
                    "countmin": as_number(attrs.get("countmin")),
                    "countmax": as_number(attrs.get("countmax")),
                    "regex": True,
                }
            )
        return out

    @staticmethod
    def _measure(pattern: re.Pattern[str], processes: list[dict[str, Any]], now: float) -> _Last:
        matching = [p for p in processes if _matches(pattern, p)]
        if not matching:
            return _Last(now, 0, None)
        cpu = sum(float(p.get("cpu_percent") or 0.0) for p in matching)
        mem = sum(float(p.get("memory_percent") or 0.0) for p in matching)
        return _Last(now, len(matching), f"CPU: {cpu:.1f}% | MEM: {mem:.1f}%")
