"""Per-system metric families for ``/metrics``, read from each system's latest Glances-shaped stats.

Names follow Prometheus' rules: base units (``_bytes``, ``_seconds``, ``_celsius``), every
fraction a ``_ratio`` between 0 and 1 (Glances' percentages divided by 100), and object names
(mount points, interfaces, disks, sensors, GPUs) in labels, never in a metric's name. Every
sample carries ``system`` (the hub's name for it) and ``hostname`` (what it reported).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["Families", "SystemView", "system_families"]

SYSTEM_LABELS = ("system", "hostname")
CPU_MODES = ("user", "system", "idle", "iowait", "nice", "irq", "steal", "guest")


@dataclass(frozen=True, slots=True)
class SystemView:
    """What ``/metrics`` knows of one system at render time."""

    name: str
    hostname: str
    up: bool
    last_seen: float | None
    stats: dict[str, Any]
    local: bool = False  # the hub's own machine, served live at /api/4


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _items(stats: dict[str, Any], plugin: str) -> list[dict[str, Any]]:
    value = stats.get(plugin)
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _section(stats: dict[str, Any], plugin: str) -> dict[str, Any]:
    value = stats.get(plugin)
    return value if isinstance(value, dict) else {}


class Families:
    """Metric families by name, made on first use, one sample per label set (the first wins:
    Prometheus refuses a scrape with a duplicate series, and a pushed document may repeat a
    mount point)."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}
        self._seen: set[tuple[str, tuple[str, ...]]] = set()

    def gauge(self, name: str, doc: str, labels: tuple[str, ...], values: tuple[str, ...],
              value: float | None, unit: str = "") -> None:  # fmt: skip
        self._add(GaugeMetricFamily, name, doc, labels, values, value, unit)

    def counter(self, name: str, doc: str, labels: tuple[str, ...], values: tuple[str, ...],
                value: float | None, unit: str = "") -> None:  # fmt: skip
        self._add(CounterMetricFamily, name, doc, labels, values, value, unit)

    def _add(self, kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str,
             doc: str, labels: tuple[str, ...], values: tuple[str, ...], value: float | None,
             unit: str) -> None:  # fmt: skip
        if value is None or (name, values) in self._seen:
            return
        self._seen.add((name, values))
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = kind(name, doc, labels=list(labels), unit=unit)
        family.add_metric(list(values), value)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


def _ratio(value: object) -> float | None:
    number = _number(value)
    return None if number is None else number / 100.0


def system_families(out: Families, view: SystemView) -> None:
    """Add every family ``view``'s stats allow to ``out``."""
    base = (view.name, view.hostname)
    out.gauge("fleetwatch_system_up", "1 while the system reports on time, 0 once stale.",
              SYSTEM_LABELS, base, 1.0 if view.up else 0.0)  # fmt: skip
    out.gauge("fleetwatch_system_last_seen_timestamp_seconds",
              "When the system last reported (Unix time).", SYSTEM_LABELS, base,
              view.last_seen)  # fmt: skip
    stats = view.stats
    _cpu(out, base, stats)
    _memory(out, base, stats)
    _filesystems(out, base, stats)
    _network(out, base, stats)
    _disks(out, base, stats)
    _sensors(out, base, stats)
    _gpus(out, base, stats)


def _cpu(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    cpu = _section(stats, "cpu")
    out.gauge("fleetwatch_cpu_usage_ratio", "CPU busy time, 1 - idle, over the last interval.",
              SYSTEM_LABELS, base, _ratio(cpu.get("total")))  # fmt: skip
    for mode in CPU_MODES:
        out.gauge("fleetwatch_cpu_mode_ratio", "Share of CPU time spent in each mode.",
                  (*SYSTEM_LABELS, "mode"), (*base, mode), _ratio(cpu.get(mode)))  # fmt: skip
    cores = _number(cpu.get("cpucore")) or _number(_section(stats, "load").get("cpucore"))
    out.gauge("fleetwatch_cpu_cores", "Logical CPUs.", SYSTEM_LABELS, base, cores)
    load = _section(stats, "load")
    for minutes in ("1", "5", "15"):
        out.gauge(f"fleetwatch_load{minutes}", f"Load average over {minutes} minute(s).",
                  SYSTEM_LABELS, base, _number(load.get(f"min{minutes}")))  # fmt: skip


def _memory(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    for plugin, prefix, what in (("mem", "memory", "Memory"), ("memswap", "swap", "Swap")):
        section = _section(stats, plugin)
        for field in ("total", "used", "free", "available"):
            out.gauge(f"fleetwatch_{prefix}_{field}_bytes", f"{what}: {field}.", SYSTEM_LABELS,
                      base, _number(section.get(field)))  # fmt: skip
        out.gauge(f"fleetwatch_{prefix}_usage_ratio", f"{what} in use, as a fraction of total.",
                  SYSTEM_LABELS, base, _ratio(section.get("percent")))  # fmt: skip


def _filesystems(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    labels = (*SYSTEM_LABELS, "mountpoint", "fstype", "device")
    for fs in _items(stats, "fs"):
        mount = fs.get("mnt_point")
        if not isinstance(mount, str):
            continue
        values = (*base, mount, str(fs.get("fs_type") or ""), str(fs.get("device_name") or ""))
        for field in ("size", "used", "free"):
            out.gauge(f"fleetwatch_filesystem_{field}_bytes", f"File system {field}.", labels,
                      values, _number(fs.get(field)))  # fmt: skip


def _network(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    labels = (*SYSTEM_LABELS, "interface")
    for nic in _items(stats, "network"):
        name = nic.get("interface_name")
        if not isinstance(name, str):
            continue
        values = (*base, name)
        for field, way in (("bytes_recv", "receive"), ("bytes_sent", "transmit")):
            out.gauge(f"fleetwatch_network_{way}_bytes_per_second",
                      f"Bytes per second ({way}), over the last interval.", labels, values,
                      _number(nic.get(f"{field}_rate_per_sec")))  # fmt: skip
            out.counter(f"fleetwatch_network_{way}_bytes", f"Bytes ({way}) since boot.", labels,
                        values, _number(nic.get(f"{field}_gauge")))  # fmt: skip


def _disks(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    labels = (*SYSTEM_LABELS, "disk")
    for disk in _items(stats, "diskio"):
        name = disk.get("disk_name")
        if not isinstance(name, str):
            continue
        values = (*base, name)
        for field, metric in (("read_bytes", "read_bytes"), ("write_bytes", "written_bytes"),
                              ("read_count", "reads"), ("write_count", "writes")):  # fmt: skip
            out.gauge(f"fleetwatch_disk_{metric}_per_second",
                      f"Disk {metric.replace('_', ' ')} per second, over the last interval.",
                      labels, values, _number(disk.get(f"{field}_rate_per_sec")))  # fmt: skip


def _sensors(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    labels = (*SYSTEM_LABELS, "sensor")
    for sensor in _items(stats, "sensors"):
        label = sensor.get("label")
        kind = str(sensor.get("type") or "")
        if not isinstance(label, str) or sensor.get("unit") != "C":
            continue
        if kind.startswith("temperature"):
            out.gauge("fleetwatch_temperature_celsius", "Temperature of a sensor.", labels,
                      (*base, label), _number(sensor.get("value")))  # fmt: skip


def _gpus(out: Families, base: tuple[str, str], stats: dict[str, Any]) -> None:
    labels = (*SYSTEM_LABELS, "gpu", "model")
    for gpu in _items(stats, "gpu"):
        ident = gpu.get("gpu_id")
        if not isinstance(ident, str | int):
            continue
        values = (*base, str(ident), str(gpu.get("name") or ""))
        out.gauge("fleetwatch_gpu_usage_ratio", "GPU processor in use.", labels, values,
                  _ratio(gpu.get("proc")))  # fmt: skip
        out.gauge("fleetwatch_gpu_memory_usage_ratio", "GPU memory in use.", labels, values,
                  _ratio(gpu.get("mem")))  # fmt: skip
        out.gauge("fleetwatch_gpu_temperature_celsius", "GPU temperature.", labels, values,
                  _number(gpu.get("temperature")))  # fmt: skip
