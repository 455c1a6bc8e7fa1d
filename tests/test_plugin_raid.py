"""``raid``: /proc/mdstat parsed. This machine has no md driver loaded (no /proc/mdstat), so
the live plugin answers ``{}``; the parser is tested on sample mdstat texts written here in
the kernel's format (drivers/md/md.c, md_seq_show)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.raid import RaidCollector, parse_mdstat
from fleetwatch.model.limits import default_limits

RAID1_ACTIVE = """\
Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10]
md0 : active raid1 sdb1[1] sda1[0]
      976630464 blocks super 1.2 [2/2] [UU]
      bitmap: 1/8 pages [4KB], 65536KB chunk

unused devices: <none>
"""

RAID1_DEGRADED = """\
Personalities : [raid1]
md0 : active raid1 sdb1[1](F) sda1[0]
      976630464 blocks super 1.2 [2/1] [U_]
      bitmap: 3/8 pages [12KB], 65536KB chunk

unused devices: <none>
"""

RAID1_RESYNC = """\
Personalities : [raid1]
md127 : active (auto-read-only) raid1 nvme1n1p2[1] nvme0n1p2[0]
      499975168 blocks super 1.2 [2/2] [UU]
      [===>.................]  resync = 17.3% (86514176/499975168) finish=33.4min speed=206152K/sec
      bitmap: 4/4 pages [16KB], 65536KB chunk

unused devices: <none>
"""

RAID0_AND_RAID5 = """\
Personalities : [raid0] [raid6] [raid5] [raid4]
md1 : active raid5 sde1[4] sdd1[2] sdc1[1] sdb1[0]
      2929893888 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UUU_]
      [=>...................]  recovery =  8.5% (83105792/976631296) finish=98.3min speed=1514K/sec
      bitmap: 0/8 pages [0KB], 65536KB chunk

md2 : active raid0 sdg1[1] sdf1[0]
      1953257472 blocks super 1.2 512k chunks

md3 : inactive sdh1[0](S)
      976630488 blocks super 1.2

unused devices: <none>
"""


def test_raid1_active() -> None:
    assert parse_mdstat(RAID1_ACTIVE) == {
        "md0": {
            "status": "active",
            "type": "raid1",
            "components": {"sdb1": "1", "sda1": "0"},
            "failed": [],
            "used": 2,
            "available": 2,
            "config": "UU",
            "action": None,
            "progress": None,
        }
    }


def test_raid1_degraded_names_the_failed_disk() -> None:
    md0 = parse_mdstat(RAID1_DEGRADED)["md0"]

    assert md0["failed"] == ["sdb1"]
    assert (md0["available"], md0["used"], md0["config"]) == (2, 1, "U_")


def test_resync_in_progress_on_an_auto_read_only_array() -> None:
    md = parse_mdstat(RAID1_RESYNC)["md127"]

    assert (md["status"], md["type"]) == ("active", "raid1")
    assert md["components"] == {"nvme1n1p2": "1", "nvme0n1p2": "0"}
    assert (md["action"], md["progress"]) == ("resync", 17.3)


def test_raid5_recovery_raid0_and_an_inactive_array() -> None:
    arrays = parse_mdstat(RAID0_AND_RAID5)

    assert list(arrays) == ["md1", "md2", "md3"]
    assert arrays["md1"]["type"] == "raid5"
    assert (arrays["md1"]["used"], arrays["md1"]["available"]) == (3, 4)
    assert (arrays["md1"]["action"], arrays["md1"]["progress"]) == ("recovery", 8.5)
    # raid0 prints no [n/m] map: every member counts as used.
    assert arrays["md2"]["type"] == "raid0"
    assert (arrays["md2"]["used"], arrays["md2"]["available"], arrays["md2"]["config"]) == (
        2,
        2,
        None,
    )
    assert arrays["md3"]["status"] == "inactive"
    assert arrays["md3"]["type"] is None
    assert arrays["md3"]["components"] == {"sdh1": "0"}


def test_collector_reads_the_given_source() -> None:
    ctx = CollectContext(now=time.time(), limits=default_limits(["raid"], 1200))

    assert RaidCollector(read=lambda: RAID1_ACTIVE).collect(ctx)["md0"]["config"] == "UU"
    assert RaidCollector(read=lambda: None).collect(ctx) == {}


@pytest.mark.skipif(Path("/proc/mdstat").exists(), reason="this machine has md arrays")
def test_live_machine_without_md_driver_answers_empty() -> None:
    ctx = CollectContext(now=time.time(), limits=default_limits(["raid"], 1200))

    assert RaidCollector().collect(ctx) == {}


def test_real_mdstat_parses_when_present() -> None:
    if not Path("/proc/mdstat").exists():
        pytest.skip("no /proc/mdstat on this machine: the md driver is not loaded")
    parse_mdstat(Path("/proc/mdstat").read_text())
