"""Hosts and services declared in the config, applied to the store when the hub starts.

Declared objects are upserted: a missing one is created, one whose configuration differs is
changed (its state and history stay), one that matches is left alone, so a restart writes
nothing. Nothing is ever deleted: an object taken out of the config stays in the store with
its history until ``fleetwatch service remove`` (or the config API) removes it, because a
typo in a config file must not silently erase monitoring history. Several hubs starting
together on one database may race to create an object; the loser finds it made.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from fleetwatch.config_checks import DeclaredObject
from fleetwatch.store import Store
from fleetwatch.store.checks import CheckObject
from fleetwatch.store.errors import Conflict, NotFound

__all__ = ["apply_declared"]

log = logging.getLogger(__name__)


async def apply_declared(store: Store, declared: Sequence[DeclaredObject]) -> tuple[int, int]:
    """Create or update every declared object (hosts first); return (created, changed)."""
    created = changed = 0
    pending_tags: list[DeclaredObject] = []
    hosts = {d.host_name for d in declared if d.kind == "host"}
    implied = [DeclaredObject("host", name) for name in dict.fromkeys(
        d.host_name for d in declared if d.kind == "service" and d.host_name not in hosts
    )]  # fmt: skip
    for wanted in [*(d for d in declared if d.kind == "host"), *implied,
                   *(d for d in declared if d.kind == "service")]:  # fmt: skip
        found = await store.get_check_object(wanted.host_name, wanted.service_description)
        if wanted.tags is not None:
            pending_tags.append(wanted)
        if found is None:
            with contextlib.suppress(Conflict):  # another hub made it meanwhile
                await store.add_check_object(
                    "host" if wanted.kind == "host" else "service",
                    wanted.host_name,
                    wanted.service_description,
                    freshness_threshold=wanted.freshness_threshold,
                    max_check_attempts=wanted.max_check_attempts,
                    stale_state=wanted.stale_state,
                    stale_output=wanted.stale_output,
                    notes=wanted.notes,
                )
                created += 1
            continue
        if wanted in implied:
            continue  # a host only named by its services: whatever it is, it stays as it is
        stale_state = _stale_state(wanted)
        if _differs(found, wanted, stale_state):
            await store.configure_check_object(
                wanted.host_name,
                wanted.service_description,
                freshness_threshold=wanted.freshness_threshold,
                max_check_attempts=wanted.max_check_attempts,
                stale_state=stale_state,
                stale_output=wanted.stale_output,
                notes=wanted.notes,
            )
            changed += 1
    for wanted in pending_tags:
        changed += await _retag(store, wanted, wanted.tags or ())
    if created or changed:
        log.info("config: %d check objects created, %d changed", created, changed)
    return created, changed


async def _retag(store: Store, wanted: DeclaredObject, tags: Sequence[str]) -> int:
    """Give a declared object exactly its declared tags; 1 if that changed them."""
    host, service = wanted.host_name, wanted.service_description
    try:
        current = set(await store.check_object_tags(host, service))
    except NotFound:
        return 0  # removed meanwhile by another hub or the CLI
    if current == set(tags):
        return 0
    await store.tag_check_object(host, service, add=set(tags) - current,
                                 remove=current - set(tags))  # fmt: skip
    return 1


def _stale_state(declared: DeclaredObject) -> int:
    if declared.stale_state is not None:
        return declared.stale_state
    return 1 if declared.kind == "host" else 2  # DOWN, CRITICAL: as add_check_object does


def _differs(found: CheckObject, wanted: DeclaredObject, stale_state: int) -> bool:
    threshold = wanted.freshness_threshold
    return (
        found.check_freshness != (threshold is not None)
        or (threshold is not None and found.freshness_threshold != threshold)
        or found.max_check_attempts != wanted.max_check_attempts
        or found.stale_state != stale_state
        or found.stale_output != wanted.stale_output
        or found.notes != wanted.notes
    )
