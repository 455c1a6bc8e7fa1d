"""Tags: short names on systems, hosts and services that the console and queries filter by."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_TAGS", "check_tag", "merged_tags"]

MAX_TAGS = 32
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")


def check_tag(tag: str) -> str:
    """``tag`` if it is a valid tag; ``ValueError`` saying what one is."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise ValueError(
            f"a tag is 1-64 letters, digits and _.:/- starting with a letter or digit, not {tag!r}"
        )
    return tag


def merged_tags(
    old: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> list[str]:
    """``old`` with ``add`` and without ``remove``, sorted; ``ValueError`` past ``MAX_TAGS``."""
    gone = set(remove)
    tags = sorted({*old, *(check_tag(t) for t in add)} - gone)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags per object")
    return tags
