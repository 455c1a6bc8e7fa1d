"""Thresholds and per-plugin switches, under Glances' names and with Glances' defaults.

Values are floats for thresholds and lists of strings for switches and patterns, exactly
as ``/api/4/all/limits`` shows them. A config section ``[cpu]`` with ``total_careful = 70``
overrides ``cpu_total_careful``, the way a Glances configuration file does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

LimitValue = float | list[str]
Limits = dict[str, LimitValue]

# Glances' defaults, except the default-gateway probe, which we keep off: the hub never
# contacts anything off the machine unless configured to.
GLANCES_DEFAULTS: dict[str, Limits] = {
    "alert": {"alert_disable": ["False"], "history_size": 1200.0},
    "amps": {"amps_disable": ["False"], "history_size": 1200.0},
    "containers": {
        "containers_all": ["False"],
        "containers_disable": ["False"],
        "containers_max_name_size": 20.0,
        "history_size": 1200.0,
    },
    "core": {"history_size": 1200.0},
    "cpu": {
        "cpu_ctx_switches_careful": 640000.0,
        "cpu_ctx_switches_critical": 800000.0,
        "cpu_ctx_switches_warning": 720000.0,
        "cpu_disable": ["False"],
        "cpu_iowait_careful": 5.0,
        "cpu_iowait_critical": 6.25,
        "cpu_iowait_warning": 5.625,
        "cpu_steal_careful": 50.0,
        "cpu_steal_critical": 90.0,
        "cpu_steal_warning": 70.0,
        "cpu_system_careful": 50.0,
        "cpu_system_critical": 90.0,
        "cpu_system_log": ["False"],
        "cpu_system_warning": 70.0,
        "cpu_total_careful": 65.0,
        "cpu_total_critical": 85.0,
        "cpu_total_log": ["True"],
        "cpu_total_warning": 75.0,
        "cpu_user_careful": 50.0,
        "cpu_user_critical": 90.0,
        "cpu_user_log": ["False"],
        "cpu_user_warning": 70.0,
        "history_size": 1200.0,
    },
    "diskio": {
        "diskio_disable": ["False"],
        "diskio_hide": ["loop.*", "/dev/loop.*"],
        "diskio_hide_zero": ["False"],
        "history_size": 1200.0,
    },
    "folders": {"folders_disable": ["False"], "history_size": 1200.0},
    "fs": {
        "fs_careful": 50.0,
        "fs_critical": 90.0,
        "fs_disable": ["False"],
        "fs_hide": ["/boot.*", ".*/snap.*"],
        "fs_warning": 70.0,
        "history_size": 1200.0,
    },
    "gpu": {
        "gpu_disable": ["False"],
        "gpu_mem_careful": 50.0,
        "gpu_mem_critical": 90.0,
        "gpu_mem_warning": 70.0,
        "gpu_proc_careful": 50.0,
        "gpu_proc_critical": 90.0,
        "gpu_proc_warning": 70.0,
        "gpu_temperature_careful": 60.0,
        "gpu_temperature_critical": 80.0,
        "gpu_temperature_warning": 70.0,
        "history_size": 1200.0,
    },
    "help": {"history_size": 1200.0},
    "ip": {
        "history_size": 1200.0,
        "ip_disable": ["False"],
        "ip_public_api": ["https://ipv4.ipleak.net/json/"],
        "ip_public_disabled": ["True"],
        "ip_public_field": ["ip"],
        "ip_public_refresh_interval": 300.0,
        "ip_public_template": ["{continent_name}/{country_name}/{city_name}"],
    },
    "load": {
        "history_size": 1200.0,
        "load_careful": 0.7,
        "load_critical": 5.0,
        "load_disable": ["False"],
        "load_warning": 1.0,
    },
    "mem": {
        "history_size": 1200.0,
        "mem_careful": 50.0,
        "mem_critical": 90.0,
        "mem_disable": ["False"],
        "mem_warning": 70.0,
    },
    "memswap": {
        "history_size": 1200.0,
        "memswap_careful": 50.0,
        "memswap_critical": 90.0,
        "memswap_disable": ["False"],
        "memswap_warning": 70.0,
    },
    "network": {
        "history_size": 1200.0,
        "network_disable": ["False"],
        "network_hide": ["docker.*", "lo"],
        "network_hide_no_ip": ["True"],
        "network_hide_no_up": ["True"],
        "network_hide_zero": ["False"],
        "network_rx_careful": 70.0,
        "network_rx_critical": 90.0,
        "network_rx_warning": 80.0,
        "network_tx_careful": 70.0,
        "network_tx_critical": 90.0,
        "network_tx_warning": 80.0,
    },
    "now": {"history_size": 1200.0},
    "percpu": {
        "history_size": 1200.0,
        "percpu_disable": ["False"],
        "percpu_iowait_careful": 50.0,
        "percpu_iowait_critical": 90.0,
        "percpu_iowait_warning": 70.0,
        "percpu_max_cpu_display": 4.0,
        "percpu_system_careful": 50.0,
        "percpu_system_critical": 90.0,
        "percpu_system_warning": 70.0,
        "percpu_user_careful": 50.0,
        "percpu_user_critical": 90.0,
        "percpu_user_warning": 70.0,
    },
    "ports": {
        "history_size": 1200.0,
        "ports_disable": ["False"],
        "ports_port_default_gateway": ["False"],
        "ports_refresh": 30.0,
        "ports_timeout": 3.0,
    },
    "processcount": {"history_size": 1200.0, "processcount_disable": ["False"]},
    "processlist": {
        "history_size": 1200.0,
        "processlist_cpu_careful": 50.0,
        "processlist_cpu_critical": 90.0,
        "processlist_cpu_warning": 70.0,
        "processlist_disable": ["False"],
        "processlist_mem_careful": 50.0,
        "processlist_mem_critical": 90.0,
        "processlist_mem_warning": 70.0,
        "processlist_nice_warning": [
            "-20",
            "-19",
            "-18",
            "-17",
            "-16",
            "-15",
            "-14",
            "-13",
            "-12",
            "-11",
            "-10",
            "-9",
            "-8",
            "-7",
            "-6",
            "-5",
            "-4",
            "-3",
            "-2",
            "-1",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
            "10",
            "11",
            "12",
            "13",
            "14",
            "15",
            "16",
            "17",
            "18",
            "19",
        ],
        "processlist_status_critical": ["Z", "D"],
        "processlist_status_ok": ["R", "W", "P", "I"],
    },
    "programlist": {"history_size": 1200.0},
    "psutilversion": {"history_size": 1200.0},
    "quicklook": {
        "history_size": 1200.0,
        "quicklook_bar_char": ["|"],
        "quicklook_cpu_careful": 50.0,
        "quicklook_cpu_critical": 90.0,
        "quicklook_cpu_warning": 70.0,
        "quicklook_disable": ["False"],
        "quicklook_list": ["cpu", "mem", "load"],
        "quicklook_load_careful": 70.0,
        "quicklook_load_critical": 500.0,
        "quicklook_load_warning": 100.0,
        "quicklook_mem_careful": 50.0,
        "quicklook_mem_critical": 90.0,
        "quicklook_mem_warning": 70.0,
        "quicklook_swap_careful": 50.0,
        "quicklook_swap_critical": 90.0,
        "quicklook_swap_warning": 70.0,
    },
    "sensors": {
        "history_size": 1200.0,
        "sensors_battery_careful": 70.0,
        "sensors_battery_critical": 90.0,
        "sensors_battery_warning": 80.0,
        "sensors_disable": ["False"],
        "sensors_hide": ["unknown.*"],
        "sensors_refresh": 6.0,
        "sensors_temperature_hdd_careful": 45.0,
        "sensors_temperature_hdd_critical": 60.0,
        "sensors_temperature_hdd_warning": 52.0,
    },
    "system": {"history_size": 1200.0, "system_disable": ["False"], "system_refresh": 60},
    "uptime": {"history_size": 1200.0},
    "version": {"history_size": 1200.0},
    "wifi": {
        "history_size": 1200.0,
        "wifi_careful": -65.0,
        "wifi_critical": -85.0,
        "wifi_disable": ["False"],
        "wifi_warning": -75.0,
    },
}


# Switches Glances' shipped configuration file sets beyond the defaults above: reading the
# kernel's TCP tables costs more than every other plugin together, so it is opt-in.
# The cloud plugin contacts the metadata service only when a config enables it.
SHIPPED_SWITCHES: dict[str, Limits] = {
    "connections": {"connections_disable": ["True"]},
    "cloud": {"cloud_disable": ["True"]},
}

# Defaults of our own where Glances has none: plugins that run an external tool are
# gathered less often than every round.
HUB_DEFAULTS: dict[str, Limits] = {
    "smart": {"smart_refresh": 60.0},
    "vms": {"vms_refresh": 10.0},
}


def default_limits(plugins: list[str], history_size: float) -> dict[str, Limits]:
    """Limits for each plugin: Glances' defaults, and a history size for every plugin."""
    out: dict[str, Limits] = {}
    for name in plugins:
        limits = copy.deepcopy(GLANCES_DEFAULTS.get(name, {}))
        limits.update(copy.deepcopy(SHIPPED_SWITCHES.get(name, {})))
        limits.update(copy.deepcopy(HUB_DEFAULTS.get(name, {})))
        limits["history_size"] = float(history_size)
        out[name] = limits
    return out


def coerce_limit(key: str, value: Any) -> LimitValue:
    """A config value in the form the limit holds; raises ValueError naming the key."""
    if isinstance(value, bool):
        return [str(value)]
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    raise ValueError(f"{key}: expected a number, a boolean, a string or a list of strings")


def apply_overrides(limits: dict[str, Limits], section: str, values: Mapping[str, Any]) -> None:
    """Apply one plugin config section (keys without the plugin prefix) onto ``limits``."""
    target = limits[section]
    for key, value in values.items():
        target[f"{section}_{key}"] = coerce_limit(f"{section}.{key}", value)


def is_true(value: LimitValue | None) -> bool:
    """Glances switches are lists like ``["True"]``."""
    if isinstance(value, list):
        return bool(value) and value[0].strip().lower() == "true"
    return bool(value)
