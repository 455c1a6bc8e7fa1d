"""``/api/4/config``: the hub's settings beside the sections Glances' own clients read.

Glances answers its configuration file as sections of strings (``/api/4/config/global/refresh``
is ``"2"``). The hub adds such sections, computed from its effective settings: ``global``
(``refresh``, ``check_update``) and one per plugin with thresholds, named as in a
``glances.conf`` (``[cpu] user_careful``) with the hub's effective values, overrides included.
The hub's own sections (``server``, ``auth``, ``storage``...) keep their native types, secrets
masked (``Config.masked``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetwatch.config import Config
from fleetwatch.model.limits import GLANCES_DEFAULTS, Limits

__all__ = ["config_sections"]


def _text(value: Any) -> str:
    """A value as Glances' configuration parser gives it: text, whole numbers without ``.0``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def config_sections(config: Config, limits: Mapping[str, Limits]) -> dict[str, dict[str, Any]]:
    masked = config.masked()
    out: dict[str, dict[str, Any]] = {
        "global": {"refresh": _text(float(config.refresh)), "check_update": "false"},
    }
    for plugin in GLANCES_DEFAULTS:
        prefix = f"{plugin}_"
        section = {key.removeprefix(prefix): _text(value)
                   for key, value in limits.get(plugin, {}).items()
                   if key.startswith(prefix)}  # fmt: skip
        section.update({key: _text(value) for key, value in masked.get(plugin, {}).items()})
        if section:
            out[plugin] = section
    for name, values in masked.items():
        out.setdefault(name, values)
    return out
