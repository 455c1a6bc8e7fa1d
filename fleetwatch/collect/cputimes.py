"""CPU percentages from our own baseline of ``cpu_times``.

psutil's ``cpu_percent(interval=None)`` keeps its baseline per calling thread, so a server
that asks from several threads (or asks once) gets ``0.0``: Glances 4.5.8 answers
``total: 0.0`` that way. We keep one baseline per collector and compute the deltas here.
"""

from __future__ import annotations

from collections.abc import Mapping

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
CPU_GUEST_FIELDS = ("guest", "guest_nice")


def as_mapping(times: object) -> dict[str, float]:
    """A psutil ``scputimes`` (or a recorded dict) as a plain dict of floats."""
    if isinstance(times, Mapping):
        return {str(k): float(v) for k, v in times.items()}
    fields: tuple[str, ...] = getattr(times, "_fields", ())
    return {name: float(getattr(times, name)) for name in fields}


def percentages(previous: Mapping[str, float], current: Mapping[str, float]) -> dict[str, float]:
    """Each CPU time field as a percentage of the elapsed CPU time between two readings.

    On Linux ``user`` and ``nice`` already include ``guest`` and ``guest_nice``, so the guest
    times are left out of the total (as the kernel and psutil do).
    """
    deltas = {name: max(current.get(name, 0.0) - previous.get(name, 0.0), 0.0) for name in current}
    total = sum(v for k, v in deltas.items() if k not in CPU_GUEST_FIELDS)
    if total <= 0:
        return {name: 0.0 for name in current}
    return {name: round(100.0 * value / total, 1) for name, value in deltas.items()}


def busy_total(percent: Mapping[str, float]) -> float:
    """The reference's ``total``: the sum of every CPU percentage except idle.

    With no CPU time elapsed between the readings every percentage is 0: so is the total.
    """
    if not any(percent.values()):
        return 0.0
    return round(max(0.0, min(100.0, 100.0 - percent.get("idle", 0.0))), 1)
