"""``system``: host name and operating system, read from the local machine only."""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(name="system", shape="dict", refresh_limit="system_refresh")


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    """The key=value pairs of os-release(5), quotes removed; empty when absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name and not name.startswith("#"):
            out[name.strip()] = value.strip().strip("\"'")
    return out


class SystemCollector:
    spec = SPEC

    def __init__(
        self,
        os_release: Callable[[], dict[str, str]] = read_os_release,
        uname: Callable[[], Any] = platform.uname,
    ) -> None:
        self._os_release = os_release
        self._uname = uname

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        uname = self._uname()
        bits = (
            "64bit"
            if uname.machine in {"x86_64", "aarch64", "arm64", "ppc64le", "s390x"}
            else (platform.architecture()[0])
        )
        stats: dict[str, Any] = {
            "os_name": uname.system,
            "hostname": uname.node,
            "platform": bits,
            "os_version": uname.release,
        }
        if uname.system == "Linux":
            release = self._os_release()
            distro = " ".join(
                part
                for part in (release.get("NAME", "Linux"), release.get("VERSION_ID", ""))
                if part
            )
            stats["linux_distro"] = distro
            stats["hr_name"] = f"{distro} {bits} / Linux {uname.release}"
        else:
            stats["hr_name"] = f"{uname.system} {uname.release} {bits}"
        return stats
