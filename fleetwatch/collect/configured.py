"""Items configured in a plugin section (ports, folders, amps), read back from the limits.

A config section ``[ports]`` with ``web_host = "127.0.0.1"`` and ``web_port = 443`` becomes
the limits ``ports_web_host`` and ``ports_web_port`` (Glances' flattening), and here one item
``web`` with the attributes ``host`` and ``port``. Items keep the order of the config file.
"""

from __future__ import annotations

from typing import Any

from fleetwatch.model.limits import Limits, LimitValue

# The attributes each item of these sections may carry (longest first, so that ``rtt_warning``
# is matched before ``warning``).
ITEM_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "ports": ("rtt_warning", "description", "timeout", "refresh", "host", "port"),
    "folders": ("critical", "careful", "warning", "refresh", "path"),
    "amps": ("countmin", "countmax", "refresh", "regex", "enable"),
}


def split_item_key(section: str, key: str) -> tuple[str, str] | None:
    """``web_rtt_warning`` -> (``web``, ``rtt_warning``); None for a section-wide key."""
    for attr in ITEM_ATTRIBUTES.get(section, ()):
        suffix = f"_{attr}"
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], attr
    return None


def configured_items(limits: Limits, section: str) -> dict[str, dict[str, LimitValue]]:
    """The items of a section, by name, each with the attributes the config gave it."""
    items: dict[str, dict[str, LimitValue]] = {}
    prefix = f"{section}_"
    for name, value in limits.items():
        if not name.startswith(prefix):
            continue
        parts = split_item_key(section, name[len(prefix) :])
        if parts is not None:
            items.setdefault(parts[0], {})[parts[1]] = value
    return items


def as_text(value: Any) -> str | None:
    """A limit as the string the config held (lists were split on commas: join them back)."""
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list) and len(value) == 1:
        try:
            return float(value[0])
        except ValueError:
            return default
    return default
