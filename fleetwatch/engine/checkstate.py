"""Passive check results through Naemon's state logic: attempts, SOFT and HARD states.

Host results submitted passively are HARD at once. A service result that leaves OK starts a
SOFT problem at attempt 1; further problem results count up, and reaching
``max_check_attempts`` makes it HARD. A change of hard state is what raises an event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SERVICE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
HOST_STATES = ("UP", "DOWN", "UNREACHABLE")
STATE_NUMBERS = {
    "OK": 0,
    "UP": 0,
    "WARNING": 1,
    "DOWN": 1,
    "CRITICAL": 2,
    "UNREACHABLE": 2,
    "UNKNOWN": 3,
}


class BadStatusCode(ValueError):
    """A status_code that cannot be taken; the message says why."""


def parse_status_code(value: object, *, host: bool) -> int:
    """An integer, a string of digits, or a state name; Naemon's rules for the range.

    A service code outside 0-3 becomes UNKNOWN (3), as Naemon does; a host code must be 0-2.
    """
    if isinstance(value, bool):
        raise BadStatusCode("status_code must be an integer or a state name, not a boolean")
    if isinstance(value, int):
        code = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        code = int(value.strip())
    elif isinstance(value, str) and value.strip().upper() in STATE_NUMBERS:
        code = STATE_NUMBERS[value.strip().upper()]
    else:
        names = ", ".join(HOST_STATES if host else SERVICE_STATES)
        raise BadStatusCode(f"status_code must be an integer or one of {names}, not {value!r}")
    if host:
        if not 0 <= code <= 2:
            raise BadStatusCode(
                f"a host status_code must be 0 (UP), 1 (DOWN) or 2 (UNREACHABLE), not {code}"
            )
        return code
    return code if 0 <= code <= 3 else 3


def state_name(code: int, *, host: bool) -> str:
    return HOST_STATES[code] if host else SERVICE_STATES[code]


@dataclass(frozen=True, slots=True)
class CheckState:
    state: int = 0
    state_type: str = "HARD"
    attempt: int = 1
    last_hard_state: int = 0
    last_check: float = 0.0
    last_state_change: float = 0.0
    last_hard_state_change: float = 0.0


@dataclass(frozen=True, slots=True)
class Transition:
    before: CheckState
    after: CheckState

    @property
    def hard_change(self) -> bool:
        """The hard state changed: what raises an event (soft problems do not)."""
        return self.before.last_hard_state != self.after.last_hard_state

    @property
    def state_change(self) -> bool:
        return self.before.state != self.after.state


def apply_result(
    current: CheckState, code: int, now: float, *, host: bool, max_attempts: int
) -> Transition:
    """The state after one result, and what changed."""
    max_attempts = 1 if host else max(1, max_attempts)
    changed = code != current.state
    last_change = now if changed else current.last_state_change
    if code == 0:
        # A recovery: hard if the hard state was a problem, otherwise a soft recovery.
        after = CheckState(
            code,
            "HARD",
            1,
            0,
            now,
            last_change,
            now if current.last_hard_state != 0 else current.last_hard_state_change,
        )
    elif current.state == 0 or (current.state_type == "HARD" and current.last_hard_state == 0):
        attempt = 1
        hard = attempt >= max_attempts
        after = CheckState(
            code,
            "HARD" if hard else "SOFT",
            attempt,
            code if hard else current.last_hard_state,
            now,
            last_change,
            now if hard else current.last_hard_state_change,
        )
    elif current.state_type == "SOFT":
        attempt = current.attempt + 1
        hard = attempt >= max_attempts
        after = CheckState(
            code,
            "HARD" if hard else "SOFT",
            min(attempt, max_attempts),
            code if hard else current.last_hard_state,
            now,
            last_change,
            now if hard else current.last_hard_state_change,
        )
    else:
        # Already a hard problem: another problem state is a hard change at once.
        hard_changed = code != current.last_hard_state
        after = replace(
            current,
            state=code,
            last_check=now,
            last_state_change=last_change,
            last_hard_state=code,
            last_hard_state_change=now if hard_changed else current.last_hard_state_change,
        )
    return Transition(current, after)
