"""Limits: Glances' ``/all/limits`` defaults and config overrides in the same wire form."""

from __future__ import annotations

from typing import Any

import pytest

from fleetwatch.model.limits import (
    GLANCES_DEFAULTS,
    apply_overrides,
    coerce_limit,
    default_limits,
    is_true,
)


@pytest.mark.parametrize(
    ("plugin", "key", "value"),
    [
        ("cpu", "cpu_total_careful", 65.0),
        ("cpu", "cpu_total_warning", 75.0),
        ("cpu", "cpu_total_critical", 85.0),
        ("cpu", "cpu_iowait_critical", 6.25),
        ("cpu", "cpu_ctx_switches_careful", 640000.0),
        ("cpu", "cpu_total_log", ["True"]),
        ("cpu", "history_size", 1200.0),
        ("fs", "fs_hide", ["/boot.*", ".*/snap.*"]),
        ("fs", "fs_careful", 50.0),
        ("network", "network_hide", ["docker.*", "lo"]),
        ("network", "network_hide_no_ip", ["True"]),
        ("network", "network_hide_no_up", ["True"]),
        ("network", "network_rx_warning", 80.0),
        ("diskio", "diskio_hide", ["loop.*", "/dev/loop.*"]),
        ("diskio", "diskio_hide_zero", ["False"]),
        ("load", "load_careful", 0.7),
        ("load", "load_critical", 5.0),
        ("ip", "ip_public_disabled", ["True"]),
        ("processlist", "processlist_status_critical", ["Z", "D"]),
        ("quicklook", "quicklook_list", ["cpu", "mem", "load"]),
        ("sensors", "sensors_refresh", 6.0),
        ("system", "system_refresh", 60),
        ("wifi", "wifi_critical", -85.0),
    ],
)
def test_defaults_match_the_reference(plugin: str, key: str, value: Any) -> None:
    limits = default_limits([plugin], 1200)

    assert limits[plugin][key] == value
    assert type(limits[plugin][key]) is type(value)


def test_processlist_nice_warning_is_every_nice_but_zero() -> None:
    nice = default_limits(["processlist"], 1200)["processlist"]["processlist_nice_warning"]

    assert nice == [str(n) for n in range(-20, 20) if n != 0]


def test_default_gateway_probe_is_off_unlike_glances() -> None:
    # A deliberate deviation: the reference has ["True"]; the hub contacts nothing off-machine.
    ports = default_limits(["ports"], 1200)["ports"]

    assert ports["ports_port_default_gateway"] == ["False"]
    assert not is_true(ports["ports_port_default_gateway"])
    assert ports["ports_refresh"] == 30.0


def test_every_plugin_gets_the_history_size_even_without_defaults() -> None:
    limits = default_limits(["cpu", "irq", "connections"], 300)

    assert limits["cpu"]["history_size"] == 300.0
    assert limits["irq"] == {"history_size": 300.0}
    # Glances ships connections disabled; the switch is the only other key.
    assert limits["connections"] == {"connections_disable": ["True"], "history_size": 300.0}


def test_defaults_are_copies_not_the_shared_table() -> None:
    first = default_limits(["fs"], 1200)
    hide = first["fs"]["fs_hide"]
    assert isinstance(hide, list)

    hide.append("/mnt.*")
    first["fs"]["fs_careful"] = 1.0

    assert default_limits(["fs"], 1200)["fs"]["fs_hide"] == ["/boot.*", ".*/snap.*"]
    assert GLANCES_DEFAULTS["fs"]["fs_careful"] == 50.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (70, 70.0),
        (70.5, 70.5),
        ("70", 70.0),
        (" 0.7 ", 0.7),
        (True, ["True"]),
        (False, ["False"]),
        ("docker.*,lo", ["docker.*", "lo"]),
        ("sda2, sda5 , loop.*", ["sda2", "sda5", "loop.*"]),
        ("lo", ["lo"]),
        ("", []),
        (["Z", "D"], ["Z", "D"]),
        ([1, 2.5], ["1", "2.5"]),
    ],
)
def test_coerce_limit(value: Any, expected: Any) -> None:
    assert coerce_limit("cpu.total_careful", value) == expected


@pytest.mark.parametrize("value", [None, {"a": 1}, [["nested"]], [None], object()])
def test_coerce_limit_rejects_other_types_naming_the_key(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^cpu\.total_careful: "):
        coerce_limit("cpu.total_careful", value)


def test_apply_overrides_prefixes_the_plugin_name() -> None:
    limits = default_limits(["cpu", "network"], 1200)

    apply_overrides(limits, "cpu", {"total_careful": 70, "user_log": True})
    apply_overrides(limits, "network", {"hide": "docker.*,lo,veth.*", "rx_critical": "95"})

    assert limits["cpu"]["cpu_total_careful"] == 70.0
    assert limits["cpu"]["cpu_total_warning"] == 75.0
    assert limits["cpu"]["cpu_user_log"] == ["True"]
    assert limits["network"]["network_hide"] == ["docker.*", "lo", "veth.*"]
    assert limits["network"]["network_rx_critical"] == 95.0


def test_apply_overrides_bad_value_names_section_and_key() -> None:
    limits = default_limits(["fs"], 1200)

    with pytest.raises(ValueError, match=r"fs\.careful"):
        apply_overrides(limits, "fs", {"careful": {"bad": 1}})


def test_is_true() -> None:
    assert is_true(["True"])
    assert is_true([" true "])
    assert not is_true(["False"])
    assert not is_true([])
    assert not is_true(None)
