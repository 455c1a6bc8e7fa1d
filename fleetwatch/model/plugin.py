"""What a plugin is, as data: its shape, fields, item key, history and threshold rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetwatch.model.catalog import CATALOG
from fleetwatch.model.fields import Field, expand

Shape = Literal["dict", "list", "scalar"]


@dataclass(frozen=True, slots=True)
class ViewRule:
    """How a field's decoration is computed from the limits, as Glances' ``get_alert`` does.

    The value is taken as a percentage of ``maximum`` (a constant, or read from the item, e.g.
    a file system's size) and compared with ``<stat>_careful``, ``_warning`` and ``_critical``,
    falling back to ``<plugin>_careful`` etc. ``header`` puts the item's key between plugin and
    level (``fs_/_careful``), like Glances' per-item thresholds.
    """

    field: str
    stat: str
    maximum: float | Callable[[dict[str, Any]], float | None] = 100.0
    value: Callable[[dict[str, Any]], float | None] | None = None


@dataclass(frozen=True, slots=True)
class PluginSpec:
    """Everything the API needs to know about a plugin, independent of how it is gathered."""

    name: str
    shape: Shape
    key: str | None = None
    history: tuple[str, ...] = ()
    views: tuple[ViewRule, ...] = ()
    refresh_limit: str | None = None
    extra_fields: tuple[Field, ...] = field(default=())
    disabled_value: Any = None

    @property
    def fields(self) -> tuple[Field, ...]:
        return CATALOG.get(self.name, ()) + self.extra_fields

    @property
    def wire_fields(self) -> dict[str, Field]:
        return expand(self.fields)

    @property
    def rate_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.rate)

    def empty(self) -> Any:
        """The value Glances answers when the plugin has nothing (no sensor, disabled...)."""
        if self.disabled_value is not None:
            return dict(self.disabled_value)
        if self.shape == "list":
            return []
        if self.shape == "dict":
            return {}
        return None
