"""``gpu``: NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

An empty list where the package, the driver (``libnvidia-ml.so``) or a GPU is missing. NVML
is initialised once, on the first collection; a machine without a driver answers ``[]``
without trying again, so that the loop does not pay for a failed ``dlopen`` every round.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule

log = logging.getLogger(__name__)

SPEC = PluginSpec(
    name="gpu",
    shape="list",
    key="gpu_id",
    history=("proc", "mem"),
    views=(
        ViewRule("proc", "gpu_proc"),
        ViewRule("mem", "gpu_mem"),
        ViewRule("temperature", "gpu_temperature"),
    ),
)


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One device as NVML reports it, before conversion to Glances' fields."""

    index: int
    name: str
    memory_used: int | None
    memory_total: int | None
    utilization_gpu: float | None
    temperature: float | None
    fan_speed: float | None


class GpuSource(Protocol):
    def readings(self) -> list[GpuReading]: ...


class NvmlSource:
    """Reads every GPU through NVML; ``readings()`` is ``[]`` when NVML is not usable."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._failed = False
        self.unavailable_reason: str | None = None

    def _init(self) -> Any:
        if self._nvml is None and not self._failed:
            try:
                nvml = importlib.import_module("pynvml")
                nvml.nvmlInit()
            except Exception as exc:  # ImportError, or pynvml.NVMLError without a driver
                self._failed = True
                self.unavailable_reason = f"{type(exc).__name__}: {exc}"
                log.info("gpu: NVML not available (%s)", self.unavailable_reason)
                return None
            self._nvml = nvml
        return self._nvml

    def readings(self) -> list[GpuReading]:
        nvml = self._init()
        if nvml is None:
            return []
        return [_read_device(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]


def _read_device(nvml: Any, index: int) -> GpuReading:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = _optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    util = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    name = nvml.nvmlDeviceGetName(handle)
    return GpuReading(
        index=index,
        name=name.decode() if isinstance(name, bytes) else str(name),
        memory_used=int(memory.used) if memory is not None else None,
        memory_total=int(memory.total) if memory is not None else None,
        utilization_gpu=float(util.gpu) if util is not None else None,
        temperature=_optional(
            nvml, nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
        ),
        fan_speed=_optional(nvml, nvml.nvmlDeviceGetFanSpeed, handle),
    )


def _optional(nvml: Any, read: Any, *args: Any) -> Any:
    """A reading the device may not support (fan speed on a passively cooled card)."""
    try:
        return read(*args)
    except nvml.NVMLError:
        return None


def to_glances(reading: GpuReading) -> dict[str, Any]:
    mem = None
    if reading.memory_used is not None and reading.memory_total:
        mem = 100.0 * reading.memory_used / reading.memory_total
    return {
        "key": "gpu_id",
        "gpu_id": f"nvidia{reading.index}",
        "name": reading.name,
        "mem": mem,
        "proc": reading.utilization_gpu,
        "temperature": reading.temperature,
        "fan_speed": reading.fan_speed,
    }


class GpuCollector:
    spec = SPEC

    def __init__(self, source: GpuSource | None = None) -> None:
        self.source: GpuSource = source if source is not None else NvmlSource()

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        return [to_glances(r) for r in self.source.readings()]
