"""Settings: defaults < TOML file < environment < flags, with one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetwatch.config import (
    SETTINGS,
    ConfigError,
    load_config,
    mask_url,
    normalise_prefix,
)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleetwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    config = load_config(env={})

    assert config.bind == "127.0.0.1"
    assert config.port == 61208
    assert config.refresh == 2.0
    assert config.url_prefix == ""
    assert config.get("collector", "history_size") == 1200
    assert config.get("server", "disable_webui") is False
    assert config.plugins == {}
    assert config.path is None
    assert config.data_dir == Path.home() / ".local" / "share" / "fleetwatch"
    assert config.database == f"sqlite:///{config.data_dir / 'fleetwatch.sqlite3'}"


def test_every_setting_has_a_type_default_and_help() -> None:
    for setting in SETTINGS:
        assert isinstance(setting.default, setting.kind), setting
        assert setting.help.strip(), setting


def test_toml_overrides_defaults(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        '[server]\nport = 9000\nrefresh = 5\nbind = "0.0.0.0"\n[collector]\nhistory_size = 60\n',
    )

    config = load_config(path, env={})

    assert config.port == 9000
    assert config.refresh == 5.0
    assert isinstance(config.get("server", "refresh"), float)
    assert config.bind == "0.0.0.0"
    assert config.get("collector", "history_size") == 60
    assert config.path == path


def test_env_overrides_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9000\nrefresh = 5\n")

    config = load_config(path, env={"FLEETWATCH_SERVER_PORT": "9100"})

    assert config.port == 9100
    assert config.refresh == 5.0


def test_flags_override_env_and_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9000\n")

    config = load_config(
        path,
        env={"FLEETWATCH_SERVER_PORT": "9100", "FLEETWATCH_SERVER_BIND": "::1"},
        flags={("server", "port"): 9200, ("server", "bind"): None},
    )

    assert config.port == 9200
    assert config.bind == "::1"  # a flag left unset (None) does not override


def test_env_keys_with_underscores() -> None:
    config = load_config(
        env={
            "FLEETWATCH_SERVER_URL_PREFIX": "glances/",
            "FLEETWATCH_SERVER_DISABLE_WEBUI": "yes",
            "FLEETWATCH_STORAGE_QUEUE_SIZE": "50",
            "FLEETWATCH_COLLECTOR_HISTORY_SIZE": "10",
        }
    )

    assert config.url_prefix == "/glances"
    assert config.get("server", "disable_webui") is True
    assert config.get("storage", "queue_size") == 50
    assert config.get("collector", "history_size") == 10


def test_contract_env_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = load_config(env={"FLEETWATCH_HOME": str(home)})

    assert config.data_dir == home
    assert config.database == f"sqlite:///{home / 'fleetwatch.sqlite3'}"

    url = "postgresql://fleet:secret@db.example:5432/fleet"
    config = load_config(env={"FLEETWATCH_HOME": str(home), "FLEETWATCH_DATABASE": url})
    assert config.database == url


def test_contract_env_overrides_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[storage]\ndata_dir = "/srv/from-toml"\n')

    config = load_config(path, env={"FLEETWATCH_HOME": str(tmp_path / "from-env")})

    assert config.data_dir == tmp_path / "from-env"


def test_fleetwatch_config_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 9300\n")

    config = load_config(env={"FLEETWATCH_CONFIG": str(path)})

    assert config.port == 9300
    assert config.path == path


def test_explicit_path_wins_over_fleetwatch_config(tmp_path: Path) -> None:
    chosen = write_toml(tmp_path, "[server]\nport = 9400\n")
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 9500\n", encoding="utf-8")

    config = load_config(chosen, env={"FLEETWATCH_CONFIG": str(other)})

    assert config.port == 9400


def test_unrelated_env_is_ignored() -> None:
    config = load_config(
        env={"FLEETWATCH_TEST_POSTGRES": "postgresql://x@y/z", "HOME": "/nowhere", "PORT": "1"}
    )

    assert config.port == 61208


def test_data_dir_expands_user(tmp_path: Path) -> None:
    config = load_config(env={"FLEETWATCH_HOME": "~/fw-data"})

    assert config.data_dir == Path.home() / "fw-data"


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ("[nonsense]\nx = 1\n", "[nonsense]"),
        ("[server]\nprot = 1\n", "'prot'"),
        ('[server]\nport = "many"\n', "server.port"),
        ("[server]\nport = 1.5\n", "server.port"),
        ("[server]\nport = true\n", "server.port"),
        ('[server]\nrefresh = "soon"\n', "server.refresh"),
        ("[server]\nrefresh = false\n", "server.refresh"),
        ('[server]\ndisable_webui = "maybe"\n', "server.disable_webui"),
        ("[server]\nbind = 127\n", "server.bind"),
        ("[cpu]\nbogus = 1\n", "'bogus'"),
        ("[cpu]\ntotal_careful = { a = 1 }\n", "cpu.total_careful"),
        ('[cpu]\ntotal_careful = "high"\n', "cpu.total_careful"),
        ('[system]\nrefresh = "hourly"\n', "system.refresh"),
        ("port = 1\n", "'port'"),
    ],
)
def test_bad_toml_stops_with_a_line_naming_the_key(tmp_path: Path, toml: str, names: str) -> None:
    path = write_toml(tmp_path, toml)

    with pytest.raises(ConfigError) as info:
        load_config(path, env={})

    message = str(info.value)
    assert names in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FLEETWATCH_SERVER_PORT": "http"}, "server.port"),
        ({"FLEETWATCH_SERVER_NOPE": "1"}, "'nope'"),
        ({"FLEETWATCH_HOME": "/x", "FLEETWATCH_SERVER_REFRESH": "fast"}, "server.refresh"),
        ({"FLEETWATCH_CPU_TOTALCAREFUL": "1"}, "'totalcareful'"),
    ],
)
def test_bad_env_names_the_variable_and_key(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env=env)

    assert names in str(info.value)
    (variable,) = (name for name in env if name != "FLEETWATCH_HOME")
    assert variable in str(info.value)


def test_bad_flag_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(env={}, flags={("server", "port"): "eighty"})


def test_missing_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml", env={})

    broken = write_toml(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})


def test_plugin_sections_take_glances_keys_without_prefix(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        "[cpu]\ntotal_careful = 70\nuser_log = true\n"
        '[fs]\nhide = "/boot.*,/snap.*"\ncareful = 60\n'
        '[network]\nhide = ["docker.*", "lo", "veth.*"]\n'
        "[system]\nrefresh = 120\n"
        "[diskio]\nhide_zero = true\n",
    )

    config = load_config(path, env={})

    assert config.plugins == {
        "cpu": {"total_careful": 70, "user_log": True},
        "fs": {"hide": "/boot.*,/snap.*", "careful": 60},
        "network": {"hide": ["docker.*", "lo", "veth.*"]},
        "system": {"refresh": 120},
        "diskio": {"hide_zero": True},
    }


def test_plugin_keys_from_env(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[cpu]\ntotal_careful = 70\n")

    config = load_config(
        path, env={"FLEETWATCH_CPU_TOTAL_CAREFUL": "72", "FLEETWATCH_NETWORK_HIDE": "lo,tun.*"}
    )

    assert config.plugins["cpu"] == {"total_careful": "72"}
    assert config.plugins["network"] == {"hide": "lo,tun.*"}


def test_plugin_sections_without_glances_defaults_are_accepted(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[connections]\nnf_conntrack_percent_warning = 80\n")

    config = load_config(path, env={})

    assert config.plugins == {"connections": {"nf_conntrack_percent_warning": 80}}


def test_masked_hides_database_password() -> None:
    url = "postgresql://fleet:s3cret@db.example:5432/fleet"
    config = load_config(env={"FLEETWATCH_DATABASE": url})

    masked = config.masked()

    assert masked["storage"]["database"] == "postgresql://fleet:********@db.example:5432/fleet"
    assert "s3cret" not in repr(masked)
    assert masked["server"]["port"] == 61208
    assert config.database == url  # the real value is still there for the store


def test_masked_leaves_urls_without_password_alone() -> None:
    sqlite = load_config(env={"FLEETWATCH_DATABASE": "sqlite:////var/lib/fw/fw.sqlite3"})
    no_password = load_config(env={"FLEETWATCH_DATABASE": "postgresql://fleet@db/fleet"})

    assert sqlite.masked()["storage"]["database"] == "sqlite:////var/lib/fw/fw.sqlite3"
    assert no_password.masked()["storage"]["database"] == "postgresql://fleet@db/fleet"
    assert load_config(env={}).masked()["storage"]["database"] == ""


def test_masked_includes_plugin_sections(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[cpu]\ntotal_careful = 70\n")

    assert load_config(path, env={}).masked()["cpu"] == {"total_careful": 70}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:********@h/db"),
        ("postgres://:pw@h:5432/db", "postgres://:********@h:5432/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:********@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:********@h/db"),
        (
            "postgresql://u@h/db?sslmode=require&password=pw",
            "postgresql://u@h/db?sslmode=require&password=********",
        ),
        ("postgresql://h/db", "postgresql://h/db"),
        ("host=db password=pw", "********"),
        ("hunter2", "********"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    masked = mask_url(url)

    assert masked == shown
    assert "pw" not in masked.replace("password", "")
    assert "ss@" not in masked


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("glances", "/glances"),
        ("/glances", "/glances"),
        ("/glances/", "/glances"),
        ("glances/", "/glances"),
        (" /a/b/ ", "/a/b"),
    ],
)
def test_normalise_prefix(prefix: str, expected: str) -> None:
    assert normalise_prefix(prefix) == expected


def test_url_prefix_property_is_normalised(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[server]\nurl_prefix = "/glances/"\n')

    assert load_config(path, env={}).url_prefix == "/glances"


def test_config_is_frozen() -> None:
    config = load_config(env={})

    with pytest.raises(AttributeError):
        config.path = Path("/tmp/x")  # type: ignore[misc]


def test_values_are_per_call_not_shared() -> None:
    first = load_config(env={"FLEETWATCH_SERVER_PORT": "9000"})
    second = load_config(env={})
    values: dict[str, Any] = second.values["server"]

    assert first.port == 9000
    assert values["port"] == 61208
