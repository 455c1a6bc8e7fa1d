"""The README keeps up with the code: settings, CLI, routes and plugins are all documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from fleetwatch.api.openapi import GLANCES_ROUTES, Route
from fleetwatch.cli import main
from fleetwatch.collect.registry import PLUGIN_NAMES
from fleetwatch.config import SETTINGS, Setting

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"{s.section}.{s.key}")
def test_every_setting_is_documented(setting: Setting) -> None:
    section, key = setting.section, setting.key
    assert f"`{section}.{key}" in README
    env = setting.env or f"FLEETWATCH_{section.upper()}_{key.upper()}"
    # The README abbreviates the keyfile's variable next to the certfile's.
    assert env in README or key == "keyfile"


@pytest.mark.parametrize("name", PLUGIN_NAMES)
def test_every_plugin_is_in_the_plugin_table(name: str) -> None:
    assert re.search(rf"`{name}`", README), name


@pytest.mark.parametrize("route", GLANCES_ROUTES, ids=lambda r: r.path)
def test_every_route_is_documented(route: Route) -> None:
    readme_form = re.sub(r"{(\w+)}", _readme_param, "/api/4" + route.path)
    assert f"{readme_form}`" in README, readme_form


def _readme_param(match: re.Match[str]) -> str:
    return "<n>" if match.group(1) == "nb" else f"<{match.group(1)}>"


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        out.append((full, command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, f"{full} "))
    return out


@pytest.mark.parametrize(("name", "command"), _commands(main), ids=str)
def test_every_cli_command_and_flag_is_documented(name: str, command: click.Command) -> None:
    assert f"fleetwatch {name}" in README
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in README, f"{name} {opt}"


def test_changelog_has_an_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_commands() -> None:
    assert "make serve" in README
    assert "make test" in README
