"""Bytes on disk per pushed snapshot, on SQLite and PostgreSQL (issue 18, "a tenth of the disk").

Run: ``.venv/bin/python bench/disk.py [--systems 20] [--snapshots 100] [--backends ...]``

Each of ``--systems`` simulated machines pushes ``--snapshots`` documents shaped as
``fleetwatch push`` builds them (``agent/document.py``), 10 s apart, with its own CPUs, disks,
interfaces and mounts and figures that wander from one push to the next as a real machine's do.
They are stored as the hub stores a submission (``normalise`` then ``add_snapshot``), then:

* SQLite: the file after a ``wal_checkpoint(TRUNCATE)`` (so the WAL is in it), and ``dbstat``'s
  bytes of the snapshots table and each of its indexes;
* PostgreSQL (after ``VACUUM``): ``pg_total_relation_size`` of snapshots and of the hostnames'
  systems (``snapshot_hostnames``), and each index's size.

It prints bytes per snapshot (the snapshots table with its indexes and TOAST), per numeric sample
(JSON numbers in the pushed document), and what 1,000 systems pushing every 10 s hold over the
default retention of 30 days.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench._postgres import scratch_database
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.ingest.normalise import normalise
from fleetwatch.store import open_store

RETENTION_SNAPSHOTS = 1000 * 30 * 86400 // 10  # 1,000 systems, 30 days, a push every 10 s


class Machine:
    """One simulated system: its fixed hardware and its figures, which drift."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.rng = rng
        self.name = f"disk-{n:04d}"
        self.cpus = rng.choice([1, 2, 4, 8, 16])
        self.disks = [f"{p}{i}" for i, p in enumerate(rng.sample(["sda", "nvme0n", "vd"], 2))]
        self.nics = ["eth0", *(["wlan0"] if rng.random() < 0.3 else [])]
        self.mounts = ["/", *rng.sample(["/home", "/var", "/srv", "/boot"], rng.randint(0, 2))]
        self.total = rng.choice([4, 8, 16, 32, 64]) * 1024**3
        self.busy = rng.uniform(2, 60)
        self.uptime = rng.randint(100, 10_000_000)
        self.base = DocumentBuilder().build()

    def document(self) -> dict[str, Any]:
        r = self.rng
        self.busy = min(max(self.busy + r.gauss(0, 5), 0.0), 100.0)
        self.uptime += 10
        cpus = []
        for _ in range(self.cpus):
            user = round(min(max(self.busy * 0.8 + r.gauss(0, 3), 0.0), 100.0), 1)
            system = round(min(max(self.busy * 0.2 + r.gauss(0, 1), 0.0), 100.0 - user), 1)
            cpus.append({"user": user, "system": system, "idle": round(100 - user - system, 1)})
        available = int(self.total * r.uniform(0.3, 0.9))
        memory = {
            "active-bytes": int(self.total * r.uniform(0.05, 0.4)),
            "inactive-bytes": int(self.total * r.uniform(0.05, 0.3)),
            "free-bytes": available,
            "buffers-bytes": int(self.total * r.uniform(0.001, 0.01)),
            "cached-bytes": int(self.total * r.uniform(0.05, 0.3)),
            "shared-bytes": int(self.total * r.uniform(0.001, 0.01)),
            "total-bytes": self.total,
            "available-bytes": available,
        }
        fs: list[dict[str, Any]] = []
        for mount in self.mounts:
            size = 10 * 1024**3 * (1 + len(mount))
            used = int(size * r.uniform(0.1, 0.9))
            fs.append({"mnt_point": mount, "device_name": f"/dev/{self.disks[0]}p1",
                       "fs_type": "ext4", "size": size, "used": used, "free": size - used,
                       "percent": round(100 * used / size, 1)})  # fmt: skip
        storage_total = sum(f["size"] for f in fs)
        return {
            **{k: self.base[k] for k in ("version", "model", "timezone") if k in self.base},
            "hostname": self.name,
            "uptime_seconds": self.uptime,
            "cpu": cpus,
            "memory": memory,
            "network": [
                {
                    "name": nic,
                    "KB/s in": round(r.expovariate(0.05), 2),
                    "KB/s out": round(r.expovariate(0.1), 2),
                }
                for nic in self.nics
            ],
            "disk": [
                {
                    "Name": d,
                    "KBps read": round(r.expovariate(0.02), 1),
                    "KBps write": round(r.expovariate(0.01), 1),
                }
                for d in self.disks
            ],
            "load": {
                "min1": round(self.busy / 25, 2),
                "min5": round(self.busy / 27, 2),
                "min15": round(self.busy / 30, 2),
                "cpucore": self.cpus,
            },
            "fs": fs,
            "storage": {
                "total-bytes": storage_total,
                "used-bytes": sum(f["used"] for f in fs),
            },
            "processcount": {"total": r.randint(80, 400)},
        }


def numbers(value: Any) -> int:
    """How many JSON numbers ``value`` holds (booleans are not samples)."""
    if isinstance(value, dict):
        return sum(numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(numbers(v) for v in value)
    return 1 if isinstance(value, int | float) and not isinstance(value, bool) else 0


def documents(systems: int, snapshots: int, seed: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    machines = [Machine(n, rng) for n in range(systems)]
    return [[m.document() for _ in range(snapshots)] for m in machines]


async def fill(url: str, fleet: list[list[dict[str, Any]]]) -> None:
    store = open_store(url)
    await store.open()
    try:
        for n, docs in enumerate(fleet):
            system = await store.add_system(docs[0]["hostname"])
            start = 1_800_000_000.0 + n
            await asyncio.gather(
                *(
                    store.add_snapshot(system.id, start + 10 * i, d, normalise(d), "push")
                    for i, d in enumerate(docs)
                )
            )
    finally:
        await store.close()


def sqlite_bytes(path: Path) -> tuple[int, dict[str, int]]:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute(
            "SELECT d.name, sum(d.pgsize) FROM dbstat AS d JOIN sqlite_schema AS m"
            " ON m.name = d.name WHERE m.tbl_name = 'snapshots' GROUP BY d.name"
        ).fetchall()
    finally:
        conn.close()
    parts = {name: int(size) for name, size in rows}
    return sum(parts.values()), parts


def postgres_bytes(url: str) -> tuple[int, dict[str, int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE snapshots")
        # The hostnames' systems (migration 0018) grow with the fleet, not with the snapshots,
        # but count here all the same.
        total = conn.execute(
            "SELECT pg_total_relation_size('snapshots')"
            " + pg_total_relation_size('snapshot_hostnames')"
        ).fetchone()
        rows = conn.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c"
            " WHERE c.oid = 'snapshots'::regclass OR c.oid IN"
            " (SELECT indexrelid FROM pg_index WHERE indrelid = 'snapshots'::regclass)"
            " OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'snapshots'::regclass)"
        ).fetchall()
        hostnames = conn.execute("SELECT pg_total_relation_size('snapshot_hostnames')").fetchone()
    assert hostnames is not None
    rows.append(("snapshot_hostnames (with its indexes)", hostnames[0]))
    assert total is not None
    return int(total[0]), {name: int(size) for name, size in rows}


def report(label: str, total: int, parts: dict[str, int], count: int, samples: float) -> None:
    per = total / count
    print(f"{label}: {per:.0f} bytes/snapshot, {per / samples:.1f} bytes/numeric sample,"
          f" 1,000 systems x 30 days: {per * RETENTION_SNAPSHOTS / 1e9:.1f} GB")  # fmt: skip
    for name, size in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"  {name:32} {size / count:8.0f} bytes/snapshot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=20)
    parser.add_argument("--snapshots", type=int, default=100, help="per system")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    fleet = documents(args.systems, args.snapshots, args.seed)
    count = args.systems * args.snapshots
    samples = sum(numbers(d) for docs in fleet for d in docs) / count
    print(f"{count} snapshots of {args.systems} systems, {samples:.1f} numeric samples each")
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "disk.sqlite3"
            asyncio.run(fill(f"sqlite:///{path}", fleet))
            total, parts = sqlite_bytes(path)
            report("SQLite", total, parts, count, samples)
            print(f"  (whole file: {path.stat().st_size / count:.0f} bytes/snapshot)")
    if "postgres" in backends:
        with scratch_database(args.postgres, prefix="fw_disk_bench") as url:
            asyncio.run(fill(url, fleet))
            total, parts = postgres_bytes(url)
            report("PostgreSQL", total, parts, count, samples)


if __name__ == "__main__":
    main()
