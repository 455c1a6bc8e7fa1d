"""``folders``: the size of configured directories, with thresholds in MB.

Configured in ``[folders]`` as ``<name>_path``, and optionally ``<name>_careful``,
``<name>_warning``, ``<name>_critical`` (MB) and ``<name>_refresh`` (seconds, default 60).
Sizes are summed with ``os.scandir`` (apparent file sizes, symbolic links not followed,
other file systems included); ``errno`` is the first error met, 0 when none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.configured import as_number, as_text, configured_items
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(name="folders", shape="list", key="path", history=("size",))

DEFAULT_REFRESH_SECONDS = 60.0


def folder_size(path: str) -> tuple[int, int]:
    """(bytes, errno): the apparent size of every file below ``path``."""
    total = 0
    error = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError as exc:
                        error = error or (exc.errno or 1)
        except OSError as exc:
            error = error or (exc.errno or 1)
    return total, error


class FoldersCollector:
    spec = SPEC

    def __init__(self, measure: Callable[[str], tuple[int, int]] = folder_size) -> None:
        self._measure = measure
        self._last: dict[str, tuple[float, int, int]] = {}

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for attrs in configured_items(ctx.limits.get("folders", {}), "folders").values():
            path = as_text(attrs.get("path"))
            if not path:
                continue
            refresh = as_number(attrs.get("refresh"), DEFAULT_REFRESH_SECONDS)
            last = self._last.get(path)
            if last is None or ctx.now - last[0] >= (refresh or 0.0):
                size, error = self._measure(path)
                last = self._last[path] = (ctx.now, size, error)
            out.append(
                {
                    "key": "path",
                    "path": path,
                    "size": last[1],
                    "errno": last[2],
                    "refresh": refresh,
                    "careful": as_number(attrs.get("careful")),
                    "warning": as_number(attrs.get("warning")),
                    "critical": as_number(attrs.get("critical")),
                }
            )
        return out
