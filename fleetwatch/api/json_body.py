"""What every request body and form must satisfy before any handler sees it.

* JSON nests at most ``MAX_DEPTH`` levels: orjson reads 1,024 but writes 254, so a deeper
  document was accepted and then failed when stored (a 500);
* no text holds U+0000, anywhere: PostgreSQL's text and jsonb cannot store it, and refusing it
  on both backends keeps them alike. The 400 names the field (``cpu[0].name``).

Refusing is cheap on the usual body: the depth walk runs only when the body has more brackets
than ``MAX_DEPTH`` could hold, and the NUL search is one scan of the bytes for ``\\u0000``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from fleetwatch.api.errors import BadRequest

__all__ = ["MAX_DEPTH", "check_json", "check_text", "check_texts", "load_json", "url_refusal"]

MAX_DEPTH = 64


def load_json(body: bytes) -> Any:
    """The decoded body; ``BadRequest`` when it is not JSON or breaks a bound above."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None
    check_json(value, body)
    return value


def check_json(value: Any, raw: bytes | None = None) -> None:
    """``BadRequest`` for a decoded document too deep or holding U+0000; ``raw`` (its bytes)
    lets the common case skip the walk."""
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH and b"\\u0000" not in raw:
        return
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(path or "the body", item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise BadRequest(f"{path or 'the body'} nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, inner in item.items():
                where = f"{path}.{key}" if path else str(key)
                check_text(f"a key in {path or 'the body'}", key)
                stack.append((inner, where, depth + 1))
        else:
            stack.extend((inner, f"{path}[{i}]", depth + 1) for i, inner in enumerate(item))


def check_text(where: str, text: str) -> str:
    """``text`` unless it holds U+0000 (``BadRequest`` naming ``where``)."""
    if "\x00" in text:
        raise BadRequest(f"{_shown(where)} may not contain U+0000 (NUL)")
    return text


def check_texts(pairs: Iterable[tuple[str, str]]) -> None:
    """Each (name, value) of a form: no U+0000 in either."""
    for name, value in pairs:
        check_text("a form field name", name)
        check_text(name, value)


def url_refusal(scope: Any) -> dict[str, Any] | None:
    """The 400 body for a request whose path or query string holds U+0000 (``%00``), for any
    route; None for every other request. Its keys serve every family's clients."""
    if "\x00" not in scope["path"] and b"%00" not in scope.get("query_string", b""):
        return None
    where = "the path" if "\x00" in scope["path"] else "the query string"
    message = f"{where} may not contain U+0000 (%00)"
    return {"detail": message, "error": message, "success": False}


def _shown(where: str) -> str:
    # A client's key, quoted and cut short: it is part of our message, not of our wording.
    return repr(where[:80]) if "\x00" in where else where[:80]
