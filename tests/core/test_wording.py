"""Every template in every language, and text that reads like a person wrote it.

Each template folder (the core's and every channel's) holds the same files for every language the
bot speaks. Every template is rendered with a sample session on a Friday, for a series whose name
ends in the weekday («Bærekraftsfredag», «Sustainability Friday»), in every language: no sentence may
say the weekday twice in a row («Bærekraftsfredag fredag 11. desember») or name the same date twice
(«flyttet fra fredag 11. desember 2026 kl. 09:00 til fredag 11. desember 2026 kl. 10:00»).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import get_day_names, get_month_names

from bot.delivery import kinds
from bot.delivery.ahead import Upcoming
from bot.delivery.operations import Outcome
from bot.entry.channels import channel_templates
from bot.rendering import TEMPLATES_DIR, Renderer
from bot.services.audit import Entry
from bot.services.numbers import ChannelReach, SessionNumbers
from bot.settings import LANGUAGES
from bot.views import LinkView, SeriesView, SessionView
from handlers.web.admin.access import SignedIn
from handlers.web.admin.previews import Shown
from tests.core.test_templates import Builder

OSLO = "Europe/Oslo"
START = datetime(2026, 12, 11, 8, 0, tzinfo=UTC)  # Friday 11 December 2026, 09:00 in Oslo
SERIES_NAMES = ("Bærekraftsfredag", "Sustainability Friday")
FOLDERS = {
    "templates": TEMPLATES_DIR,
    **{f"handlers/{name}/templates": path for name, path in channel_templates().items()},
}


def files_of(folder: Path, language: str) -> set[str]:
    root = folder / language
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# --- the same templates in every language -------------------------------------------------------------


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_every_template_exists_in_every_language(folder: str) -> None:
    path = FOLDERS[folder]
    found = {language: files_of(path, language) for language in LANGUAGES}
    every = set().union(*found.values())
    assert every, f"no templates in {folder}"
    missing = {language: sorted(every - names) for language, names in found.items() if every - names}
    assert not missing, f"{folder}: templates missing in a language: {missing}"


def test_no_template_folder_holds_a_language_the_bot_does_not_speak() -> None:
    for folder, path in FOLDERS.items():
        languages = {p.name for p in path.iterdir() if p.is_dir() and re.fullmatch(r"[a-z]{2}", p.name)}
        assert languages <= set(LANGUAGES), f"{folder}: {sorted(languages - set(LANGUAGES))}"


# --- the checks ---------------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    """Lines, and sentences within a line (a full stop, then a capital or a quote)."""
    return [s for s in re.split(r"\n+|(?<=[.!?])\s+(?=[A-ZÆØÅ«»“\"])", text) if s.strip()]


def problems_in(text: str, language: str) -> list[str]:
    """The weekday said twice in a row, and a date named twice in one sentence."""
    found: list[str] = []
    for day in get_day_names("wide", locale=language).values():
        # The first may end a word: «Bærekraftsfredag fredag» is the weekday twice.
        match = re.search(rf"{day}\W{{1,3}}{day}\b", text, re.IGNORECASE)
        if match:
            found.append(f"weekday twice: {match.group(0)!r}")
    months = "|".join(re.escape(m) for m in get_month_names("wide", locale=language).values())
    for sentence in _sentences(text):
        named = re.findall(rf"\b(\d{{1,2}})\.?\s+({months})\b", sentence, re.IGNORECASE)
        dates = Counter((d, m.lower()) for d, m in named)
        twice = [f"{d} {m}" for (d, m), n in dates.items() if n > 1]
        if twice:
            found.append(f"date {twice[0]} twice in: {sentence.strip()!r}")
    return found


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("nb", "Bærekraftsfredag fredag 11. desember 2026 kl. 09:00 er dessverre avlyst."),
        (
            "nb",
            "Bærekraftsfredag er flyttet fra fredag 11. desember 2026 kl. 09:00 "
            "til fredag 11. desember 2026 kl. 10:00.",
        ),
        ("en", "Here are the slides from Sustainability Friday Friday 4 December 2026."),
        ("en", "Moved from Friday 11 December 2026 at 09:00 to Friday 11 December 2026 at 10:00."),
        ("da", "Mødet er flyttet fra fredag den 11. december kl. 9 til fredag den 11. december kl. 10."),
        ("nn", "Presentasjonane frå Bærekraftsfredag fredag 4. desember."),
    ],
)
def test_the_checks_find_what_the_issue_reported(language: str, text: str) -> None:
    assert problems_in(text, language)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("nb", "Møtet fredag 11. desember er flyttet fra kl. 09:00 til kl. 10:00."),
        ("nb", "Møtet fredag 4. desember kl. 09:00 er flyttet til fredag 11. desember 2026 kl. 09:00."),
        ("en", "Reminder: Sustainability Friday starts Friday 11 December 2026 at 09:00."),
        ("da", "Påmindelse: Bæredygtig fredag begynder fredag den 11. december 2026 kl. 09:00."),
        ("nn", "Neste økt:\nSirkulær økonomi\nfredag 11. desember 2026 kl. 09:00\nfredag 11. desember 2026"),
    ],
)
def test_the_checks_let_good_text_through(language: str, text: str) -> None:
    assert problems_in(text, language) == []


# --- every template rendered --------------------------------------------------------------------------


def _session(series: SeriesView, start: datetime, sid: int = 12) -> SessionView:
    return SessionView(
        id=sid,
        series=series,
        title="Sirkulær økonomi i kommunene",
        topic="SDG 12 Ansvarlig forbruk",
        speakers="Kari Nordmann, Ola Nordmann",
        description="Hvordan kommunene kan kjøpe inn smartere.",
        start=start,
        end=start + timedelta(minutes=60),
        duration_minutes=60,
        join_url="https://teams.example.org/meet/123",
        status="scheduled",
        sequence=0,
        links=(LinkView(7, "Lysark om sirkulærøkonomi", "Ola Nordmann", "https://example.org/lysark.pdf"),),
    )


def scenarios(series_name: str) -> Iterator[dict[str, Any]]:
    """The data every template but the replies is given, in a few variants: a session moved within
    its day, moved from the week before, given a new link; each channel problem; with and without
    an unsubscribe link."""
    series = SeriesView(1, "baerekraftsfredag", series_name, "nb", OSLO, "FREQ=MONTHLY;BYDAY=2FR")
    session = _session(series, START)
    past = _session(series, START - timedelta(days=7), sid=11)
    later = _session(series, START + timedelta(days=28), sid=12)
    common: dict[str, Any] = {
        "series": series,
        "session": session,
        "s": session,
        "recipient": None,
        "layout": "mail",
        "name": "Slack",
        "subscribed": True,
        "timezone": OSLO,
        "web_url": "https://webinar.example.org/s/baerekraftsfredag",
        "invite_url": "https://webinar.example.org/s/baerekraftsfredag/invite",
        "calendar_url": "https://webinar.example.org/s/baerekraftsfredag/calendar.ics",
        "limit": 3000,
        "join_url": session.join_url,
        "prefix": "@Bærekraft",
        "page_url": "https://webinar.example.org/s/baerekraftsfredag",
        "address": "kari@kommune.no",
        "inviter_name": "Kari Nordmann",
        "inviter_email": "kari@kommune.no",
        "token": "token",
        "csrf_field": "csrf",
        "csrf": "csrf",
        "errors": {},
        "values": {"email": "", "name": "", "language": "nb", "colleague": ""},
        "all_series": [series],
        "valid_until": START - timedelta(days=2),
        "problem": "expired_link",
        "again_url": "/s/baerekraftsfredag/subscribe",
        "purpose": "subscribe",
        "next": session,
        "past": [past],
        "programme": [later],
        "webcal_url": "webcal://webinar.example.org/s/baerekraftsfredag/calendar.ics",
        "feed_url": "https://webinar.example.org/s/baerekraftsfredag/calendar.ics",
        "undo": "undo",
        "switches": [],
        # The organisers' dashboard (handlers/web/templates/admin/).
        "who": SignedIn(1, 1, "kari@kommune.no", "Kari", False, "key"),
        "admin_csrf": "csrf",
        "ended": True,
        "microsoft": True,
        "email": "kari@kommune.no",
        "action": "/admin/login/token",
        "ahead": [
            session,
            replace(session, id=13, status="draft"),
            replace(session, id=14, status="cancelled"),
        ],
        "form": {
            "title": session.title,
            "start": "2026-12-11T09:00",
            "duration": "60",
            "topic": "",
            "speakers": "",
            "description": "",
            "join_url": "",
        },
        "form_problem": "bad_start",
        "clash": True,
        "done": "saved",
        "draft": False,
        "editable": True,
        "cancellable": True,
        "kind": "reminder",
        "kinds": ["invitation", "reminder", "followup"],
        "messages": [
            Shown("slack", "nb", "Påminnelse", "Tekst", None),
            Shown("email", "nb", "Påminnelse", "Tekst", "/admin/sessions/12/preview/mail"),
        ],
        "fallback": Shown("", "nb", "Påminnelse", "Tekst", None),
        "schedule": [
            Upcoming(12, "reminder", "1d", START - timedelta(days=1), OSLO, {"email": 2, "slack": 1})
        ],
        "outcomes": [Outcome("invitation", "email", "sent", 2), Outcome("invitation", "slack", "failed", 1)],
        "failed": 1,
        "started": True,
        "link_kinds": ["slides", "recording"],
        "numbers": SessionNumbers(
            session_id=12,
            invited=3,
            invited_at=START - timedelta(days=7),
            reached=3,
            channels=(
                ChannelReach("email", "invitation", 2, 0, 0, 0, 0),
                ChannelReach("slack", "invitation", 1, 1, 1, 0, 0),
            ),
            unsubscribed_since=1,
            attended=2,
            attendance_source="teams",
            attendance_final=False,
        ),
        "subscribers": [{"id": 1, "email": "kari@kommune.no", "name": "Kari"}],
        "query": "kari",
        "page": 1,
        "more": True,
        "report": {
            "applied": True,
            "created": 2,
            "unchanged": 1,
            "rejected": [3],
            "skipped": [4],
            "merged": [5],
        },
        "organisers": [{"email": "kari@kommune.no", "name": "Kari", "identities": "slack:U1"}],
        "entries": [Entry(START, "session.changed", "dashboard", "kari@kommune.no", "session 12")],
        "blocked": True,
        "recipients": 3,
        "unreached": 1,
    }
    payload = {
        "start": START,
        "about": "reminder",
        "channel": "email",
        "count": 2000,
        "minutes": 67,
        "finish": START + timedelta(minutes=10),
        "since": START - timedelta(hours=3),
        "reason": "token_revoked",
        "target": None,
        "offset": "1d",
        "recipients": 20_000,
        "cap": 10_000,
        "others": 1,
        "who": "Kari Nordmann",
        "address": "kari@kommune.no",
        "bounces": 3,
        "status": "5.1.1",
    }
    variants = [
        ({"previous_start": START - timedelta(hours=1), "problem": "credentials"}, "subscribed", False),
        ({"previous_start": START - timedelta(days=7), "problem": "permission"}, "already_subscribed", True),
        (
            {"previous_start": START, "previous_join_url": "https://old", "problem": "target_closed"}
            | {"target": "#webinar"},
            "forgotten",
            False,
        ),
        ({"previous_start": None, "problem": "credentials"}, "nothing_stored", True),
    ]
    for extra, outcome, flag in variants:
        yield {
            **common,
            "payload": {**payload, **extra},
            "outcome": outcome,
            "organiser": flag,
            "direct": flag,
            "unsubscribe_url": None if flag else "https://webinar.example.org/u/token",
            "leave_url": None if flag else "https://webinar.example.org/s/baerekraftsfredag/leave",
        }


class NamedBuilder(Builder):
    """The reply data of tests/core/test_templates.py, for a series of another name."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def series(self, sid: int = 1, slug: str = "baerekraftsfredag", name: str = "") -> SeriesView:
        return SeriesView(sid, slug, name or self.name, "nb", OSLO, "FREQ=MONTHLY;BYDAY=1FR")

    def session(self, *args: Any, **kwargs: Any) -> SessionView:
        made = super().session(*args, **kwargs)
        return replace(made, series=self.series())


def _plain(text: str, name: str) -> str:
    if not name.endswith(".html"):
        return text
    text = re.sub(r"<(?:/p|br|/li|/h\d|/div|/title)[^>]*>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def _rendered(renderer: Renderer, language: str) -> Iterator[tuple[str, str]]:
    """(what, text) for every template of `language` and every scenario."""
    names = [
        n
        for n in renderer.loader.list_templates()
        if n.startswith(f"{language}/") and not n.rsplit("/", 1)[-1].startswith("_") and "/replies/" not in n
    ]
    assert len(names) > 50, names
    for series_name in SERIES_NAMES:
        for number, data in enumerate(scenarios(series_name)):
            for name in names:
                short = name.split("/", 1)[1]
                kinds_for = sorted(kinds.ALL) if short.endswith("summary.txt") else [kinds.INVITATION]
                for kind in kinds_for:
                    fmt = "html" if name.endswith(".html") else "text"
                    given = {**data, "kind": kind}
                    if "/mail/" in short:  # a confirmation mail's link (elsewhere `link` makes links)
                        given["link"] = "https://webinar.example.org/confirm/token"
                    text = renderer.render(short, given, language=language, timezone=OSLO, fmt=fmt)
                    yield f"{name} (variant {number}, {kind}, {series_name})", _plain(text, name)
        for key, cases in NamedBuilder(series_name).cases().items():
            for number, case in enumerate(cases):
                text = renderer.render(f"replies/{key}.txt", case.data, language=language, timezone=OSLO)
                yield f"{language}/replies/{key}.txt (case {number}, {series_name})", text


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(channel_templates=channel_templates())


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_template_repeats_a_weekday_or_a_date(renderer: Renderer, language: str) -> None:
    found: list[str] = []
    rendered = 0
    for what, text in _rendered(renderer, language):
        rendered += 1
        found.extend(f"{what}: {problem}" for problem in problems_in(text, language))
    assert rendered > 400
    assert not found, "\n".join(sorted(set(found)))


# The channels' codes, which slipped into Norwegian text as English words («via email», «(via console)»);
# an account such as «console:kari@kommune.no» is an identifier and may stay.
CHANNEL_CODES = re.compile(r"\b(email|console)\b(?!:)")


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_no_channel_code_shows_as_an_english_word(renderer: Renderer, language: str) -> None:
    found = {
        f"{what}: {match.group(0)!r}"
        for what, text in _rendered(renderer, language)
        for match in CHANNEL_CODES.finditer(text)
    }
    assert not found, "\n".join(sorted(found))
