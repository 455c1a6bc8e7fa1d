"""``wifi``: /proc/net/wireless. This machine has no wireless interface (the file does not
exist), so the live plugin answers ``[]``; the parser runs on a sample in the kernel's
format (net/wireless/wext-proc.c)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.wifi import WifiCollector, parse_wireless
from fleetwatch.model.limits import default_limits

SAMPLE = """\
Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
wlp0s20f3: 0000   56.  -54.  -256        0      0      0      0    120        0
  wlan1: 0000   70.  -40.  -256        0      0      0      3      0        0
"""


def ctx() -> CollectContext:
    return CollectContext(now=time.time(), limits=default_limits(["wifi"], 1200))


def test_sample_is_parsed_to_glances_fields() -> None:
    assert parse_wireless(SAMPLE) == [
        {"key": "ssid", "ssid": "wlp0s20f3", "quality_link": 56.0, "quality_level": -54.0},
        {"key": "ssid", "ssid": "wlan1", "quality_link": 70.0, "quality_level": -40.0},
    ]


def test_header_only_file_means_no_interface() -> None:
    assert WifiCollector(read=lambda: SAMPLE.split("wlp0", maxsplit=1)[0]).collect(ctx()) == []


def test_fields_are_described() -> None:
    assert {"ssid", "quality_link", "quality_level"} <= set(WifiCollector.spec.wire_fields)


def test_live_machine() -> None:
    result = WifiCollector().collect(ctx())
    if Path("/proc/net/wireless").exists():
        assert isinstance(result, list)
    else:
        # No wireless extensions here (no Wi-Fi hardware): Glances' empty list.
        assert result == []


@pytest.mark.parametrize("text", ["", "garbage\n"])
def test_unreadable_text_gives_no_interface(text: str) -> None:
    assert WifiCollector(read=lambda: text).collect(ctx()) == []
