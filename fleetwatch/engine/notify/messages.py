"""Messages: a title a phone shows whole, and a body with the details and a link.

``CRITICAL web1 / Nightly backup: no result for 3605 s (threshold 3600 s)`` is the default
title; a rule may template its own title and body from the event's documented fields
(``events.FIELDS``). Templates run in Jinja2's sandbox (no attribute of a Python object beyond
plain data, no file or import), their size is bounded, and so is what they render.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

from fleetwatch.engine.notify.events import NotifyEvent

__all__ = ["MAX_BODY", "MAX_TITLE", "Messages", "check_template", "fields_of"]

MAX_TITLE = 250
MAX_BODY = 16_000


def _utc(epoch: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    # Made (and Jinja2 imported) on first use, not when the hub starts.
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: PLC0415

    environment = ImmutableSandboxedEnvironment(autoescape=False, trim_blocks=True)
    environment.filters["utc"] = _utc
    return environment


# Templates are expressions, conditions and these filters: no loops, calls, macros or
# repetition operators, so what one renders is bounded by its size and the event's fields.
_FILTERS = frozenset({
    "default", "d", "upper", "lower", "title", "capitalize", "round", "int", "float", "string",
    "truncate", "trim", "join", "length", "first", "last", "abs", "tojson", "utc",
})  # fmt: skip
_NODES = (
    "Template", "Output", "TemplateData", "Name", "Const", "Getattr", "Getitem", "Filter", "If",
    "CondExpr", "Compare", "Operand", "And", "Or", "Not", "Concat", "Add", "Sub", "Div", "Neg",
    "Pos", "Test", "List", "Tuple", "Keyword",
)  # fmt: skip
MAX_CONSTANT = 10_000


def _too_big(value: object) -> bool:
    return isinstance(value, int | float) and abs(value) > MAX_CONSTANT


def check_template(text: str, limit: int) -> None:
    """``ValueError`` unless ``text`` is a template of at most ``limit`` characters made of
    what templates may hold (see ``_NODES``, ``_FILTERS``)."""
    from jinja2 import TemplateError, nodes  # noqa: PLC0415 - see _environment

    if len(text) > limit:
        raise ValueError(f"may be at most {limit} characters")
    try:
        tree = _environment().parse(text)
    except TemplateError as exc:
        raise ValueError(f"is not a valid template ({exc.message})") from None
    for node in tree.find_all(nodes.Node):
        if type(node).__name__ not in _NODES or type(node).__module__ != nodes.__name__:
            raise ValueError(f"may not use {type(node).__name__} (expressions, if and filters)")
        if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
            raise ValueError(f"may not use the filter {node.name!r}")
        if isinstance(node, nodes.Const) and _too_big(node.value):
            raise ValueError(f"numbers may be at most {MAX_CONSTANT}")


def object_url(public_url: str, event: NotifyEvent) -> str:
    """The object's page on the hub (empty until ``server.public_url`` is set)."""
    if not public_url:
        return ""
    base = public_url.rstrip("/")
    if event.host:
        # The console's checks board, filtered to this object (its "host;service" name).
        name = f"{event.host};{event.service}" if event.service else event.host
        return f"{base}/checks?q={quote(name, safe='')}"
    return f"{base}/systems/{quote(event.system, safe='')}"


def fields_of(
    event: NotifyEvent, phase: str, severity: str, now: float, public_url: str
) -> dict[str, Any]:
    """The documented template fields (``events.FIELDS``) of ``event`` sent in ``phase``."""
    end = event.ended_at
    return {
        "kind": event.kind, "type": event.type, "severity": severity, "phase": phase,
        "state": event.state, "previous_state": event.previous_state, "system": event.system,
        "host": event.host, "service": event.service, "object": event.object,
        "summary": event.summary, "description": event.description, "value": event.value,
        "began_at": event.began_at, "ended_at": end,
        "duration_seconds": round((end if end is not None else now) - event.began_at, 3),
        "event_id": event.event_id, "url": object_url(public_url, event), "data": event.data,
    }  # fmt: skip


def default_title(fields: Mapping[str, Any]) -> str:
    phase, kind = fields["phase"], fields["kind"]
    if phase == "recovery":
        label = "RECOVERED"
    elif kind in ("acknowledgement", "downtime"):
        label = kind.upper()
    else:
        label = str(fields["state"])
    repeat = " (reminder)" if phase == "repeat" else ""
    return f"{label} {fields['object']}: {fields['summary']}{repeat}"


def default_body(fields: Mapping[str, Any]) -> str:
    began = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(fields["began_at"]))
    lines = [
        f"{fields['object']} is {fields['state']}"
        + (f" (was {fields['previous_state']})" if fields["previous_state"] else ""),
        f"What: {fields['summary']}",
        f"Event: {fields['type']} ({fields['kind']}), severity {fields['severity']}",
        f"Since: {began}, {fields['duration_seconds']:.0f} s",
    ]
    if fields["url"]:
        lines.append(f"Link: {fields['url']}")
    return "\n".join(lines)


class Messages:
    """Renders a rule's title and body; a template that fails falls back to the default,
    so a typo in a template never loses a message."""

    def __init__(self, public_url: str = "") -> None:
        self.public_url = public_url

    def render(self, title: str, body: str, fields: Mapping[str, Any]) -> tuple[str, str]:
        rendered_title = self._render(title, fields) if title else None
        rendered_body = self._render(body, fields) if body else None
        final_title = " ".join((rendered_title or default_title(fields)).split())
        if len(final_title) > MAX_TITLE:
            final_title = final_title[: MAX_TITLE - 1] + "…"
        return final_title, (rendered_body or default_body(fields))[:MAX_BODY]

    def _render(self, template: str, fields: Mapping[str, Any]) -> str | None:
        from jinja2 import TemplateError  # noqa: PLC0415 - see _environment

        try:
            return _environment().from_string(template).render(fields)[: MAX_BODY + 1]
        except (TemplateError, ValueError, TypeError, ArithmeticError):
            return None
