"""The dashboard in real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from serving import ServeProcess

CHROMIUM = Path("/usr/bin/chromium")
# The flags a closed network needs: no background fetches, no component updates, no QUIC.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed "
        "(make test installs it: scripts/ensure_chromium.sh)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def test_the_dashboard_shows_this_machine(page: Page, tmp_path: Path) -> None:
    with ServeProcess(tmp_path, "--refresh", "1") as hub:
        page.goto(hub.url + "/?refresh=1")
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
        expect(page.locator('[data-field="cpu.total"]')).to_have_text(re.compile(r"^\d+\.\d %$"))
        expect(page.locator('[data-field="mem.percent"]')).to_have_class(
            re.compile(r"\b(OK|CAREFUL|WARNING|CRITICAL)\b")
        )
        expect(page.locator("#fs tbody tr").first).to_contain_text("/")
        assert page.locator("#processes tbody tr").count() > 0
        expect(page.locator("#proc-count")).to_contain_text("total")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_the_dashboard_says_when_the_hub_is_gone(page: Page, tmp_path: Path) -> None:
    hub = ServeProcess(tmp_path)
    hub.start()
    try:
        page.goto(hub.url + "/?refresh=1")
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
    finally:
        hub.stop()
    expect(page.locator("#status")).to_contain_text("cannot reach the hub", timeout=10_000)


def test_the_dashboard_follows_the_url_prefix(page: Page, tmp_path: Path) -> None:
    with ServeProcess(tmp_path, "--url-prefix", "/glances/") as hub:
        page.goto(hub.url + "/")
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
