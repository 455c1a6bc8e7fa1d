"""``smart``: ``smartctl --json``. smartmontools is not installed on this machine, so the live
plugin answers ``{}`` and the test says so; the parsing runs on JSON answers recorded in
smartctl 7.4's format (a SATA SSD, an NVMe drive, and a disk it may not open)."""

from __future__ import annotations

import shutil
import time
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.smart import SmartCollector, device_stats, run_smartctl
from fleetwatch.model.limits import default_limits

SCAN = {
    "json_format_version": [1, 0],
    "smartctl": {"version": [7, 4], "exit_status": 0},
    "devices": [
        {"name": "/dev/sda", "info_name": "/dev/sda [SAT]", "type": "sat", "protocol": "ATA"},
        {"name": "/dev/nvme0", "info_name": "/dev/nvme0", "type": "nvme", "protocol": "NVMe"},
        {"name": "/dev/sdb", "info_name": "/dev/sdb", "type": "scsi", "protocol": "SCSI"},
    ],
}
SATA = {
    "smartctl": {"version": [7, 4], "exit_status": 0},
    "device": {"name": "/dev/sda", "info_name": "/dev/sda [SAT]", "type": "sat"},
    "model_family": "Samsung based SSDs",
    "model_name": "Samsung SSD 870 EVO 1TB",
    "ata_smart_attributes": {
        "revision": 1,
        "table": [
            {"id": 5, "name": "Reallocated_Sector_Ct", "value": 100, "worst": 100,
             "thresh": 10, "raw": {"value": 0, "string": "0"}},
            {"id": 194, "name": "Temperature_Celsius", "value": 67, "worst": 52,
             "thresh": 0, "raw": {"value": 141734461473, "string": "33 (Min/Max 19/48)"}},
        ],
    },
}  # fmt: skip
NVME = {
    "smartctl": {"version": [7, 4], "exit_status": 0},
    "device": {"name": "/dev/nvme0", "info_name": "/dev/nvme0", "type": "nvme"},
    "model_name": "WD_BLACK SN850X 2000GB",
    "nvme_smart_health_information_log": {
        "critical_warning": 0,
        "temperature": 38,
        "available_spare": 100,
        "percentage_used": 1,
        "data_units_written": 31946208,
        "power_on_hours": 3120,
        "temperature_sensors": [38, 45],
    },
}
DENIED = {
    "smartctl": {
        "version": [7, 4],
        "exit_status": 2,
        "messages": [{"string": "Smartctl open device: /dev/sdb failed: Permission denied"}],
    },
    "device": {"name": "/dev/sdb", "info_name": "/dev/sdb", "type": "scsi"},
}
ANSWERS = {"/dev/sda": SATA, "/dev/nvme0": NVME, "/dev/sdb": DENIED}


def recorded(args: list[str]) -> dict[str, Any] | None:
    return SCAN if args == ["--scan"] else ANSWERS[args[-1]]


def ctx() -> CollectContext:
    return CollectContext(now=time.time(), limits=default_limits(["smart"], 1200))


def test_recorded_answers_become_one_entry_per_readable_disk() -> None:
    calls: list[list[str]] = []

    def run(args: list[str]) -> dict[str, Any] | None:
        calls.append(args)
        return recorded(args)

    stats = SmartCollector(run).collect(ctx())

    assert list(stats) == ["sda", "nvme0"]  # sdb could not be opened
    assert stats["sda"]["DeviceName"] == "sda Samsung SSD 870 EVO 1TB"
    assert stats["sda"]["194"] == {
        "name": "Temperature_Celsius",
        "value": 67,
        "worst": 52,
        "thresh": 0,
        "raw": "33 (Min/Max 19/48)",
    }
    assert stats["nvme0"]["percentage_used"]["value"] == 1
    assert "temperature_sensors" not in stats["nvme0"]  # not a single number
    assert calls[1] == ["--info", "--attributes", "-d", "sat", "/dev/sda"]


def test_permission_denied_device_is_left_out() -> None:
    assert device_stats(DENIED) is None


def test_no_smartctl_gives_empty() -> None:
    assert SmartCollector(lambda args: None).collect(ctx()) == {}


def test_live_machine() -> None:
    stats = SmartCollector().collect(ctx())
    if shutil.which("smartctl") is None:
        # smartmontools is not installed here: nothing is run, Glances' {}.
        assert run_smartctl(["--scan"]) is None
        assert stats == {}
    else:
        assert isinstance(stats, dict)


def test_refresh_limit_default() -> None:
    assert SmartCollector.spec.refresh_limit == "smart_refresh"
    assert default_limits(["smart"], 1200)["smart"]["smart_refresh"] == 60.0
