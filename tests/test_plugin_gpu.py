"""``gpu``: NVIDIA through NVML. This machine has no NVIDIA driver (``libnvidia-ml.so`` is not
found), so the real source answers ``[]`` and says why; the conversion runs on a fake NVML
module with the ``pynvml`` calls and values of an H100, injected as the source's module."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.gpu import GpuCollector, GpuReading, NvmlSource, to_glances
from fleetwatch.model.limits import default_limits


class FakeNvmlError(Exception):
    pass


class FakeNvml:
    """The ``pynvml`` functions the source calls, for two devices; the second has no fan."""

    NVMLError = FakeNvmlError
    NVML_TEMPERATURE_GPU = 0

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> Any:
        return b"NVIDIA H100 80GB HBM3" if handle == 0 else "NVIDIA A10"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=20 * 2**30, total=80 * 2**30, free=60 * 2**30)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=37, memory=12)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        return 41

    def nvmlDeviceGetFanSpeed(self, handle: int) -> int:
        if handle == 1:
            raise FakeNvmlError("Not Supported")
        return 30


def ctx() -> CollectContext:
    return CollectContext(now=time.time(), limits=default_limits(["gpu"], 1200))


def fake_source() -> NvmlSource:
    source = NvmlSource()
    source._nvml = FakeNvml()
    return source


def test_fake_nvml_devices_become_glances_items() -> None:
    items = GpuCollector(fake_source()).collect(ctx())

    assert items == [
        {
            "key": "gpu_id",
            "gpu_id": "nvidia0",
            "name": "NVIDIA H100 80GB HBM3",
            "mem": 25.0,
            "proc": 37.0,
            "temperature": 41,
            "fan_speed": 30,
        },
        {
            "key": "gpu_id",
            "gpu_id": "nvidia1",
            "name": "NVIDIA A10",
            "mem": 25.0,
            "proc": 37.0,
            "temperature": 41,
            "fan_speed": None,
        },
    ]


def test_unknown_memory_total_gives_no_percentage() -> None:
    reading = GpuReading(0, "x", None, None, None, None, None)

    assert to_glances(reading)["mem"] is None


def test_real_nvml_on_this_machine() -> None:
    source = NvmlSource()
    items = GpuCollector(source).collect(ctx())
    if source.unavailable_reason is not None:
        # No NVIDIA driver here: NVML cannot load, and the plugin answers Glances' [].
        assert items == []
        assert "NVML" in source.unavailable_reason or "pynvml" in source.unavailable_reason
        # It does not retry the failed load every round.
        assert GpuCollector(source).collect(ctx()) == []
    else:
        assert all(item["gpu_id"].startswith("nvidia") for item in items)


@pytest.mark.parametrize("field", ["gpu_id", "name", "mem", "proc", "temperature", "fan_speed"])
def test_fields_are_described(field: str) -> None:
    assert field in GpuCollector.spec.wire_fields
