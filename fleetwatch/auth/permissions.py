"""The permissions, named after what the reference docs name, and the built-in groups.

The built-in groups are created by the store's migration 0002 with exactly these sets
(``manage-notifications`` joined ``admin`` in migration 0007).
"""

from __future__ import annotations

VIEW_STATISTICS = "view-statistics"
API_COMMAND = "api-command"
HOST_VIEW_ALL = "host-view-all"
HOST_EDIT_ALL = "host-edit-all"
SERVICE_VIEW_ALL = "service-view-all"
SERVICE_EDIT_ALL = "service-edit-all"
MANAGE_USERS = "manage-users"
MANAGE_SYSTEMS = "manage-systems"
VIEW_EVENTS = "view-events"
CLEAR_EVENTS = "clear-events"
MANAGE_NOTIFICATIONS = "manage-notifications"

ALL_PERMISSIONS: tuple[str, ...] = (
    VIEW_STATISTICS, API_COMMAND, HOST_VIEW_ALL, HOST_EDIT_ALL, SERVICE_VIEW_ALL,
    SERVICE_EDIT_ALL, MANAGE_USERS, MANAGE_SYSTEMS, VIEW_EVENTS, CLEAR_EVENTS,
    MANAGE_NOTIFICATIONS,
)  # fmt: skip
VIEW_PERMISSIONS: tuple[str, ...] = (
    VIEW_STATISTICS, HOST_VIEW_ALL, SERVICE_VIEW_ALL, VIEW_EVENTS,
)  # fmt: skip

BUILTIN_GROUPS: dict[str, frozenset[str]] = {
    "admin": frozenset(ALL_PERMISSIONS),
    "readonly": frozenset(VIEW_PERMISSIONS),
    "status_update": frozenset({API_COMMAND, SERVICE_VIEW_ALL, SERVICE_EDIT_ALL, HOST_VIEW_ALL}),
}

# What a system token may do: submit its own statistics (and read them back).
SYSTEM_PERMISSIONS = frozenset({VIEW_STATISTICS})


def check_permission(name: str) -> str:
    """``name`` if it is a known permission; ``ValueError`` naming the known ones otherwise."""
    if name not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {name!r}; known: {', '.join(ALL_PERMISSIONS)}")
    return name
