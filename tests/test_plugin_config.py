"""Plugin configuration from TOML: items of ``[ports]``, ``[folders]``, ``[amps]`` (flat keys
or sub-tables), ``[cloud]``, network ``alias``, percpu ``max_cpu_display``, and the
``hide``/``show`` rules of every list plugin, applied by the live loop."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from fleetwatch.app import build_limits
from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.live import LiveStats
from fleetwatch.collect.network import NetworkCollector
from fleetwatch.collect.registry import build_collectors
from fleetwatch.config import ConfigError, load_config
from fleetwatch.model.plugin import PluginSpec


def config_from(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "fleetwatch.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_items_as_flat_keys_or_sub_tables(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        """
[ports]
timeout = 2
web_host = "127.0.0.1"
web_port = 8080

[ports.dns]
host = "192.0.2.53"
port = 53
rtt_warning = 200
description = "Resolver"

[folders.logs]
path = "/var/log"
warning = 500
critical = 800

[amps.nginx]
regex = "nginx: (master|worker)"
countmin = 1
countmax = 20
refresh = 30

[cloud]
disable = false
base_url = "http://127.0.0.1:9"
timeout = 0.5
""",
    )
    limits = build_limits(config)

    assert limits["ports"]["ports_timeout"] == 2.0
    assert limits["ports"]["ports_web_port"] == 8080.0
    assert limits["ports"]["ports_dns_host"] == ["192.0.2.53"]
    assert limits["ports"]["ports_dns_rtt_warning"] == 200.0
    assert limits["folders"]["folders_logs_path"] == ["/var/log"]
    assert limits["amps"]["amps_nginx_countmax"] == 20.0
    assert limits["cloud"]["cloud_disable"] == ["False"]
    assert limits["cloud"]["cloud_base_url"] == ["http://127.0.0.1:9"]


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('[ports]\nweb_url = "https://example.org"', "'web_url' in section [ports]"),
        ('[ports.web]\nhost = "h"\nport = "http"', "ports.web_port must be a number"),
        ("[folders.tmp]\nsize = 3", "'tmp_size' in section [folders]"),
        ('[amps.x]\ncommand = "rm -rf /"', "'x_command' in section [amps]"),
        ('[amps]\nx_countmin = "one"', "amps.x_countmin must be a number"),
        ('[cloud]\nurl = "http://x"', "'url' in section [cloud]"),
        ('[percpu]\nmax_cpu_display = "all"', "percpu.max_cpu_display must be a number"),
    ],
)
def test_bad_plugin_keys_stop_with_one_line_naming_them(
    tmp_path: Path, toml: str, names: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from(tmp_path, toml)

    message = str(raised.value)
    assert names in message
    assert "\n" not in message


def test_percpu_max_cpu_display_is_a_limit(tmp_path: Path) -> None:
    limits = build_limits(config_from(tmp_path, "[percpu]\nmax_cpu_display = 8\n"))

    # As in Glances, it tells a UI how many CPUs to draw; the API still lists every CPU.
    assert limits["percpu"]["percpu_max_cpu_display"] == 8.0


def test_network_alias_names_the_interface(tmp_path: Path) -> None:
    limits = build_limits(
        config_from(tmp_path, '[network]\nalias = ["lo:LOOP", "eth9:WAN"]\nhide = []\n')
    )
    items = NetworkCollector().collect(CollectContext(now=1000.0, limits=limits))
    by_name = {item["interface_name"]: item for item in items}

    if "lo" in by_name:  # hidden by network_hide_no_ip only if lo has no address
        assert by_name["lo"]["alias"] == "LOOP"
    assert all(item["alias"] is None for name, item in by_name.items() if name != "lo")


def test_glances_comma_form_of_alias(tmp_path: Path) -> None:
    limits = build_limits(config_from(tmp_path, '[network]\nalias = "lo:LOOP,eth0:WAN"\n'))

    assert limits["network"]["network_alias"] == ["lo:LOOP", "eth0:WAN"]
    assert socket.if_nameindex()  # this machine has interfaces to name


class Recorded:
    """A collector replaying two items named ``keep-1`` and ``drop-1`` for a plugin's spec."""

    def __init__(self, spec: PluginSpec) -> None:
        self.spec = spec

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        key = self.spec.key or ""
        return [{"key": key, key: name} for name in ("keep-1", "drop-1")]


LIST_PLUGINS = [
    c.spec for c in build_collectors() if c.spec.shape == "list" and c.spec.name != "alert"
]


@pytest.mark.parametrize("spec", LIST_PLUGINS, ids=lambda s: s.name)
@pytest.mark.parametrize("rule", ['hide = ["drop.*"]', 'show = ["KEEP-.*"]'])
def test_hide_and_show_apply_to_every_list_plugin(
    tmp_path: Path, spec: PluginSpec, rule: str
) -> None:
    assert spec.key is not None, f"{spec.name} has no item key to match rules on"
    limits = build_limits(config_from(tmp_path, f"[{spec.name}]\n{rule}\n"))
    live = LiveStats([Recorded(spec)], limits, refresh=2.0, history_size=10)

    items = live.gather()["fresh"][spec.name]

    assert [item[spec.key] for item in items] == ["keep-1"]


def test_configured_plugins_through_the_live_loop(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_bytes(b"x" * 2048)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        config = config_from(
            tmp_path,
            f"""
[amps.python]
regex = "python|pytest"
countmin = 1

[ports.local]
host = "127.0.0.1"
port = {port}

[folders.data]
path = "{tmp_path / "data"}"
warning = 1
""",
        )
        limits = build_limits(config)
        live = LiveStats(build_collectors(), limits, refresh=2.0, history_size=10)
        live.publish(live.gather())
        assert live.published is not None
        states = live.published.states

    (amp,) = states["amps"].stats
    assert (amp["name"], amp["countmin"]) == ("python", 1.0)
    assert amp["count"] >= 1
    (local,) = states["ports"].stats
    assert (local["indice"], local["port"]) == ("local", port)
    (data,) = states["folders"].stats
    assert (data["size"], data["warning"]) == (2048, 1.0)
    if shutil.which("virsh") is None and shutil.which("multipass") is None:
        assert states["vms"].body == b"{}"  # no VM engine here: Glances' {}, no rates added
    assert states["cloud"].body == b"{}"  # disabled by default: never gathered
    assert live.disabled("cloud")
