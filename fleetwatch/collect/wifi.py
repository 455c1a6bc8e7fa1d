"""``wifi``: link quality and signal level of wireless interfaces, from ``/proc/net/wireless``.

Glances names the interface ``ssid``; ``quality_link`` is the link quality and
``quality_level`` the signal level in dBm (the kernel's ``link`` and ``level`` columns).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.fields import Field
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(
    name="wifi",
    shape="list",
    key="ssid",
    history=("quality_level",),
    extra_fields=(
        Field("ssid", "Wi-Fi interface name (Glances calls it ssid)", None),
        Field("quality_link", "Link quality", "number"),
        Field("quality_level", "Signal level", "dBm"),
    ),
)

WIRELESS = Path("/proc/net/wireless")


def _read_wireless() -> str | None:
    try:
        return WIRELESS.read_text()
    except OSError:
        return None  # no wireless extensions: no Wi-Fi interface


def _number(text: str) -> float:
    return float(text.rstrip("."))


def parse_wireless(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in text.splitlines()[2:]:  # two header lines
        name, sep, rest = line.partition(":")
        columns = rest.split()
        if not sep or len(columns) < 3:
            continue
        out.append(
            {
                "key": "ssid",
                "ssid": name.strip(),
                "quality_link": _number(columns[1]),
                "quality_level": _number(columns[2]),
            }
        )
    return out


class WifiCollector:
    spec = SPEC

    def __init__(self, read: Callable[[], str | None] = _read_wireless) -> None:
        self._read = read

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        text = self._read()
        return parse_wireless(text) if text else []
