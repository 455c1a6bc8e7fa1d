"""Passive check logic: status codes, perfdata (with hypothesis), SOFT/HARD transitions."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwatch.engine.checks import _with_state
from fleetwatch.engine.checkstate import (
    BadStatusCode,
    CheckState,
    apply_result,
    parse_status_code,
    state_name,
)
from fleetwatch.ingest.perfdata import (
    PerfdataError,
    PerfValue,
    _read_item,
    parse_item,
    parse_output,
    parse_perfdata,
)
from fleetwatch.store.checks import CheckObject


@pytest.mark.parametrize(
    ("value", "host", "code"),
    [
        (2, False, 2),
        ("2", False, 2),
        ("CRITICAL", False, 2),
        ("ok", False, 0),
        (7, False, 3),
        ("255", False, 3),
        (-1, False, 3),
        ("UP", True, 0),
        ("DOWN", True, 1),
        (2, True, 2),
        ("UNREACHABLE", True, 2),
    ],
)
def test_status_codes(value: object, host: bool, code: int) -> None:
    assert parse_status_code(value, host=host) == code


@pytest.mark.parametrize(
    ("value", "host"),
    [(3, True), ("7", True), (True, False), ("bad", False), (None, False), (1.5, False)],
)
def test_refused_status_codes(value: object, host: bool) -> None:
    with pytest.raises(BadStatusCode):
        parse_status_code(value, host=host)


def test_state_names() -> None:
    assert state_name(2, host=False) == "CRITICAL"
    assert state_name(1, host=True) == "DOWN"


def test_plugin_output_with_perfdata_and_long_output() -> None:
    text = (
        "DISK OK - free space: / 3326 MB | /=2643MB;5948;5958;0;5968\n"
        "/ 15272 MB (77%);\n/boot 68 MB (69%);\n"
        "| /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414"
    )
    out = parse_output(text)
    assert out.output == "DISK OK - free space: / 3326 MB"
    assert out.long_output == "/ 15272 MB (77%);\n/boot 68 MB (69%);"
    assert [v.label for v in out.values] == ["/", "/boot", "/home"]
    assert out.values[0] == PerfValue("/", 2643.0, "MB", "5948", "5958", 0.0, 5968.0)


def test_quoted_labels_ranges_and_undetermined_values() -> None:
    values = parse_perfdata("'free space'=12.5%;@10:20;~:5 'it''s'=U time=0.02s;;;0")
    assert values[0] == PerfValue("free space", 12.5, "%", "@10:20", "~:5")
    assert values[1].label == "it's"
    assert values[1].value is None
    assert values[2] == PerfValue("time", 0.02, "s", "", "", 0.0, None)


def test_empty_output_is_allowed() -> None:
    out = parse_output("")
    assert (out.output, out.long_output, out.values) == ("", "", ())


@pytest.mark.parametrize("bad", ["novalue", "x=abc", "'open=1", "=1", "x=1;2;3;a;5", "x=1;;;;;;"])
def test_bad_perfdata_says_which_item(bad: str) -> None:
    with pytest.raises(PerfdataError):
        parse_perfdata(bad)


labels = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="=\n|"),
    min_size=1,
    max_size=20,
)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e9, max_value=1e9)
uoms = st.sampled_from(["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"])


def _fmt(x: float) -> str:
    return repr(float(x))


@given(
    st.lists(
        st.tuples(
            labels, numbers, uoms, st.one_of(st.none(), numbers), st.one_of(st.none(), numbers)
        ),
        max_size=8,
    )
)
def test_perfdata_round_trip(
    items: list[tuple[str, float, str, float | None, float | None]],
) -> None:
    text = " ".join(
        "'{}'={}{};;;{};{}".format(
            label.replace("'", "''"),
            _fmt(value),
            uom,
            "" if lo is None else _fmt(lo),
            "" if hi is None else _fmt(hi),
        )
        for label, value, uom, lo, hi in items
    )
    parsed = parse_perfdata(text)
    assert [(p.label, p.value, p.uom, p.min, p.max) for p in parsed] == [
        (label, float(value), uom, lo, hi) for label, value, uom, lo, hi in items
    ]


@given(st.text(st.sampled_from("l0123456789.;=-+eEU%Bs:@~ '\t"), max_size=30))
def test_the_one_match_reading_of_an_item_agrees_with_the_stepwise_one(item: str) -> None:
    # ``parse_perfdata`` reads a well-formed item in one match and leaves the rest (quoted
    # labels, errors) to ``parse_item``: whichever reads it, the value or the refusal is the same.
    try:
        expected: PerfValue | str = parse_item(item)
    except PerfdataError as exc:
        expected = str(exc)
    try:
        got: PerfValue | str = _read_item(item)
    except PerfdataError as exc:
        got = str(exc)
    assert got == expected


def test_a_thousand_labels_without_quotes_and_one_too_many() -> None:
    text = " ".join(f"l{i}={i}ms;1;2;0;1000" for i in range(1000))
    values = parse_perfdata(text)
    assert values[999] == PerfValue("l999", 999.0, "ms", "1", "2", 0.0, 1000.0)
    with pytest.raises(PerfdataError, match="1001 labels; at most 1000"):
        parse_perfdata(text + " x=1")


def run(
    codes: list[int], *, max_attempts: int, host: bool = False
) -> list[tuple[int, str, int, bool]]:
    state = CheckState()
    out = []
    for t, code in enumerate(codes):
        tr = apply_result(state, code, float(t), host=host, max_attempts=max_attempts)
        state = tr.after
        out.append((state.state, state.state_type, state.attempt, tr.hard_change))
    return out


def test_soft_then_hard_with_three_attempts() -> None:
    assert run([0, 2, 2, 2, 2, 0], max_attempts=3) == [
        (0, "HARD", 1, False),
        (2, "SOFT", 1, False),
        (2, "SOFT", 2, False),
        (2, "HARD", 3, True),
        (2, "HARD", 3, False),
        (0, "HARD", 1, True),
    ]


def test_soft_recovery_raises_no_hard_change() -> None:
    assert run([2, 0], max_attempts=3) == [(2, "SOFT", 1, False), (0, "HARD", 1, False)]


def test_one_attempt_is_hard_at_once_and_changes_between_problems() -> None:
    assert run([1, 2, 2], max_attempts=1) == [
        (1, "HARD", 1, True),
        (2, "HARD", 1, True),
        (2, "HARD", 1, False),
    ]


def test_host_results_are_hard_at_once() -> None:
    assert run([1], max_attempts=5, host=True) == [(1, "HARD", 1, True)]


@given(st.lists(st.integers(0, 3), max_size=30), st.integers(1, 5))
def test_hard_changes_are_exactly_the_changes_of_hard_state(
    codes: list[int], attempts: int
) -> None:
    state = CheckState()
    for t, code in enumerate(codes):
        tr = apply_result(state, code, float(t), host=False, max_attempts=attempts)
        assert tr.hard_change == (tr.before.last_hard_state != tr.after.last_hard_state)
        assert 1 <= tr.after.attempt <= attempts
        if tr.after.state_type == "HARD":
            assert tr.after.last_hard_state == tr.after.state
        state = tr.after


def test_the_saved_state_keeps_every_field_it_does_not_change() -> None:
    """``_with_state`` builds the object whole (for speed): a field added to ``CheckObject``
    later must not silently fall back to its default there."""
    fields = dataclasses.fields(CheckObject)
    values: dict[str, object] = {}
    for index, field in enumerate(fields):
        kind = field.type if isinstance(field.type, str) else ""
        values[field.name] = (
            True if kind == "bool" else f"v{index}" if kind == "str" else 1000.0 + index
        )
    for name in ("id", "host_id", "max_check_attempts", "stale_state", "state", "attempt",
                 "last_hard_state", "downtime_depth", "version"):  # fmt: skip
        values[name] = 7
    obj = CheckObject(**values)  # type: ignore[arg-type]
    state = CheckState(1, "SOFT", 2, 0, 5.0, 6.0, 7.0)
    built = _with_state(obj, state, "out", "long", "perf", acknowledged=False, stale=True,
                        ttl=9.0, due=10.0, version=obj.version)  # fmt: skip
    expected = dataclasses.replace(
        obj, state=1, state_type="SOFT", attempt=2, last_hard_state=0, last_check=5.0,
        last_state_change=6.0, last_hard_state_change=7.0, output="out", long_output="long",
        perfdata="perf", has_been_checked=True, acknowledged=False, ack_sticky=False,
        is_stale=True, ttl=9.0, fresh_due_at=10.0,
    )  # fmt: skip
    assert built == expected
