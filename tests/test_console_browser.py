"""The console in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright,
against the real `callkeeper web` server started on a free loopback port.

Nothing downloads a browser: without /usr/bin/chromium these tests are
skipped with a plain message (`.ci/run` installs it with apt-get). Each run
keeps its screenshots in tests/screenshots/, which the README shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.directory import disputes, household_reads, households, offices
from router.splits import bookings
from router.storage.db import Database
from router.storage.models import Household
from tests.agency import IVANOV_MOBILE, seed
from tests.console_client import PASSWORD, add_users
from tests.test_console_evidence import CALLED, covered_call
from tests.test_serve_process import free_port, wait_for_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
BIN = Path(sys.executable).parent
# Chromium's flags for a shared CI machine: no sandbox (root in a container), no GPU, no network of its own.
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests skipped: /usr/bin/chromium is absent (apt-get install chromium)",
    ),
]


@pytest.fixture
def server(db: Database, db_url: str, tmp_path: Path) -> Iterator[str]:
    """`callkeeper web` on a free loopback port, over the small agency and its console users."""
    seed(db)
    add_users(db)
    port = free_port()
    env = {**os.environ, "CALLKEEPER_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [str(BIN / "callkeeper"), "--db", db_url, "web", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def browser_page(server: str) -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests skipped: playwright is absent"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="ru-RU")
        refused: list[str] = []
        # A 409 or 422 is logged as "Failed to load resource" even when htmx shows it as it should:
        # what must not happen is anything else, such as the CSP refusing a script or a style.
        page.on(
            "console",
            lambda message: (
                refused.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.set_default_timeout(15000)
        page.base = server  # type: ignore[attr-defined]
        yield page
        browser.close()
        assert refused == [], f"the browser reported errors (a CSP violation?): {refused}"


def shot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def log_in(page: object, login: str) -> None:
    p: object = page
    p.goto(p.base + "/")  # type: ignore[attr-defined]
    p.fill("input[name=login]", login)  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("input[name=q]")  # type: ignore[attr-defined]


def test_browser_logs_in_and_finds_the_family_by_the_spouses_number(browser_page: object) -> None:
    page: object = browser_page
    page.goto(page.base + "/login")  # type: ignore[attr-defined]
    shot(page, "login")
    log_in(page, "anna")
    page.fill("input[name=q]", "8 (916) 765-43-21")  # type: ignore[attr-defined]
    page.press("input[name=q]", "Enter")  # type: ignore[attr-defined]
    page.wait_for_selector("h1:has-text('Ивановы')")  # type: ignore[attr-defined]
    assert "+7 916 765-43-21" in page.inner_text("section.numbers")  # type: ignore[attr-defined]
    shot(page, "family-card")


def test_browser_links_a_second_number_and_sees_the_refusal_for_another_familys_number(
    browser_page: object,
) -> None:
    page: object = browser_page
    log_in(page, "anna")
    page.fill("input[name=q]", "Ivanova")  # type: ignore[attr-defined]
    page.press("input[name=q]", "Enter")  # type: ignore[attr-defined]
    page.wait_for_selector("h1:has-text('Ивановы')")  # type: ignore[attr-defined]
    page.fill("#link input[name=number]", "8 926 111-22-33")  # type: ignore[attr-defined]
    page.select_option("#link select[name=label]", "work")  # type: ignore[attr-defined]
    page.click("#link button")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Номер привязан.")  # type: ignore[attr-defined]
    assert "+7 926 111-22-33" in page.inner_text("section.numbers")  # type: ignore[attr-defined]
    page.fill("#link input[name=number]", "8 (903) 555-01-01")  # type: ignore[attr-defined]
    page.click("#link button")  # type: ignore[attr-defined]
    refusal = page.wait_for_selector("#taken")  # type: ignore[attr-defined]
    assert "уже принадлежит семье «Петровы»" in refusal.inner_text()
    assert "+7 903 555-01-01" not in page.inner_text("section.numbers")  # type: ignore[attr-defined]
    shot(page, "link-refused")


def test_browser_a_refused_link_keeps_the_typed_number_in_the_form(browser_page: object) -> None:
    """htmx swaps the refused card in place: the number typed and the label chosen are still there."""
    page: object = browser_page
    log_in(page, "anna")
    page.fill("input[name=q]", "Иванова")  # type: ignore[attr-defined]
    page.press("input[name=q]", "Enter")  # type: ignore[attr-defined]
    page.wait_for_selector("h1:has-text('Ивановы')")  # type: ignore[attr-defined]
    page.fill("#link input[name=number]", "8 (916) 123-45-6")  # type: ignore[attr-defined]
    page.select_option("#link select[name=label]", "home")  # type: ignore[attr-defined]
    page.click("#link button")  # type: ignore[attr-defined]
    refusal = page.wait_for_selector("p.message.refused")  # type: ignore[attr-defined]
    assert "не номер телефона" in refusal.inner_text()
    assert page.input_value("#link input[name=number]") == "8 (916) 123-45-6"  # type: ignore[attr-defined]
    assert page.input_value("#link select[name=label]") == "home"  # type: ignore[attr-defined]
    shot(page, "link-malformed")


def test_browser_pauses_an_agent_and_sees_the_board_change(browser_page: object, db: Database) -> None:
    page: object = browser_page
    log_in(page, "sveta")
    page.click("nav >> text=Менеджеры")  # type: ignore[attr-defined]
    row = "tr[data-agent=ivanova]"
    page.wait_for_selector(f"{row} td.state:has-text('свободен')")  # type: ignore[attr-defined]
    page.click(f"{row} button:has-text('Пауза')")  # type: ignore[attr-defined]
    page.wait_for_selector(f"{row}.state-paused td.state:has-text('на паузе')")  # type: ignore[attr-defined]
    with db.unit_of_work() as s:
        offices.set_agent_state(s, "orlov", "offline")
    page.wait_for_selector("tr[data-agent=orlov].state-offline")  # type: ignore[attr-defined]
    shot(page, "agents-board")
    with db.reader() as s:
        assert {a.login: a.state for a in offices.list_agents(s)}["ivanova"] == "paused"


def test_browser_shows_the_route_plan_and_the_audit_log(browser_page: object) -> None:
    page: object = browser_page
    log_in(page, "anna")
    page.goto(page.base + "/route?number=8+916+123-45-67&line=msk")  # type: ignore[attr-defined]
    page.wait_for_selector("td:has-text('владелец')")  # type: ignore[attr-defined]
    shot(page, "route-plan")
    page.goto(page.base + "/audit")  # type: ignore[attr-defined]
    page.wait_for_selector("table.audit")  # type: ignore[attr-defined]
    shot(page, "audit-log")


def test_browser_opens_a_dispute_sees_both_managers_and_resolves_it(
    browser_page: object, db: Database
) -> None:
    with db.reader() as s:
        family = s.scalar(select(Household.id).where(Household.name == "Ивановы"))
    page: object = browser_page
    log_in(page, "sveta")
    page.click("nav >> text=Споры")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Открытых споров нет.")  # type: ignore[attr-defined]
    page.fill("form[action='/disputes'] input[name=household]", str(family))  # type: ignore[attr-defined]
    page.fill("form[action='/disputes'] input[name=agents]", "ivanova,sidorov")  # type: ignore[attr-defined]
    page.fill("form[action='/disputes'] input[name=reason]", "оба вели семью")  # type: ignore[attr-defined]
    page.click("form[action='/disputes'] button")  # type: ignore[attr-defined]
    page.wait_for_selector("p.state.open")  # type: ignore[attr-defined]
    header = page.inner_text("table.evidence thead")  # type: ignore[attr-defined]
    assert "ivanova" in header and "sidorov" in header
    shot(page, "dispute")
    page.select_option("select[name=owner]", "sidorov")  # type: ignore[attr-defined]
    page.select_option("select[name=policy]", "equal")  # type: ignore[attr-defined]
    page.fill("form.inline input[name=reason]", "он продал тур")  # type: ignore[attr-defined]
    page.click("form.inline button:has-text('Решить')")  # type: ignore[attr-defined]
    resolved = page.wait_for_selector("p.state.resolved")  # type: ignore[attr-defined]
    assert "владелец sidorov" in resolved.inner_text()
    with db.reader() as s:
        assert disputes.list_disputes(s, open_only=True) == []


def test_browser_tests_need_no_downloaded_browser() -> None:
    assert shutil.which("chromium") == str(CHROMIUM)


def test_browser_admin_hands_an_agents_families_over_after_seeing_the_dry_run(
    browser_page: object, db: Database
) -> None:
    page: object = browser_page
    log_in(page, "anna")
    page.click("nav >> text=Менеджеры")  # type: ignore[attr-defined]
    page.click("tr[data-agent=ivanova] a.handover")  # type: ignore[attr-defined]
    page.wait_for_selector("dialog[open] h1")  # type: ignore[attr-defined]
    page.select_option("dialog select[name=to]", "orlov")  # type: ignore[attr-defined]
    page.click("dialog button:has-text('Показать план')")  # type: ignore[attr-defined]
    table = page.wait_for_selector("table.handover-plan")  # type: ignore[attr-defined]
    assert "Ивановы" in table.inner_text() and "orlov" in table.inner_text()
    with db.reader() as s:
        assert _owner_of_the_ivanovs(s) == "ivanova"
    shot(page, "handover-dry-run")
    page.fill("dialog input[name=reason]", "уходит в отпуск")  # type: ignore[attr-defined]
    page.click("dialog form[method=post] button")  # type: ignore[attr-defined]
    page.wait_for_selector("table.board")  # type: ignore[attr-defined]
    with db.reader() as s:
        assert _owner_of_the_ivanovs(s) == "orlov"


def _owner_of_the_ivanovs(session: Session) -> str | None:
    found = household_reads.lookup(session, IVANOV_MOBILE)
    assert found is not None
    return household_reads.household_view(household_reads.get_household(session, found.household_id)).owner


def test_browser_accepts_a_suggestion_by_merging_the_families(browser_page: object, db: Database) -> None:
    page: object = browser_page
    ids = {h.name: h.id for h in _households(db)}
    new = _look_alike(db, ids["Ивановы"])
    log_in(page, "sveta")
    page.click("nav >> text=Предложения")  # type: ignore[attr-defined]
    row = f"tr[data-pair='{ids['Ивановы']}-{new}']"
    page.wait_for_selector(f"{row} td:has-text('тот же e-mail')")  # type: ignore[attr-defined]
    shot(page, "suggestions")
    page.click(f"{row} >> text=Принять: объединить…")  # type: ignore[attr-defined]
    page.wait_for_selector("input[name=reason]")  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: dialog.accept())  # type: ignore[attr-defined]
    page.fill("input[name=reason]", "одна семья: та же почта")  # type: ignore[attr-defined]
    page.click("button:has-text('Объединить')")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Семьи объединены.")  # type: ignore[attr-defined]
    assert "+7 926 555-00-00" in page.inner_text("section.numbers")  # type: ignore[attr-defined]
    page.goto(page.base + "/suggestions")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Ничего не ждёт")  # type: ignore[attr-defined]


def test_browser_opens_a_timeline_and_sees_a_covered_call(browser_page: object, db: Database) -> None:
    page: object = browser_page
    covered_call(db, db.url)
    log_in(page, "sveta")
    page.fill("input[name=q]", "8 (916) 123-45-67")  # type: ignore[attr-defined]
    page.press("input[name=q]", "Enter")  # type: ignore[attr-defined]
    page.click("#timeline-link")  # type: ignore[attr-defined]
    covered = page.wait_for_selector("li.attempt.status-answer strong.covering")  # type: ignore[attr-defined]
    assert covered.inner_text() == "за ivanova"
    shot(page, "timeline")


def test_browser_overrides_a_split_and_sees_it_on_the_timeline(browser_page: object, db: Database) -> None:
    page: object = browser_page
    covered_call(db, db.url)
    ivanov = {h.name: h.id for h in _households(db)}["Ивановы"]
    with db.unit_of_work() as s:
        bookings.add_booking(
            s, ivanov, ref="TOUR-42", amount=15_000_001, closed_at=CALLED + timedelta(hours=1), actor="crm"
        )
    log_in(page, "sveta")
    page.click("nav >> text=Продажи")  # type: ignore[attr-defined]
    page.click("a:has-text('TOUR-42')")  # type: ignore[attr-defined]
    page.wait_for_selector("h2:has-text('Доли по правилу')")  # type: ignore[attr-defined]
    page.fill("textarea[name=shares]", "ivanova=50\norlov=30\nkim=30")  # type: ignore[attr-defined]
    page.fill("section.override input[name=reason]", "продала ivanova, досчитали коллеги")  # type: ignore[attr-defined]
    page.click("button:has-text('Переопределить')")  # type: ignore[attr-defined]
    refused = page.wait_for_selector("#refused")  # type: ignore[attr-defined]
    assert "110" in refused.inner_text()
    page.fill("textarea[name=shares]", "ivanova=50\norlov=25\nkim=25")  # type: ignore[attr-defined]
    page.fill("section.override input[name=reason]", "продала ivanova, досчитали коллеги")  # type: ignore[attr-defined]
    page.click("button:has-text('Переопределить')")  # type: ignore[attr-defined]
    page.wait_for_selector("h2:has-text('Доли переопределил sveta')")  # type: ignore[attr-defined]
    shot(page, "booking-override")
    page.click("text=История семьи")  # type: ignore[attr-defined]
    booking = page.wait_for_selector("li.booking[data-booking='TOUR-42']")  # type: ignore[attr-defined]
    assert "доли переопределил sveta" in booking.inner_text()
    assert "не одна" not in booking.inner_text()
    page.wait_for_selector("li.audit.action-override")  # type: ignore[attr-defined]
    shot(page, "timeline-override")
    page.goto(page.base + "/bookings")  # type: ignore[attr-defined]
    page.wait_for_selector("tr[data-booking='TOUR-42']")  # type: ignore[attr-defined]
    shot(page, "bookings")


def test_browser_an_admin_adds_a_manager_and_the_manager_logs_in(browser_page: object, db: Database) -> None:
    page: object = browser_page
    log_in(page, "anna")
    page.click("nav >> text=Пользователи")  # type: ignore[attr-defined]
    page.fill("input[name=login]", "marina")  # type: ignore[attr-defined]
    page.select_option("select[name=role]", "manager")  # type: ignore[attr-defined]
    page.select_option("select[name=agent]", "ivanova")  # type: ignore[attr-defined]
    for field in ("password", "password_again"):
        page.fill(f"form[action='/users'] input[name={field}]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button:has-text('Добавить')")  # type: ignore[attr-defined]
    page.wait_for_selector("text=Пользователь добавлен и может входить.")  # type: ignore[attr-defined]
    row = page.wait_for_selector("tr[data-user=marina]")  # type: ignore[attr-defined]
    assert "менеджер" in row.inner_text() and "ivanova" in row.inner_text()
    shot(page, "users")
    page.click("button:has-text('Выйти')")  # type: ignore[attr-defined]
    log_in(page, "marina")
    assert "Пользователи" not in page.inner_text("nav")  # type: ignore[attr-defined]


def _households(db: Database) -> list[household_reads.HouseholdView]:
    with db.reader() as s:
        return household_reads.list_households(s)


def _look_alike(db: Database, ivanov: int) -> int:
    with db.unit_of_work() as s:
        s.get(Household, ivanov).email = "ivanovy@mail.ru"  # type: ignore[union-attr]
        return households.add_household(
            s,
            members=["Иванова Мария"],
            email="ivanovy@mail.ru",
            numbers=[household_reads.NumberSpec("+79265550000")],
            actor="router",
            origin="call",
        ).id
