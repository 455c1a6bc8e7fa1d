"""Nagios plugin output: the status line, long output and performance data.

``DISK OK - free space: / 3326 MB | /=2643MB;5948;5958;0;5968`` carries its perfdata after the
first ``|``; further lines are long output, and a ``|`` in them starts more perfdata that runs
to the end. Each perfdata item is ``'label'=value[UOM];[warn];[crit];[min];[max]``; labels
with spaces are single-quoted, a quote inside doubled (``'it''s'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VALUE = re.compile(
    r"^(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|U)(?P<uom>[^;\d\s]*)$"
)
NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A whole well-formed item with an unquoted label in one match: what ``parse_item`` reads in
# steps, for the common case only. Anything it does not match (a quoted label, an error) is
# read by ``parse_item``, which says what is wrong.
_PLAIN_ITEM = re.compile(
    rf"(?P<label>[^='][^=]*)=(?P<value>{_NUMBER}|U)(?P<uom>[^;\d\s]*)"
    rf"(?:;(?P<warn>[^;]*)(?:;(?P<crit>[^;]*)(?:;(?P<min>{_NUMBER})?(?:;(?P<max>{_NUMBER})?)?)?)?)?"
)
# Each label is a row written with its result, in the same group commit: 10,000 held the hub's
# thread ~0.45 s, and 10,001 could never fit the writer queue (503 forever). Plugins that
# report a whole machine's disks or interfaces stay in the hundreds.
MAX_LABELS = 1000


class PerfdataError(ValueError):
    """A perfdata item that does not follow the plugin API; says which and why."""


@dataclass(frozen=True, slots=True)
class PerfValue:
    label: str
    value: float | None  # None for "U" (the plugin could not determine it)
    uom: str = ""
    warn: str = ""  # thresholds are ranges ("10", "10:20", "@~:5"), kept as text
    crit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class PluginOutput:
    output: str
    long_output: str
    perfdata: str
    values: tuple[PerfValue, ...]


def split_output(text: str) -> tuple[str, str, str]:
    """(status line, long output, perfdata text) of a plugin's whole output."""
    first, _, rest = text.partition("\n")
    output, _, perf = first.partition("|")
    long_output, _, more = rest.partition("|")
    perfdata = " ".join(p for p in (perf.strip(), " ".join(more.split())) if p)
    return output.strip(), long_output.strip("\n"), perfdata


def _tokens(text: str) -> list[str]:
    """Whitespace-separated items, where a quoted label may hold spaces."""
    items: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        if text[i] == "'":
            i += 1
            while i < n:
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            if i >= n:
                raise PerfdataError(f"unterminated quote in perfdata item {text[start:]!r}")
            i += 1
        while i < n and not text[i].isspace():
            i += 1
        items.append(text[start:i])
        if len(items) > MAX_LABELS:
            break  # enough to refuse it; the rest is not worth reading
    return items


def _optional_number(text: str, what: str, item: str) -> float | None:
    if text == "":
        return None
    if not NUMBER.match(text):
        raise PerfdataError(f"{what} of {item!r} is not a number")
    return float(text)


def parse_item(item: str) -> PerfValue:
    if item.startswith("'"):
        end = item.rfind("'=")
        if end <= 0:
            raise PerfdataError(f"perfdata item {item!r} has no '=' after its quoted label")
        label, rest = item[1:end].replace("''", "'"), item[end + 2 :]
    else:
        label, sep, rest = item.partition("=")
        if not sep:
            raise PerfdataError(f"perfdata item {item!r} has no '='")
    if not label:
        raise PerfdataError(f"perfdata item {item!r} has an empty label")
    parts = rest.split(";")
    if len(parts) > 5:
        raise PerfdataError(f"perfdata item {item!r} has more than 5 fields")
    parts += [""] * (5 - len(parts))
    match = VALUE.match(parts[0])
    if not match:
        raise PerfdataError(f"value of {item!r} is not a number")
    value = None if match.group("value") == "U" else float(match.group("value"))
    return PerfValue(
        label=label,
        value=value,
        uom=match.group("uom"),
        warn=parts[1],
        crit=parts[2],
        min=_optional_number(parts[3], "min", item),
        max=_optional_number(parts[4], "max", item),
    )


def _read_item(item: str) -> PerfValue:
    plain = _PLAIN_ITEM.fullmatch(item)
    if plain is None:
        return parse_item(item)
    label, value, uom, warn, crit, low, high = plain.groups()
    return PerfValue(
        label,
        None if value == "U" else float(value),
        uom,
        warn or "",
        crit or "",
        None if low is None else float(low),
        None if high is None else float(high),
    )


def parse_perfdata(text: str) -> tuple[PerfValue, ...]:
    # Without quotes, items are what ``str.split`` makes (in C: a thousand labels parse in
    # ~2 ms instead of ~8), at most one past the limit, as ``_tokens`` reads them.
    items = _tokens(text) if "'" in text else text.split(None, MAX_LABELS)
    if len(items) > MAX_LABELS:
        raise PerfdataError(
            f"perfdata holds {len(items)} labels; at most {MAX_LABELS} are accepted"
        )
    return tuple(map(_read_item, items))


def parse_output(text: str) -> PluginOutput:
    output, long_output, perfdata = split_output(text)
    return PluginOutput(output, long_output, perfdata, parse_perfdata(perfdata))
