"""The console in real headless Chromium (Debian's package, driven by Playwright) against a real
``fleetwatch serve``: signing in and out, the fleet going stale live, filters, a system's charts,
acknowledging a service, managing notifications (a test send to a receiver on loopback), what
a readonly user sees, and outside text shown as text.

Every page is saved as a screenshot under ``test-artifacts/screenshots/`` (not tracked).
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hubs import CHEAP_HASHING
from notify_parts import Receiver, verify_signature
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright
from serving import ServeProcess

from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.model.rollup import HOUR
from fleetwatch.store import Store, open_store
from fleetwatch.store.rollups import RollupRecord

CHROMIUM = Path("/usr/bin/chromium")
# The flags a closed network needs: no background fetches, no component updates, no QUIC.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
XSS_NAME = "<img src=x onerror=alert(1)>"
SCRIPT_OUTPUT = "<script>alert(2)</script> disk full"
HOUR_ROWS = 14 * 24
PASSWORDS = {"alice": "alice-password", "rita": "rita-password", "sam": "sam-password"}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed "
        "(make test installs it: scripts/ensure_chromium.sh)",
    ),
]


@dataclass
class Fleet:
    hub: ServeProcess
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.hub.url

    def push(self, name: str, cpu_user: float = 20.0) -> None:
        idle = max(0.0, 90.0 - cpu_user)
        document = {
            "hostname": f"{name}.example", "version": "TrueNAS-13.0",
            "storage": {"total-bytes": 4096, "used-bytes": 1523},
            "memory": {"bytes-per-page": 4096, "active-pages": 50, "free-pages": 100,
                       "inactive-pages": 30},
            "cpu": [{"user": cpu_user, "system": 10, "idle": idle}], "cpu_temperatures": [41],
        }  # fmt: skip
        answer = httpx.put(f"{self.url}/api/external/submit_stats", json=document,
                           auth=("", self.tokens[name]), timeout=10)  # fmt: skip
        assert answer.status_code == 200, answer.text

    def command(self, name: str, **fields: object) -> None:
        answer = httpx.post(f"{self.url}/api/command/{name}", json=fields,
                            auth=("alice", PASSWORDS["alice"]), timeout=10)  # fmt: skip
        assert answer.status_code == 200, answer.text


def _prepare(data_dir: Path) -> dict[str, str]:
    """Users, systems with their tokens, a host and a service, before the hub starts."""

    async def prepare() -> dict[str, str]:
        store = open_store(f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}")
        await store.open()
        try:
            admin = Admin(store, CHEAP_HASHING)
            who = Actor("test", "127.0.0.1")
            for user, group in (("alice", "admin"), ("rita", "readonly"), ("sam", "status_update")):
                await admin.add_user(who, user, PASSWORDS[user], [group])
            tokens = {}
            for name in ("web1", "web2", "db1"):
                tokens[name] = (await admin.add_system(who, name))[1]
            await store.tag_system("web1", add=["prod", "web"])
            await _hour_rollups(store, "web1")
            await store.tag_system("web2", add=["web"])
            await store.tag_system("db1", add=["prod"])
            # The admin checks refuse such a name; a store written by an older hub might not.
            await store.add_system(XSS_NAME, hostname=XSS_NAME)
            await store.add_check_object("host", "nas1")
            await store.add_check_object("service", "nas1", "backup")
            await store.add_check_object("service", "nas1", "disk")
            return tokens
        finally:
            await store.close()

    # In a thread of its own: Playwright's sync API may already run an event loop here.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, prepare()).result()


async def _hour_rollups(store: Store, name: str) -> None:
    """Two weeks of hour rows, ending two days ago: only a long range reaches them."""
    system = await store.get_system(name)
    assert system is not None
    end = (time.time() // HOUR - 48) * HOUR
    records = [
        RollupRecord(system.id, HOUR, end - i * HOUR, 360,
                     {"cpu": {"total": [30.0 + i % 24, 5.0, 90.0, 360.0]}})
        for i in range(HOUR_ROWS)
    ]  # fmt: skip
    await store.save_rollups(records)
    await store.set_rollup_watermark(HOUR, end + HOUR)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    data_dir = tmp_path_factory.mktemp("console")
    tokens = _prepare(data_dir)
    env = {"FLEETWATCH_CONSOLE_REFRESH_SECONDS": "1",
           "FLEETWATCH_CONSOLE_STALE_MINIMUM_SECONDS": "6",
           "FLEETWATCH_COLLECTOR_STORE_INTERVAL": "1"}  # fmt: skip
    with ServeProcess(data_dir, "--refresh", "1", env=env) as hub:
        the_fleet = Fleet(hub, tokens)
        for name in tokens:
            the_fleet.push(name, cpu_user=85.0 if name == "db1" else 20.0)
        the_fleet.command("PROCESS_SERVICE_CHECK_RESULT", host_name="nas1",
                          service_description="backup", status_code=2,
                          plugin_output=SCRIPT_OUTPUT)  # fmt: skip
        the_fleet.command("PROCESS_SERVICE_CHECK_RESULT", host_name="nas1",
                          service_description="disk", status_code=0,
                          plugin_output="disk OK")  # fmt: skip
        yield the_fleet


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "confirm":  # the console's own "are you sure?"
            dialog.accept()
            return
        dialogs.append(dialog.message)  # an alert(): injected markup ran
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    context.close()
    assert dialogs == [], f"a script ran: {dialogs}"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#name", user)
    page.fill("#password", PASSWORDS[user])
    page.click("#sign-in")
    expect(page.locator(".who .user")).to_have_text(user)


def row(page: Page, name: str) -> object:
    return page.locator(f'tr[data-system="{name}"]')


def test_signing_in_and_out(page: Page, fleet: Fleet) -> None:
    page.goto(f"{fleet.url}/login")
    shot(page, "login")
    page.fill("#name", "alice")
    page.fill("#password", "alice-password")
    page.click("#sign-in")
    expect(page.locator(".who .user")).to_have_text("alice")
    expect(page.locator("#fleet")).to_be_visible()
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "fleetwatch_session"]


def test_a_wrong_password_is_refused(page: Page, fleet: Fleet) -> None:
    page.goto(f"{fleet.url}/login")
    page.fill("#name", "alice")
    page.fill("#password", "wrong-password")
    page.click("#sign-in")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    assert not [c for c in page.context.cookies() if c["name"] == "fleetwatch_session"]


def test_the_fleet_goes_stale_live(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    stop = threading.Event()

    def keep_pushing() -> None:
        while not stop.wait(0.5):
            fleet.push("web1")
            fleet.push("web2")

    for _ in range(5):  # a quick rhythm, so the stale window is the 6 s minimum
        for name in ("web1", "web2", "db1"):
            fleet.push(name, cpu_user=85.0 if name == "db1" else 20.0)
    pusher = threading.Thread(target=keep_pushing)
    pusher.start()
    try:
        page.goto(f"{fleet.url}/")
        for name in ("web1", "web2", "db1"):
            expect(page.locator(f'tr[data-system="{name}"] .status')).to_have_text("up")
        expect(page.locator(f'tr[data-system="{XSS_NAME}"] .status')).to_have_text("never seen")
        expect(page.locator('tr[data-system="db1"] .bar.CRITICAL')).to_have_count(1)
        page.evaluate("window.notReloaded = true")
        stale = page.locator('tr[data-system="db1"] .status')
        expect(stale).to_have_text("stale", timeout=15_000)
        expect(stale).to_have_class(re.compile(r"\bs-stale\b"))
        expect(page.locator('tr[data-system="web1"] .status')).to_have_text("up")
        assert page.evaluate("window.notReloaded") is True
        expect(page.locator("#count-stale")).to_have_text("1")
        expect(page.locator("#problems")).to_contain_text("STALE")
        shot(page, "fleet")
    finally:
        stop.set()
        pusher.join()


def test_filtering_the_fleet_by_tag_and_text(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/")
    page.select_option("#filter-tag", "prod")
    expect(page.locator("#fleet tbody tr")).to_have_count(2)
    expect(page.locator('tr[data-system="web2"]')).to_have_count(0)
    assert "tag=prod" in page.url
    page.fill("#filter-q", "db")
    expect(page.locator("#fleet tbody tr")).to_have_count(1)
    expect(page.locator('tr[data-system="db1"]')).to_have_count(1)


def test_outside_text_is_shown_as_text(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if r.url.endswith("/fleet.json") else None)
    page.goto(f"{fleet.url}/")
    name = page.locator(f'tr[data-system="{XSS_NAME}"] td.name a')
    expect(name).to_have_text(XSS_NAME)
    # The preloaded read is the one the page used (within the first 1 s refresh period).
    assert len(reads) == 1
    assert page.locator("main img").count() == 0
    expect(page.locator("#problems")).to_contain_text(SCRIPT_OUTPUT)
    assert page.locator("main script").count() == 0


def test_the_fleet_at_a_phone_width_and_in_the_dark(fleet: Fleet, browser: Browser) -> None:
    for name, options in (
        ("fleet-phone", {"viewport": {"width": 390, "height": 844}}),
        ("fleet-dark", {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"}),
    ):
        context = browser.new_context(**options)
        page = context.new_page()
        sign_in(page, fleet.url, "alice")
        expect(page.locator("#fleet")).to_be_visible()
        shot(page, name)
        context.close()


def test_a_readonly_user_sees_no_action_and_a_forged_post_is_refused(
    page: Page, fleet: Fleet
) -> None:
    sign_in(page, fleet.url, "rita")
    expect(page.locator("nav a", has_text="Admin")).to_have_count(0)
    page.goto(f"{fleet.url}/checks")
    expect(page.locator('tr[data-object="nas1;backup"]')).to_have_count(1)
    expect(page.locator("#checks button")).to_have_count(0)
    page.goto(f"{fleet.url}/events")
    expect(page.locator("#events tbody tr").first).to_be_visible()
    expect(page.locator("#clear-events")).to_have_count(0)
    forged_ack = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/command/ACKNOWLEDGE_SVC_PROBLEM', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                body: JSON.stringify({host_name: 'nas1', service_description: 'backup'})});
            return r.status;
        }"""
    )
    assert forged_ack == 403
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/api/v1/systems.create', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                body: JSON.stringify({name: 'forged'})});
            return r.status;
        }"""
    )
    assert status == 403


def test_a_request_without_the_csrf_token_is_refused(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    status = page.evaluate(
        """async () => (await fetch('/api/v1/systems.create', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: 'no-token'})})).status"""
    )
    assert status == 403
    basic = base64.b64encode(b"alice:alice-password").decode()
    listed = httpx.get(f"{fleet.url}/api/v1/systems", headers={"authorization": f"Basic {basic}"})
    assert "no-token" not in listed.text


def test_a_system_page_draws_hour_rows_for_30_days(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/systems/web1")
    expect(page.locator("#system-name")).to_have_text("web1")
    cpu = page.locator('figure[data-plugin="cpu"]')
    expect(cpu).to_have_attribute("data-resolution", "raw")
    page.click('button[data-range="30d"]')
    expect(cpu).to_have_attribute("data-resolution", "3600")
    assert int(cpu.get_attribute("data-points") or 0) >= HOUR_ROWS
    expect(cpu.locator("canvas")).to_have_count(1)
    expect(cpu).to_have_attribute("data-dots", "false")
    # Memory has only this test run's minutes: over 30 days a line would have no length.
    memory = page.locator('figure[data-plugin="mem"]')
    expect(memory).to_have_attribute("data-dots", "true")
    expect(memory.locator("figcaption")).to_contain_text(re.compile(r"^\d+ points? · "))
    expect(page.locator('button[data-range="30d"]')).to_have_attribute("aria-pressed", "true")
    shot(page, "system")


def test_a_status_update_user_acknowledges_a_critical_service(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "sam")
    expect(page).to_have_url(re.compile(r"/checks$"))  # no view-statistics: checks come first
    backup = page.locator('tr[data-object="nas1;backup"]')
    expect(backup.locator(".badge").first).to_have_text("CRITICAL")
    expect(backup.locator('[data-badge="ack"]')).to_have_count(0)
    expect(backup.locator(".output")).to_have_text(SCRIPT_OUTPUT)
    assert page.locator("main script").count() == 0
    backup.get_by_label("Acknowledgement comment for nas1;backup").fill(
        "restoring the NAS, <b>tonight</b>"
    )
    backup.locator('input[name="sticky"]').check()
    backup.locator("button.ack").click()
    expect(page.locator('tr[data-object="nas1;backup"] [data-badge="ack"]')).to_have_text(
        "ACK sticky"
    )
    expect(page.locator('tr[data-object="nas1;disk"] button.ack')).to_have_count(0)  # it is OK
    shot(page, "checks")
    page.locator('tr[data-object="nas1;backup"] button.unack').click()
    expect(page.locator('tr[data-object="nas1;backup"] [data-badge="ack"]')).to_have_count(0)


def test_the_events_page_filters_and_clears(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/events")
    expect(page.locator("#events tbody tr").first).to_be_visible()
    page.select_option("#filter-state", "CRITICAL")
    expect(page).to_have_url(re.compile(r"state=CRITICAL"))
    expect(page.locator("#events tbody tr .badge").first).to_have_text("CRITICAL")
    shot(page, "events")
    page.click("#clear-events")
    expect(page.locator("form[data-api$='events.clear'] [data-result]")).to_have_text("Done.")
    expect(page.locator("#events tbody tr.finished")).to_have_count(0)


def test_adding_a_system_shows_its_token_once(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/admin")
    page.fill("#new-system-name", "nas9")
    page.click("#add-system button")
    box = page.locator("#secret-box")
    expect(box).to_be_visible()
    token = box.locator("[data-token]").inner_text()
    assert token.startswith("fws_")
    expect(box.locator("[data-push]")).to_have_text(
        f"fleetwatch push --hub {fleet.url} --token {token}"
    )
    expect(box.locator("[data-curl]")).to_contain_text(f'curl -u ":{token}" -X PUT')
    expect(page.locator('#systems tr[data-system="nas9"]')).to_have_count(1)
    shot(page, "admin")
    fleet.tokens["nas9"] = token
    fleet.push("nas9")  # the token shown works
    page.reload()
    expect(page.locator("#secret-box")).to_be_hidden()
    assert token not in page.content()  # never shown twice: only its prefix is listed
    expect(page.locator('#systems tr[data-system="nas9"]')).to_contain_text("default: fws_")


def test_scheduling_and_deleting_a_downtime(page: Page, fleet: Fleet) -> None:
    sign_in(page, fleet.url, "sam")
    disk = 'tr[data-object="nas1;disk"]'
    expect(page.locator(f'{disk} [data-badge="downtime"]')).to_have_count(0)
    page.get_by_label("Downtime minutes for nas1;disk").fill("30")
    page.get_by_label("Downtime comment for nas1;disk").fill("disk swap")
    page.locator(f"{disk} button.downtime").click()
    expect(page.locator(f'{disk} [data-badge="downtime"]')).to_have_text("DOWNTIME")
    page.locator(f"{disk} button.danger", has_text="Delete downtime").click()
    expect(page.locator(f'{disk} [data-badge="downtime"]')).to_have_count(0)


def test_a_browser_clock_an_hour_ahead_keeps_the_hubs_time(page: Page, fleet: Fleet) -> None:
    """A laptop whose clock is an hour fast: ages, charts and downtimes follow the hub's clock,
    learned from its answers' Date headers (the browser's own would say "60 min ago" and put the
    downtime an hour in the future, not in force)."""
    page.clock.install(time=time.time() + HOUR)
    fleet.push("db1")
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/")
    seen = page.locator('tr[data-system="db1"] time.ago')
    expect(seen).to_have_text(re.compile(r"^\d+ s ago$"))
    offset = page.evaluate(
        "async () => (await import('/static/hubclock.js')).hubNow() - Date.now() / 1000"
    )
    assert -HOUR - 3 < offset < -HOUR + 3
    sign_in(page, fleet.url, "sam")
    disk = 'tr[data-object="nas1;disk"]'
    page.get_by_label("Downtime minutes for nas1;disk").fill("30")
    page.get_by_label("Downtime comment for nas1;disk").fill("fast clock")
    page.locator(f"{disk} button.downtime").click()
    expect(page.locator(f'{disk} [data-badge="downtime"]')).to_have_text("DOWNTIME")
    shot(page, "checks-fast-clock")
    page.locator(f"{disk} button.danger", has_text="Delete downtime").click()
    expect(page.locator(f'{disk} [data-badge="downtime"]')).to_have_count(0)


def test_managing_notifications_and_a_test_send(page: Page, fleet: Fleet) -> None:
    with Receiver() as receiver:
        sign_in(page, fleet.url, "alice")
        page.click("nav a:text('Notifications')")
        expect(page).to_have_url(re.compile(r"/notifications$"))
        page.fill("#new-channel-name", "hook")
        page.fill("#new-channel-url", f"webhook+{receiver.url}/hook")
        page.click("#add-channel button")
        box = page.locator("#secret-box")
        expect(box).to_be_visible()
        secret = box.locator("[data-token]").inner_text()
        assert len(secret) >= 32
        channel = page.locator('#channels tr[data-channel="hook"]')
        expect(channel).to_contain_text("webhook")
        assert receiver.url not in page.locator("#channels").inner_text()  # masked
        channel.get_by_role("button", name="Send a test message on hook").click()
        result = page.locator("#test-result")
        expect(result.locator("[data-outcome]")).to_have_text("sent (HTTP 200)")
        assert len(receiver.received) == 1
        assert verify_signature(secret, receiver.received[0].headers, receiver.received[0].body)

        page.fill("#new-rule-name", "acks")
        page.fill("#new-rule-channels", "hook")
        page.check('#add-rule input[name="kinds"][value="acknowledgement"]')
        page.fill('#add-rule input[name="hosts"]', "nas*")
        page.fill('#add-rule input[name="services"]', "backup")
        page.fill('#add-rule input[name="repeat"]', "30")
        page.fill('#add-rule input[name="title"]', "{{ kind }} of {{ object }}")
        page.click("#add-rule button[type=submit]")
        rule = page.locator('#rules tr[data-rule="acks"]')
        expect(rule).to_contain_text("hosts: nas*")
        expect(rule).to_contain_text("every 30 min")
        fleet.command("ACKNOWLEDGE_SVC_PROBLEM", host_name="nas1", service_description="backup",
                      comment="on it")  # fmt: skip
        try:
            sent = page.locator("#deliveries tr[data-status=sent]")
            expect(sent).to_have_count(1, timeout=15_000)  # the page refreshes itself
            expect(sent).to_contain_text("acknowledgement of nas1 / backup")
            expect(sent.locator("td.num")).to_have_text("1")
            expect(sent).to_contain_text("(HTTP 200)")
            shot(page, "notifications")
            page.reload()
            expect(page.locator("#secret-box")).to_be_hidden()
            assert secret not in page.content()  # shown once, by the browser, never by the hub
            page.locator('#rules tr[data-rule="acks"] button.danger').click()
            expect(page.locator('#rules tr[data-rule="acks"]')).to_have_count(0)
        finally:
            fleet.command("REMOVE_SVC_ACKNOWLEDGEMENT", host_name="nas1",
                          service_description="backup")  # fmt: skip
        page.locator('#channels tr[data-channel="hook"] button.danger').click()
        expect(page.locator('#channels tr[data-channel="hook"]')).to_have_count(0)
        assert len(receiver.received) == 2

    page.context.clear_cookies()
    sign_in(page, fleet.url, "rita")  # readonly: deliveries, no action
    page.click("nav a:text('Notifications')")
    expect(page.locator("#deliveries")).to_be_visible()
    expect(page.locator("#add-channel")).to_have_count(0)
    expect(page.locator("#add-rule")).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)


def test_acknowledging_an_ongoing_event(page: Page, fleet: Fleet) -> None:
    alert = {"pool": {"source": "zfs", "type": "critical", "time_t": int(time.time()),
                      "text": "tank faulted"}}  # fmt: skip
    answer = httpx.put(f"{fleet.url}/api/external/submit_alerts", json=alert,
                       auth=("", fleet.tokens["web2"]), timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    sign_in(page, fleet.url, "alice")
    page.goto(f"{fleet.url}/events?phase=ongoing&system=web2")
    ackable = page.locator("form[data-api$='events.ack']")
    row = page.locator("#events tbody tr", has=ackable).first
    expect(row).to_be_visible(timeout=10_000)
    alert_row = page.locator("#events tbody tr", has_text="ALERT_pool")
    expect(alert_row.locator("td.num").first).to_have_text("—")  # an alert's figures are times
    form = row.locator("form")
    event_id = row.get_attribute("data-event")
    form.get_by_role("textbox").fill("looking into it")
    shot(page, "events-ack")
    form.locator("button.ack").click()
    acked = page.locator(f'#events tr[data-event="{event_id}"] [data-ack]')
    expect(acked).to_contain_text("alice: looking into it")
    expect(page.locator(f'#events tr[data-event="{event_id}"] form')).to_have_count(0)
