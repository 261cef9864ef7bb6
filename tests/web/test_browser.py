"""The web pages in a real browser (Debian's chromium driven by Playwright) against a real
`baerekraft-bot run --no-console`, with a SQLite file of its own; the console mailer prints the
confirmation mails on the server's standard output, where the test reads the links.

Without /usr/bin/chromium these tests skip (`make test` installs it as root with apt-get); when the
CI environment variable is set they fail instead. A browser is never downloaded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.entry.settings import BotSettings
from bot.tokens import unsubscribe_url

pytestmark = pytest.mark.slow  # starts real processes and a browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BOT = Path(sys.executable).with_name("baerekraft-bot")
SECRET = "browser-test-secret-key-0123456789"
SLUG = "baerekraftsfredag"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Server:
    """A running bot: its address, its environment (for CLI calls) and what it printed."""

    base: str
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BOT), *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"baerekraft-bot {' '.join(args)}: {done.stderr}"
        return done.stdout

    def subscribers(self) -> dict[str, dict[str, str]]:
        """`subscribers export`, by address: the list as an operator reads it back."""
        rows = csv.DictReader(io.StringIO(self.cli("subscribers", "export", "--series", SLUG)))
        return {row["email"]: row for row in rows}

    def mailed_link(self, to: str, path: str, timeout: float = 10) -> str:
        """The newest link to `path` in a mail printed for `to`."""
        pattern = re.compile(re.escape(self.base + path) + r"\S+")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            mails = text.split(f"[mail to {to}]")
            if len(mails) > 1 and (found := pattern.findall(mails[-1])):
                return str(found[0])
            time.sleep(0.05)
        raise AssertionError(f"no {path} link mailed to {to}; server printed:\n{''.join(self.lines)[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def no_browser_reason() -> str | None:
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed at /usr/bin/chromium (make test installs it as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("bot")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_", "GRAPH_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}",
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=base,
        SECRET_KEY=SECRET,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [str(BOT), "run", "--no-console"],
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Server(base, env, workdir, process)
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: running.lines.extend(iter(process.stdout.readline, "")))
    reader.daemon = True
    reader.start()
    try:
        _wait_until_healthy(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_healthy(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the bot stopped at start-up:\n{''.join(server.lines)}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the bot did not answer /healthz in {timeout} s:\n{''.join(server.lines)}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = no_browser_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser profile (no cookies) that fails the test on any request off the bot's server."""
    context = browser.new_context(viewport=DESKTOP, locale="nb-NO")
    opened = context.new_page()
    elsewhere: list[str] = []
    opened.on("request", lambda r: None if r.url.startswith(server.base) else elsewhere.append(r.url))
    yield opened
    context.close()
    assert not elsewhere, f"the pages loaded something from elsewhere: {elsewhere}"


def screenshot(page: Any, name: str) -> None:
    """Desktop and phone width, whole page, into tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def subscribe_in_browser(page: Any, server: Server, email: str) -> None:
    page.goto(f"{server.base}/s/{SLUG}/subscribe")
    page.get_by_label("E-postadresse").fill(email)
    page.get_by_label("Navn (valgfritt)").fill("Kari Nordmann")
    page.get_by_label("English").check()
    screenshot(page, "subscribe-form")
    page.get_by_role("button", name="Meld meg på").click()
    assert page.locator("h1").inner_text() == "Sjekk e-posten din"
    page.goto(server.mailed_link(email, "/confirm/"))
    assert email not in page.url
    page.get_by_role("button", name="Bekreft påmeldingen").click()
    assert page.locator("h1").inner_text() == "Du er påmeldt Bærekraftsfredag"


def test_subscribe_confirm_by_mail_and_be_on_the_list(page: Any, server: Server) -> None:
    email = "kari@kommune.no"
    subscribe_in_browser(page, server, email)
    screenshot(page, "subscribed")
    row = server.subscribers()[email]
    assert (row["name"], row["language"], row["source_channel"]) == ("Kari Nordmann", "en", "email")


def test_unsubscribe_from_the_page_then_undo(page: Any, server: Server) -> None:
    email = "ola@kommune.no"
    subscribe_in_browser(page, server, email)
    link = _unsubscribe_link(server, email)
    page.goto(link)
    assert "Meld deg av Bærekraftsfredag?" in page.locator("h1").inner_text()
    screenshot(page, "unsubscribe-confirm")
    assert email in server.subscribers(), "opening the page must not unsubscribe"
    page.get_by_role("button", name="Meld meg av").click()
    assert page.locator("h1").inner_text() == "Du er meldt av Bærekraftsfredag"
    screenshot(page, "unsubscribed")
    assert email not in server.subscribers()
    page.get_by_role("button", name="Meld meg på igjen").click()
    assert page.locator("h1").inner_text() == "Du er påmeldt Bærekraftsfredag"
    assert email in server.subscribers()


def test_one_click_unsubscribe_post(page: Any, server: Server) -> None:
    email = "per@kommune.no"
    subscribe_in_browser(page, server, email)
    link = _unsubscribe_link(server, email)
    # What a mail provider sends (RFC 8058): no cookies, no CSRF field, just the signed link.
    response = httpx.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert response.status_code == 200
    assert email not in server.subscribers()


def test_leave_by_address_from_the_leave_page(page: Any, server: Server) -> None:
    """What someone with only the Exchange invitation does: its link, the address, the mailed link."""
    email = "anne@kommune.no"
    subscribe_in_browser(page, server, email)
    page.goto(f"{server.base}/s/{SLUG}/leave")
    assert page.locator("h1").inner_text() == "Meld deg av Bærekraftsfredag"
    page.get_by_label("E-postadresse").fill(email)
    screenshot(page, "leave-form")
    page.get_by_role("button", name="Send meg lenken").click()
    assert page.locator("h1").inner_text() == "Sjekk e-posten din"
    assert email in server.subscribers(), "asking for the link changes nothing"
    page.goto(server.mailed_link(email, "/leave/"))
    assert email not in page.url
    assert "a***@kommune.no" in page.content()
    assert email in server.subscribers(), "opening the link must not unsubscribe"
    screenshot(page, "leave-confirm")
    page.get_by_role("button", name="Meld meg av").click()
    assert page.locator("h1").inner_text() == "Du er meldt av Bærekraftsfredag"
    assert email not in server.subscribers()


def test_archive_shows_a_held_session_with_its_slides(page: Any, server: Server) -> None:
    upcoming = (datetime.now() + timedelta(days=10)).strftime("%Y-%m-%d 09:00")
    server.cli(
        "sessions",
        "add",
        "--title",
        "Likestilling i kommunen",
        "--start",
        upcoming,
        "--join-url",
        "https://teams.example/j/1",
    )
    start = (datetime.now() - timedelta(days=14)).strftime("%Y-%m-%d 09:00")
    session_id = server.cli(
        "sessions",
        "add",
        "--past",
        "--title",
        "Sirkulær økonomi i kommunene",
        "--start",
        start,
        "--speakers",
        "Kari Nordmann, Ola Nordmann",
    ).strip()
    server.cli(
        "links",
        "add",
        session_id,
        "--title",
        "Lysark: sirkulærøkonomi",
        "--url",
        "https://ks.no/lysark.pdf",
        "--speaker",
        "Kari Nordmann",
    )
    page.goto(f"{server.base}/s/{SLUG}")
    archive = page.locator("section", has=page.locator("#archive-title"))
    assert "Sirkulær økonomi i kommunene" in archive.inner_text()
    slides = archive.get_by_role("link", name="Lysark: sirkulærøkonomi")
    assert slides.get_attribute("href") == "https://ks.no/lysark.pdf"
    next_session = page.locator("section.next-session")
    assert "Likestilling i kommunen" in next_session.inner_text()
    assert "kl. 09:00" in next_session.inner_text(), "shown in the series' time zone"
    screenshot(page, "series")
    # Keyboard: the first Tab lands on the skip link, which leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.goto(f"{server.base}/s/{SLUG}?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Past sessions" in page.content()
    screenshot(page, "series-en")


def _unsubscribe_link(server: Server, email: str) -> str:
    """The link the mail channel would put in a mail to `email` (bot.tokens.unsubscribe_url)."""
    person_id, series_id = _ids(server, email)
    url = unsubscribe_url(BotSettings(public_base_url=server.base, secret_key=SECRET), person_id, series_id)
    assert url is not None and "@" not in url
    return url


def _ids(server: Server, email: str) -> tuple[int, int]:
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            person_id = conn.execute(
                text("SELECT id FROM person WHERE email = :e"), {"e": email}
            ).scalar_one()
            series_id = conn.execute(text("SELECT id FROM series WHERE slug = :s"), {"s": SLUG}).scalar_one()
    finally:
        engine.dispose()
    return int(person_id), int(series_id)


def test_an_organiser_signs_in_with_a_cli_link_edits_a_session_and_previews_its_reminder(
    page: Any, server: Server
) -> None:
    organiser = "mette@kommune.no"
    server.cli("organisers", "add", "--series", SLUG, organiser)
    start = (datetime.now() + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    session_id = server.cli(
        "sessions",
        "add",
        "--series",
        SLUG,
        "--title",
        "Naturmangfold",
        "--start",
        f"{start:%Y-%m-%d %H:%M}",
    ).strip()
    link = server.cli("dashboard", "link", "--as", organiser).strip().splitlines()[0]
    assert link.startswith(f"{server.base}/admin/login/")

    page.goto(link)
    page.get_by_role("button", name="Logg inn").click()
    assert page.locator("h1").inner_text() == "Seriene dine"
    page.get_by_role("link", name="Bærekraftsfredag").click()
    page.locator(
        f'a[href="/admin/sessions/{session_id}"]'
    ).click()  # the module's other tests add sessions too
    moved = start + timedelta(days=1, hours=1)
    page.get_by_label("Tittel", exact=True).fill("Naturmangfold i arealplanene")
    page.get_by_label("Starttidspunkt").fill(f"{moved:%Y-%m-%dT%H:%M}")
    screenshot(page, "dashboard-session")
    page.get_by_role("button", name="Lagre endringene").click()
    assert page.get_by_text("Endringene er lagret.").is_visible()
    assert page.locator("h1").inner_text() == "Naturmangfold i arealplanene"

    page.get_by_role("link", name="Påminnelse").click()
    assert page.locator("h1").inner_text() == "Forhåndsvisning: Påminnelse"
    assert "Naturmangfold i arealplanene" in page.locator("main").inner_text()
    screenshot(page, "dashboard-preview")

    shown = json.loads(server.cli("sessions", "show", session_id, "--json"))
    assert shown["title"] == "Naturmangfold i arealplanene"
    assert shown["start_local"].startswith(f"{moved:%Y-%m-%dT%H:%M}")
