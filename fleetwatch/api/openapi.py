"""The OpenAPI 3.1 document, derived from the route table and each plugin's field metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetwatch import __version__
from fleetwatch.model.fields import Field
from fleetwatch.model.plugin import PluginSpec

UNIT_TYPES = {
    "percent": "number", "float": "number", "number": "number", "int": "integer",
    "byte": "integer", "bytes": "integer", "second": "number", "seconds": "number",
    "string": "string", "list": "array", "bool": "boolean", "timestamp": "number",
    "hertz": "number", "celsius": "number",
}  # fmt: skip

ANY: dict[str, Any] = {}
OBJECT: dict[str, Any] = {"type": "object"}
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What was wrong or unknown."}},
    "required": ["detail"],
}
SERIES = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        # A [timestamp, value] pair: one schema for every element, as validators of both
        # OpenAPI 3.0 and 3.1 read it (an array under "items" is a 3.0 schema error).
        "items": {"type": "array", "minItems": 2, "maxItems": 2},
    },
    "description": "Series name to [[ISO timestamp, value], ...], oldest first.",
}
# Glances documents structured fields in their descriptions: "(dict with rss, vms keys)".
_STRUCTURED = {"(dict with": "object", "(list with": "array"}
# Plugins whose items group several processes: a field may hold one value per process, or
# "_" where the group has no single value (Glances' programlist does both).
_GROUPED = frozenset({"programlist"})


@dataclass(frozen=True, slots=True)
class Route:
    """One documented route of ``/api/4``; ``{plugin}`` etc. are path parameters."""

    path: str
    methods: tuple[str, ...]
    summary: str
    response: dict[str, Any]
    example_args: tuple[tuple[str, str], ...] = ()


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}  # fmt: skip


GLANCES_ROUTES: tuple[Route, ...] = (
    Route("/status", ("GET", "HEAD"), "API status (never authenticated)",
          {"type": "object", "properties": {"version": {"type": "string"}}}),
    Route("/pluginslist", ("GET",), "Names of every plugin",
          {"type": "array", "items": {"type": "string"}}),
    Route("/all", ("GET",), "Every plugin's stats in one object", OBJECT),
    Route("/all/limits", ("GET",), "Every plugin's limits (thresholds and switches)", OBJECT),
    Route("/all/views", ("GET",), "Every plugin's views (decorations)", OBJECT),
    Route("/{plugin}/limits", ("GET",), "A plugin's limits", OBJECT),
    Route("/{plugin}/views", ("GET",), "A plugin's views: a decoration per field", OBJECT),
    Route("/{plugin}/history", ("GET",), "A plugin's history", SERIES),
    Route("/{plugin}/history/{nb}", ("GET",), "The last nb points of a plugin's history", SERIES),
    Route("/{plugin}/top/{nb}", ("GET",), "The first nb items of a list plugin",
          {"type": "array", "items": OBJECT}),
    Route("/{plugin}/{item}", ("GET",), "One field (of every item, for list plugins)", OBJECT),
    Route("/{plugin}/{item}/views", ("GET",), "One field's views", OBJECT),
    Route("/{plugin}/{item}/history", ("GET",), "One field's history", SERIES),
    Route("/{plugin}/{item}/history/{nb}", ("GET",), "The last nb points of a field", SERIES),
    Route("/{plugin}/{item}/description", ("GET",), "A field's description", {"type": "string"}),
    Route("/{plugin}/{item}/unit", ("GET",), "A field's unit", {"type": ["string", "null"]}),
    Route("/{plugin}/{item}/value/{value}", ("GET",),
          "The items whose field equals value (value may contain /)", OBJECT),
    Route("/{plugin}/{item}/{key}", ("GET",), "One field of the item whose key is key", OBJECT),
    Route("/processes/{pid}", ("GET",), "One process' stats", OBJECT),
    Route("/processes/extended", ("GET",), "The process picked for extended stats", OBJECT),
    Route("/processes/extended/{pid}", ("POST",), "Pick a process for extended stats",
          {"type": "boolean"}),
    Route("/processes/extended/disable", ("POST",), "Stop extended stats", {"type": "boolean"}),
    Route("/events/clear/all", ("POST",), "Remove every finished event", OBJECT),
    Route("/events/clear/warning", ("POST",), "Remove finished warning events", OBJECT),
    Route("/config", ("GET",), "The effective configuration, secrets masked", OBJECT),
    Route("/config/{section}", ("GET",), "One configuration section", OBJECT),
    Route("/config/{section}/{item}", ("GET",), "One configuration value", ANY),
    Route("/args", ("GET",), "The effective command-line settings", OBJECT),
    Route("/args/{item}", ("GET",), "One command-line setting", ANY),
)  # fmt: skip

PARAMS = {
    "nb": _param("nb", "A positive integer", {"type": "integer", "minimum": 1}),
    "pid": _param("pid", "A process id", {"type": "integer", "minimum": 1}),
    "item": _param("item", "A field name", {"type": "string"}),
    "key": _param("key", "The value of the item's key field (e.g. eth0, 0)", {"type": "string"}),
    "value": _param("value", "The value to match", {"type": "string"}),
    "section": _param("section", "A configuration section", {"type": "string"}),
}
SYSTEM_PARAM = _param("system", "A registered system's name", {"type": "string"})


def _field_schema(field: Field, *, grouped: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": field.description}
    kind = UNIT_TYPES.get(field.unit or "")
    for marker, structured in _STRUCTURED.items():
        if marker in field.description:
            kind = structured
    if kind:
        extra = [t for t in ("array", "string") if grouped and t != kind]
        schema["type"] = [kind, "null", *extra]
    if field.unit:
        schema["x-unit"] = field.unit
    return schema


def plugin_schema(spec: PluginSpec) -> dict[str, Any]:
    grouped = spec.name in _GROUPED
    properties = {name: _field_schema(f, grouped=grouped) for name, f in spec.wire_fields.items()}
    if spec.shape == "dict":
        return {"type": "object", "properties": properties}
    if spec.shape == "list":
        if spec.key:
            properties["key"] = {"type": "string", "description": "Name of the item key field"}
        return {"type": "array", "items": {"type": "object", "properties": properties}}
    return {"description": f"{spec.name} value"}


def _operation(route: Route, prefix: str, plugin_names: list[str], method: str) -> dict[str, Any]:
    params = []
    for name, param in PARAMS.items():
        if "{" + name + "}" in route.path:
            params.append(param)
    if "{plugin}" in route.path:
        params.insert(
            0, _param("plugin", "A plugin name", {"type": "string", "enum": plugin_names})
        )
    op_id = (method.lower() + route.path).replace("/", "_").replace("{", "").replace("}", "")
    return {
        "summary": route.summary,
        "operationId": f"glances{op_id}",
        "tags": ["Glances API v4"],
        "parameters": params,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": route.response}},
            },
            "400": {"description": "Malformed parameter", "content": _error()},
            "404": {"description": "Unknown plugin, field, item or pid", "content": _error()},
        },
    }


def _error() -> dict[str, Any]:
    return {"application/json": {"schema": ERROR}}


def build_openapi(prefix: str, specs: dict[str, PluginSpec]) -> dict[str, Any]:
    base = f"{prefix}/api/4"
    names = sorted(specs)
    paths: dict[str, Any] = {}
    for name in names:
        paths[f"{base}/{name}"] = {
            "get": {
                "summary": f"{name} stats",
                "operationId": f"glances_get_{name}",
                "tags": ["Glances API v4"],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": plugin_schema(specs[name])}},
                    }
                },
            }
        }
    for route in GLANCES_ROUTES:
        entry = paths.setdefault(base + route.path, {})
        for method in route.methods:
            entry[method.lower()] = _operation(route, prefix, names, method)
        if "GET" in route.methods:
            system_entry = paths.setdefault(f"{prefix}/systems/{{system}}/api/4{route.path}", {})
            operation = _operation(route, prefix, names, "GET")
            operation["operationId"] = "system_" + operation["operationId"]
            operation["tags"] = ["A pushed system, Glances API v4"]
            operation["parameters"] = [SYSTEM_PARAM, *operation["parameters"]]
            system_entry["get"] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fleetwatch",
            "version": __version__,
            "description": "Fleetwatch hub API. /api/4 is compatible with the Glances REST API v4.",
        },
        "paths": paths,
    }
