"""Per-field display hints (``/views``), with a decoration computed from the limits."""

from __future__ import annotations

from typing import Any

from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec, ViewRule

LEVELS = ("critical", "warning", "careful")


def _view(decoration: str = "DEFAULT") -> dict[str, Any]:
    return {
        "decoration": decoration,
        "optional": False,
        "additional": False,
        "splittable": False,
        "hidden": False,
    }


def _threshold(limits: Limits, plugin: str, stat: str, header: str | None, level: str) -> float:
    """The threshold for a level, most specific first: per item, per stat, per plugin."""
    names = [f"{stat}_{level}", f"{plugin}_{level}"]
    if header is not None:
        names.insert(0, f"{plugin}_{header}_{level}")
    for name in names:
        value = limits.get(name)
        if isinstance(value, float):
            return value
    return 0.0


Levels = tuple[tuple[str, float], ...] | None  # (LEVEL, percent) from the highest; None: DEFAULT


def levels_of(limits: Limits, plugin: str, stat: str, header: str | None = None) -> Levels:
    """The thresholds that judge a stat, resolved once (the alert engine keeps them)."""
    found = [(level, _threshold(limits, plugin, stat, header, level)) for level in LEVELS]
    if not any(value for _, value in found):
        return None
    return tuple((level.upper(), value) for level, value in found if value)


def level_at(percent: float, levels: Levels) -> str:
    if levels is None:
        return "DEFAULT"
    for name, value in levels:
        if percent >= value:
            return name
    return "OK"


def decoration(
    value: float | None,
    maximum: float | None,
    limits: Limits,
    plugin: str,
    stat: str,
    header: str | None = None,
) -> str:
    """OK/CAREFUL/WARNING/CRITICAL for a value taken as a percentage of ``maximum``."""
    if value is None or not maximum:
        return "DEFAULT"
    return level_at(float(value) * 100.0 / maximum, levels_of(limits, plugin, stat, header))


def _rule_decoration(
    rule: ViewRule, item: dict[str, Any], limits: Limits, plugin: str, header: str | None
) -> str:
    raw = rule.value(item) if rule.value is not None else item.get(rule.field)
    maximum = rule.maximum(item) if callable(rule.maximum) else rule.maximum
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        return "DEFAULT"
    return decoration(float(raw), maximum, limits, plugin, rule.stat, header)


def build_views(spec: PluginSpec, stats: Any, limits: Limits) -> Any:
    """The views object Glances serves for a plugin's current stats."""
    if isinstance(stats, dict):
        out = {name: _view() for name in stats}
        for rule in spec.views:
            if rule.field in out:
                out[rule.field]["decoration"] = _rule_decoration(
                    rule, stats, limits, spec.name, None
                )
        return out
    if isinstance(stats, list) and spec.key is not None:
        views: dict[str, Any] = {}
        for item in stats:
            header = str(item.get(spec.key))
            item_views = {name: _view() for name in item}
            for rule in spec.views:
                if rule.field in item_views:
                    item_views[rule.field]["decoration"] = _rule_decoration(
                        rule, item, limits, spec.name, header
                    )
            views[header] = item_views
        return views
    return {}
