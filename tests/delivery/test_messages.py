"""Every outgoing message renders in every language and format, user text escaped per channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage, Recipient
from bot.delivery.messages import SameForAll, render
from bot.rendering import TEMPLATES_DIR, Renderer
from bot.settings import LANGUAGES
from bot.views import LinkView, SeriesView, SessionView, recordings_first

SERIES = SeriesView(1, "baerekraftsfredag", "Bærekraftsfredag", "nb", "Europe/Oslo", None)
HOSTILE = "<!channel> & <script>alert(1)</script>"
SESSION = SessionView(
    id=7,
    series=SERIES,
    title=f"Sirkulær økonomi {HOSTILE}",
    topic="SDG 12",
    speakers="Kari",
    description=None,
    start=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
    end=datetime(2026, 3, 6, 9, 0, tzinfo=UTC),
    duration_minutes=60,
    join_url="https://teams.example/m/1",
    status="scheduled",
    sequence=0,
    links=(LinkView(1, "Lysark", "Kari", "https://ks.no/a.pdf"),),
)
PAYLOADS = {
    kinds.CHANGE: {"start": "2026-03-06T08:00:00+00:00", "previous_start": "2026-02-27T08:00:00+00:00"},
    kinds.LEAD_TIME_WARNING: {
        "about": "reminder",
        "channel": "email",
        "count": 2000,
        "minutes": 67,
        "finish": "2026-03-06T08:10:00+00:00",
        "start": "2026-03-06T08:00:00+00:00",
    },
    kinds.REMINDER: {"start": "2026-03-06T08:00:00+00:00", "offset": "1d"},
    kinds.UNREACHED: {"about": "invitation", "count": 3},
    kinds.MAIL_CAP_WARNING: {"channel": "email", "cap": 10_000, "recipients": 20_000, "others": 2},
    kinds.RECORDING_READY: {"recording": "rec-1"},
    kinds.MAIL_SUSPENDED: {
        "person_id": 5,
        "who": f"Ola {HOSTILE}",
        "address": "ola@gammel-kommune.no",
        "bounces": 3,
        "status": "5.1.1",
        "since": "2026-03-06T08:00:00+00:00",
    },
    kinds.CHANNEL_DOWN: {
        "channel": "slack",
        "problem": "credentials",
        "reason": "token_revoked",
        "target": None,
        "since": "2026-03-06T08:00:00+00:00",
    },
}


def _message(kind: str, language: str) -> OutgoingMessage:
    return OutgoingMessage(
        1, "k", kind, "fake", "post", language, SERIES, SESSION, None, PAYLOADS.get(kind, {})
    )


def test_every_kind_has_templates_in_every_language() -> None:
    for language in LANGUAGES:
        names = {p.name for p in Path(TEMPLATES_DIR, language, "messages").iterdir()}
        for kind in kinds.ALL:
            assert {f"{kind}.txt", f"{kind}.subject.txt"} <= names


@pytest.mark.parametrize("kind", sorted(kinds.ALL))
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_message_renders_with_local_times(kind: str, language: str) -> None:
    rendered = render(Renderer(), _message(kind, language))
    assert rendered.subject and "\n" not in rendered.subject
    day = {
        "nb": "fredag 6. mars 2026",
        "nn": "fredag 6. mars 2026",
        "da": "fredag den 6. marts 2026",
        "en": "Friday 6 March 2026",
    }[language]
    at = " at " if language == "en" else " kl. "
    when = {kinds.FOLLOWUP: day, kinds.LEAD_TIME_WARNING: f"{day}{at}09:10"}.get(kind, f"{day}{at}09:00")
    assert when in rendered.subject + rendered.body
    if kind in kinds.PUBLIC:
        assert HOSTILE in rendered.body  # the text format keeps what the organiser wrote


def test_followup_lists_the_slides() -> None:
    body = render(Renderer(), _message(kinds.FOLLOWUP, "nb")).body
    assert "Lysark (Kari): https://ks.no/a.pdf" in body


@pytest.mark.parametrize(
    ("language", "label", "note"),
    [
        ("nb", "Opptak: Opptaket", "Opptaket har automatisk teksting."),
        ("nn", "Opptak: Opptaket", "Opptaket har automatisk teksting."),
        ("da", "Optagelse: Opptaket", "Optagelsen har automatiske undertekster."),
        ("en", "Recording: Opptaket", "The recording has automatic captions."),
    ],
)
def test_followup_shows_the_recording_first_with_its_captions_note(
    language: str, label: str, note: str
) -> None:
    recording = LinkView(2, "Opptaket", None, "https://ks.no/opptak", "recording")
    session = replace(SESSION, links=recordings_first((*SESSION.links, recording)))
    message = OutgoingMessage(1, "k", kinds.FOLLOWUP, "fake", "post", language, SERIES, session, None, {})
    text = render(Renderer(), message).body
    assert text.index(f"{label}: https://ks.no/opptak") < text.index("Lysark (Kari)")
    assert note in text
    html = render(Renderer(), message, fmt="html").body
    assert html.index("https://ks.no/opptak") < html.index("https://ks.no/a.pdf") and note in html
    assert note not in render(Renderer(), _message(kinds.FOLLOWUP, language)).body  # slides only


def test_change_names_the_old_and_new_time() -> None:
    body = render(Renderer(), _message(kinds.CHANGE, "en")).body
    assert "The session on Friday 27 February at 09:00 has moved to Friday 6 March 2026 at 09:00." in body
    nb = render(Renderer(), _message(kinds.CHANGE, "nb")).body
    assert "Møtet fredag 27. februar kl. 09:00 er flyttet til fredag 6. mars 2026 kl. 09:00." in nb


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("nb", "Møtet fredag 6. mars er flyttet fra kl. 09:00 til kl. 10:00."),
        ("nn", "Møtet fredag 6. mars er flytta frå kl. 09:00 til kl. 10:00."),
        ("da", "Mødet fredag den 6. marts er flyttet fra kl. 09:00 til kl. 10:00."),
        ("en", "The session on Friday 6 March has moved from 09:00 to 10:00."),
    ],
)
def test_a_move_within_the_day_names_the_day_once(language: str, sentence: str) -> None:
    later = replace(SESSION, start=SESSION.start + timedelta(hours=1), end=SESSION.end + timedelta(hours=1))
    payload = {"start": later.start.isoformat(), "previous_start": SESSION.start.isoformat()}
    message = OutgoingMessage(1, "k", kinds.CHANGE, "fake", "post", language, SERIES, later, None, payload)
    for fmt in ("text", "html"):
        body = render(Renderer(), message, fmt=fmt).body
        assert sentence in body, body
        assert SERIES.name not in body.split("\n")[0], "the session moved, not the series"


def test_a_change_of_link_alone_says_so_and_not_that_it_moved() -> None:
    start = "2026-03-06T08:00:00+00:00"
    payload = {"start": start, "previous_start": start, "previous_join_url": "https://teams.example/m/0"}
    message = OutgoingMessage(1, "k", kinds.CHANGE, "fake", "post", "nb", SERIES, SESSION, None, payload)
    rendered = render(Renderer(), message)
    assert rendered.subject.startswith("Ny møtelenke: ")
    assert "flyttet" not in rendered.body and "Møtet har fått ny lenke" in rendered.body
    assert "https://teams.example/m/1" in rendered.body
    assert "ny lenke" in render(Renderer(), message, fmt="html").body


@pytest.mark.parametrize("kind", sorted(kinds.PUBLIC))
def test_mrkdwn_and_html_escape_user_text(kind: str) -> None:
    mrkdwn = render(Renderer(), _message(kind, "nb"), fmt="mrkdwn").body
    assert "<!channel>" not in mrkdwn and "&lt;!channel&gt; &amp;" in mrkdwn
    html = render(Renderer(), _message(kind, "nb"), fmt="html").body
    assert "<script>" not in html and "&lt;script&gt;" in html


def _to(person_id: int, language: str = "nb") -> OutgoingMessage:
    recipient = Recipient(person_id, language, name=f"Person {person_id}")
    message = _message(kinds.REMINDER, language)
    return replace(message, delivery_id=person_id, target=f"U{person_id}", recipient=recipient)


def test_a_message_that_reads_the_same_to_all_is_rendered_once_per_language() -> None:
    same = SameForAll(Renderer())
    made: list[str] = []

    def make(message: OutgoingMessage) -> str:
        made.append(message.language)
        return render(same.renderer, message).body

    texts = [
        same.get(m, "dm", lambda m=m: make(m)) for m in [_to(i, "nb" if i % 3 else "en") for i in range(9)]
    ]
    assert sorted(made) == ["en", "nb"] and len(set(texts)) == 2
    moved = replace(_to(1), session=replace(SESSION, title="Flyttet"))  # read fresh: another text
    assert "Flyttet" in same.get(moved, "dm", lambda: make(moved)) and len(made) == 3
    assert same.get(_to(2), "post", lambda: make(_to(2))) and len(made) == 4  # what else it depends on


def test_a_message_whose_templates_read_the_recipient_is_rendered_for_each(tmp_path: Path) -> None:
    folder = tmp_path / "nb" / "messages"
    folder.mkdir(parents=True)
    (tmp_path / "nb" / "_hei.txt").write_text("{% macro hei() %}Hei {{ recipient.name }}{% endmacro %}")
    (folder / "reminder.subject.txt").write_text("Påminnelse")
    (folder / "reminder.txt").write_text('{% from "nb/_hei.txt" import hei with context %}{{ hei() }}!')
    (folder / "invitation.subject.txt").write_text("Invitasjon")
    (folder / "invitation.txt").write_text("{{ session.title }}")
    same = SameForAll(Renderer(tmp_path))
    assert same.renderer.reads("messages/reminder.txt", "recipient", language="nb")
    assert not same.renderer.reads("messages/invitation.txt", "recipient", language="nb")
    texts = [same.get(_to(i), "dm", lambda i=i: render(same.renderer, _to(i)).body) for i in (1, 2)]
    assert texts == ["Hei Person 1!", "Hei Person 2!"]
