"""``raid``: Linux software RAID arrays, parsed from ``/proc/mdstat``.

Answers Glances' per-array dict: ``status`` (active/inactive), ``type`` (raid1, raid5...),
``components`` (device -> role number), ``used`` and ``available`` devices, ``config`` (the
``[UU_]`` map), plus ``action`` and ``progress`` while a resync/recovery/check runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.fields import Field
from fleetwatch.model.plugin import PluginSpec

# Each array's fields (the plugin is a dict of arrays by name, like Glances' raid plugin).
SPEC = PluginSpec(
    name="raid",
    shape="dict",
    extra_fields=(
        Field("status", "Array status (active or inactive)", None),
        Field("type", "RAID level (raid0, raid1, raid5...)", None),
        Field("components", "Member devices and their role number", None),
        Field("failed", "Member devices marked faulty", None),
        Field("used", "Number of working devices", "number"),
        Field("available", "Number of devices the array is made of", "number"),
        Field("config", "Member map, U for up and _ for down", None),
        Field("action", "Running sync action (resync, recovery, reshape, check)", None),
        Field("progress", "Progress of the running sync action", "percent"),
    ),
)

MDSTAT = Path("/proc/mdstat")
_ARRAY = re.compile(r"^(md\S*)\s*:\s*(.*)$")
_COMPONENT = re.compile(r"^(\S+)\[(\d+)\](\((\w)\))?$")
_COUNTS = re.compile(r"\[(\d+)/(\d+)\]\s*\[([U_]+)\]")
_PROGRESS = re.compile(r"(resync|recovery|reshape|check|repair)\s*=\s*([\d.]+)%")
_LEVELS = ("raid", "linear", "multipath", "faulty")


def _read_mdstat() -> str | None:
    try:
        return MDSTAT.read_text()
    except OSError:
        return None  # no md driver loaded: no arrays


def _head(rest: str) -> dict[str, Any]:
    words = rest.split()
    status = words.pop(0) if words else None
    words = [w for w in words if not w.startswith("(")]  # (auto-read-only), (read-only)
    level = words.pop(0) if words and words[0].startswith(_LEVELS) else None
    components: dict[str, str] = {}
    failed: list[str] = []
    for word in words:
        match = _COMPONENT.match(word)
        if match:
            components[match.group(1)] = match.group(2)
            if match.group(4) == "F":
                failed.append(match.group(1))
    return {
        "status": status,
        "type": level,
        "components": components,
        "failed": failed,
        "used": None,
        "available": None,
        "config": None,
        "action": None,
        "progress": None,
    }


def parse_mdstat(text: str) -> dict[str, dict[str, Any]]:
    """Every array of an mdstat text, keyed by its name (``md0``)."""
    arrays: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        match = _ARRAY.match(line)
        if match:
            current = arrays[match.group(1)] = _head(match.group(2))
            continue
        if current is None:
            continue
        if counts := _COUNTS.search(line):
            current["available"] = int(counts.group(1))
            current["used"] = int(counts.group(2))
            current["config"] = counts.group(3)
        if progress := _PROGRESS.search(line):
            current["action"] = progress.group(1)
            current["progress"] = float(progress.group(2))
    for array in arrays.values():
        if array["used"] is None and array["status"] == "active":
            # raid0 and linear arrays print no [n/m] map: every member is in use.
            working = len(array["components"]) - len(array["failed"])
            array["used"] = array["available"] = working
    return arrays


class RaidCollector:
    spec = SPEC

    def __init__(self, read: Callable[[], str | None] = _read_mdstat) -> None:
        self._read = read

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        text = self._read()
        return parse_mdstat(text) if text else {}
