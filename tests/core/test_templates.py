"""Reply templates: every language, three formats, real data for every key, dates and escaping.

Each template is rendered with the data its key really gets (see bot/dispatch.py and the `UserError`s
in bot/services), under StrictUndefined, so a template naming a value it is not given fails here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from bot.commands import Recurrence
from bot.dispatch import Reply
from bot.rendering import FORMATS, TEMPLATES_DIR, Renderer, escape_mrkdwn
from bot.services.bounces import BounceSummary
from bot.services.numbers import ChannelReach, SessionNumbers
from bot.settings import LANGUAGES
from bot.views import LinkView, SeriesView, SessionView

REPO = Path(__file__).resolve().parents[2]
OSLO = "Europe/Oslo"
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
WINTER = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)  # 09:00 in Oslo (CET)
NUMBERS = SessionNumbers(
    session_id=12,
    invited=40,
    invited_at=WINTER - timedelta(days=7),
    reached=37,
    channels=(
        ChannelReach("email", "invitation", sent=35, posts=0, failed=2, skipped=0, pending=0),
        ChannelReach("slack", "invitation", sent=3, posts=1, failed=0, skipped=0, pending=0),
    ),
    unsubscribed_since=3,
    attended=31,
    attendance_source="teams",
    attendance_final=False,
)
NOT_INVITED = SessionNumbers(12, None, None, 0, (), 0, None, None, False)
SUMMER = datetime(2026, 6, 5, 7, 0, tzinfo=UTC)  # 09:00 in Oslo (CEST)
HOSTILE = '<!channel> <@U123> <http://evil|click> & "q" <script>alert(1)</script>'
NO_USER_TEXT = frozenset(
    {
        "bad_duration",
        "confirm_forget",
        "error",
        "forgotten",
        "missing_start",
        "missing_name",
        "missing_title",
        "no_series",
        "nonexistent_time",
        "nothing_stored",
        "session_cancelled",
        "series_exists",
        "session_over",
        "session_unchanged",
        "start_in_past",
        "date_out_of_range",
        "too_long",
        "unavailable",
        "colleague_limit",
        "unknown_link",
        "unknown_session",
        "language",
        "language_set",
        "small_talk",
        "weekday_mismatch",
    }
)


def reply_names(language: str) -> set[str]:
    return {p.stem for p in (TEMPLATES_DIR / language / "replies").glob("*.txt")}


ALL_KEYS = sorted(set().union(*(reply_names(language) for language in LANGUAGES)))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(
    renderer: Renderer, key: str, data: dict[str, Any], language: str, fmt: str = "text", timezone: str = OSLO
) -> str:
    return renderer.render(f"replies/{key}.txt", data, language=language, timezone=timezone, fmt=fmt)


# --- realistic data per key -------------------------------------------------------------------------


@dataclass
class Case:
    data: dict[str, Any]
    # Values that must show in the text output, in both languages.
    shows: tuple[str, ...] = ()


@dataclass
class Builder:
    """Builds the data for each key; `user` turns every user-supplied string into something else."""

    user: Callable[[str], str] = field(default=lambda text: text)

    def series(
        self, sid: int = 1, slug: str = "baerekraftsfredag", name: str = "Bærekraftsfredag"
    ) -> SeriesView:
        return SeriesView(sid, slug, self.user(name), "nb", OSLO, "FREQ=MONTHLY;BYDAY=1FR")

    def link(self, lid: int = 7, speaker: str | None = "Ola Nordmann") -> LinkView:
        return LinkView(
            lid,
            self.user("Lysark om sirkulærøkonomi"),
            self.user(speaker) if speaker else None,
            self.user("https://example.org/lysark.pdf"),
        )

    def session(
        self,
        sid: int = 12,
        start: datetime = WINTER,
        status: str = "scheduled",
        links: tuple[LinkView, ...] = (),
        full: bool = True,
    ) -> SessionView:
        u = self.user
        return SessionView(
            id=sid,
            series=self.series(),
            title=u("Sirkulær økonomi i kommunene"),
            topic=u("SDG 12 Ansvarlig forbruk") if full else None,
            speakers=u("Kari Nordmann, Ola Nordmann") if full else None,
            description=u("Hvordan kommunene kan kjøpe inn smartere.") if full else None,
            start=start,
            end=start + timedelta(minutes=60),
            duration_minutes=60,
            join_url=u("https://teams.example.org/meet/123") if full else None,
            status=status,
            sequence=0,
            links=links,
        )

    def options(self) -> list[SeriesView]:
        return [
            self.series(),
            self.series(2, "klimatorsdag", "Klimatorsdag"),
            self.series(3, "naturmandag", "Naturmandag"),
        ]

    def cases(self) -> dict[str, list[Case]]:
        u = self.user
        series = self.series()
        session = self.session()
        past = self.session(sid=3, start=datetime(2026, 2, 6, 8, 0, tzinfo=UTC), links=(self.link(),))
        recording = LinkView(8, u("Opptak av økta"), None, u("https://example.org/opptak"), "recording")
        recorded = self.session(sid=4, start=datetime(2026, 2, 6, 8, 0, tzinfo=UTC), links=(recording,))
        bare_past = self.session(sid=2, start=datetime(2026, 1, 9, 8, 0, tzinfo=UTC), full=False)
        title = "Sirkulær økonomi i kommunene"
        rule = Recurrence(1, 4, time(9, 0), time(10, 0), frozenset({7}))
        my_data = {
            "name": u("Kari Nordmann"),
            "email": u("kari@kommune.no"),
            "language": "nb",
            "created_at": NOW,
            "identities": [u("slack:U123"), "console:kari@kommune.no"],
            "channels": ["email", "slack"],
            "subscriptions": [
                {
                    "series": u("Bærekraftsfredag"),
                    "active": True,
                    "source_channel": "slack",
                    "consented_at": NOW,
                    "unsubscribed_at": None,
                },
                {
                    "series": u("Klimatorsdag"),
                    "active": False,
                    "source_channel": "console",
                    "consented_at": NOW - timedelta(days=30),
                    "unsubscribed_at": NOW - timedelta(days=2),
                },
            ],
            "audit_events": 7,
            "bounces": BounceSummary(1, 2, NOW - timedelta(days=1), "4.2.2", None),
        }
        suspended_my_data = {**my_data, "bounces": BounceSummary(3, 0, NOW, "5.1.1", NOW)}
        empty_my_data: dict[str, Any] = {
            "name": None,
            "email": None,
            "language": None,
            "created_at": NOW,
            "identities": [],
            "channels": [],
            "subscriptions": [],
            "audit_events": 0,
            "bounces": BounceSummary(0, 0, None, None, None),
        }
        with_next = {"series": series, "next": session}
        without_next = {"series": series, "next": None}
        identity = {"series": series, "identity": u("navn@kommune.no")}
        return {
            "already_subscribed": [Case(with_next, ("Bærekraftsfredag", title)), Case(without_next)],
            "subscribed": [Case(with_next, ("Bærekraftsfredag", title)), Case(without_next)],
            "next": [Case(with_next, ("Bærekraftsfredag", title)), Case(without_next, ("Bærekraftsfredag",))],
            "unsubscribed": [Case({"series": series}, ("Bærekraftsfredag",))],
            "colleague_invited": [Case({"series": series}, ("Bærekraftsfredag",))],
            "colleague_limit": [Case({"series": series, "limit": 5}, ("5",))],
            "colleague_unavailable": [Case({"series": series}, ("Bærekraftsfredag",))],
            "not_subscribed": [Case({"series": series}, ("Bærekraftsfredag",))],
            "status": [
                Case(
                    {"series": series, "subscribed": True, "since": NOW, "organiser": True, "next": session},
                    ("Bærekraftsfredag", title, "2026"),
                ),
                Case(
                    {"series": series, "subscribed": False, "since": None, "organiser": False, "next": None}
                ),
            ],
            "archive": [
                Case(
                    {"series": series, "sessions": [past, bare_past]},
                    (title, "Lysark om sirkulærøkonomi", "https://example.org/lysark.pdf", "Ola Nordmann"),
                ),
                Case({"series": series, "sessions": []}, ("Bærekraftsfredag",)),
                Case({"series": series, "sessions": [recorded]}, ("https://example.org/opptak",)),
            ],
            "help": [
                Case({"unknown": None, "organiser": True}),
                Case({"unknown": u("hei på deg"), "organiser": False}, ("hei på deg",)),
            ],
            "unknown": [
                Case(
                    {"text": u("mled på"), "suggestion": "meld på", "organiser": True}, ("mled på", "meld på")
                ),
                Case({"text": u("hva skjer"), "suggestion": None, "organiser": False}, ("hva skjer",)),
            ],
            "small_talk": [Case({"kind": "greeting"}), Case({"kind": "thanks"})],
            "language": [
                Case({"chosen": "da", "languages": ["nb", "en", "da", "nn"]}, ("da", "en", "nb", "nn")),
                Case({"chosen": None, "languages": ["nb", "en"]}, ("nb", "en")),
            ],
            "language_set": [Case({"language": "en", "languages": ["nb", "en", "da", "nn"]})],
            "language_unknown": [
                Case(
                    {"language": u("klingon"), "languages": ["nb", "en", "da", "nn"]}, ("klingon", "da", "nn")
                )
            ],
            "weekday_mismatch": [Case({"date": date(2027, 3, 5), "written": 3, "actual": 4}, ("5", "2027"))],
            "invalid": [
                Case(
                    {"usage": "add_session", "problem": "bad_date", "detail": u("2026-02-30")},
                    ("2026-02-30",),
                ),
                Case({"usage": "help", "problem": "too_long", "detail": ""}),
            ],
            "my_data": [
                Case(
                    my_data, ("Kari Nordmann", "kari@kommune.no", "slack:U123", "Klimatorsdag", "7", "4.2.2")
                ),
                Case(suspended_my_data, ("Kari Nordmann", "3")),
                Case(empty_my_data),
            ],
            "nothing_stored": [Case({})],
            "confirm_forget": [Case({})],
            "forgotten": [Case({})],
            "session_added": [
                Case({"session": session}, ("12", title, "https://teams.example.org/meet/123"))
            ],
            "session_changed": [
                Case(
                    {"session": session, "changed": ["title", "start", "duration_minutes", "join_url"]},
                    ("12", title),
                )
            ],
            "session_unchanged": [Case({"session": session, "changed": []}, ("12",))],
            "session_cancelled_now": [
                Case({"session": self.session(status="cancelled"), "session_id": 12}, ("12", title))
            ],
            "session_cancelled": [Case({"session_id": 12}, ("12",))],
            "session_over": [Case({"session_id": 12}, ("12",))],
            "recurrence_set": [
                Case({"series": series, "rule": rule}, ("Bærekraftsfredag", "09:00", "10:00"))
            ],
            "link_added": [
                Case(
                    {"link": self.link(), "session": session},
                    ("12", "7", title, "Lysark om sirkulærøkonomi", "https://example.org/lysark.pdf"),
                ),
                Case({"link": self.link(speaker=None), "session": session}, ("7",)),
            ],
            "link_removed": [Case({"link": self.link()}, ("7", "Lysark om sirkulærøkonomi"))],
            "count": [
                Case({"series": series, "count": 42}, ("Bærekraftsfredag", "42")),
                Case({"series": series, "count": 1}, ("1",)),
                Case({"series": series, "count": 9, "mail_suspended": 2}, ("9", "2", "--suspended")),
            ],
            "session_numbers": [
                Case(
                    {"session": session, "numbers": NUMBERS, "now": WINTER + timedelta(days=1)},
                    ("12", title, "40", "37", "3", "31", "35", "2"),
                ),
                Case(
                    {"session": session, "numbers": NOT_INVITED, "now": WINTER - timedelta(days=9)}, ("12",)
                ),
            ],
            "organiser_granted": [Case(identity, ("navn@kommune.no", "Bærekraftsfredag"))],
            "organiser_already": [Case(identity, ("navn@kommune.no", "Bærekraftsfredag"))],
            "organiser_revoked": [Case(identity, ("navn@kommune.no", "Bærekraftsfredag"))],
            "organiser_not": [Case(identity, ("navn@kommune.no", "Bærekraftsfredag"))],
            "unavailable": [Case({})],
            "error": [Case({})],
            "too_long": [Case({"field": "title", "limit": 300}, ("300",))],
            "missing_title": [Case({})],
            "missing_name": [Case({})],
            "missing_start": [Case({})],
            "bad_duration": [Case({"duration": 0})],
            "bad_url": [Case({"url": u("ftp://example.org/x")}, ("ftp://example.org/x",))],
            "unknown_session": [Case({"session_id": 99}, ("99",))],
            "date_out_of_range": [Case({}, ("2000", "2100"))],
            "unknown_link": [Case({"link_id": 98}, ("98",))],
            "start_in_past": [Case({"start": datetime(2026, 3, 2, 8, 0, tzinfo=UTC)}, ("09:00", "2026"))],
            "nonexistent_time": [
                Case({"local": datetime(2026, 3, 29, 2, 30), "timezone": OSLO}, ("02:30", "29", OSLO))
            ],
            "unknown_series": [
                Case(
                    {"slug": u("bærekraft"), "options": self.options()},
                    ("bærekraft", "baerekraftsfredag", "klimatorsdag", "naturmandag"),
                )
            ],
            "which_series": [
                Case({"options": self.options()}, ("baerekraftsfredag", "klimatorsdag", "naturmandag"))
            ],
            "no_series": [Case({})],
            "bad_slug": [Case({"slug": u("Ugyldig slug!")}, ("Ugyldig slug!",))],
            "bad_language": [
                Case({"language": u("fr"), "supported": ["nb", "en", "da", "nn"]}, ("fr", "nb, en, da, nn"))
            ],
            "bad_timezone": [Case({"timezone": u("Europe/Osloo")}, ("Europe/Osloo",))],
            "bad_country": [Case({"country": u("Norge")}, ("Norge",))],
            "session_clash": [Case({"other": session}, ("12", title))],
            "series_exists": [Case({"slug": "klimatorsdag"}, ("klimatorsdag",))],
            "bad_identity": [Case({"identity": u("kari at kommune")}, ("kari at kommune",))],
            "bad_address": [Case({"address": u("x0,victim@x.no")}, ("x0,victim@x.no",))],
            "not_organiser": [Case({"series": u("Bærekraftsfredag")}, ("Bærekraftsfredag",))],
            "direct_messages": [
                Case({"series": series, "enabled": True, "changed": True}, ("Bærekraftsfredag",)),
                Case({"series": series, "enabled": False, "changed": False}, ("Bærekraftsfredag",)),
            ],
            "dm_needs_subscription": [Case({"series": u("Bærekraftsfredag")}, ("Bærekraftsfredag",))],
            "bad_duration_text": [Case({"text": u("1 uke")}, ("1 uke",))],
            "bad_state": [
                Case({"state": u("lost"), "options": ["pending", "sent"]}, ("lost", "pending, sent"))
            ],
            "bad_kind": [Case({"kind": u("change"), "options": ["invitation", "reminder"]}, ("change",))],
            "bad_link_kind": [Case({"kind": u("podkast"), "kinds": ["slides", "recording"]}, ("podkast",))],
        }


REALISTIC = Builder().cases()


def hostile_cases() -> dict[str, list[Case]]:
    return Builder(user=lambda _text: HOSTILE).cases()


def cases_for(key: str) -> list[Case]:
    if key not in REALISTIC:
        pytest.fail(f"no data for templates/*/replies/{key}.txt in tests/core/test_templates.py: add a Case")
    return REALISTIC[key]


# --- the set of templates ---------------------------------------------------------------------------


def test_every_reply_template_exists_in_every_language() -> None:
    nb = reply_names("nb")
    assert nb, "no templates found in templates/nb/replies"
    for language in LANGUAGES[1:]:
        other = reply_names(language)
        assert not nb - other, f"only in nb, not in {language}: {sorted(nb - other)}"
        assert not other - nb, f"only in {language}, not in nb: {sorted(other - nb)}"


def test_the_macros_exist_in_every_language() -> None:
    for language in LANGUAGES:
        assert (TEMPLATES_DIR / language / "_macros.txt").is_file()


def test_every_reply_key_in_the_code_has_a_template() -> None:
    """Keys from `Result("…")`, `UserError("…")` and `key = "…" if … else "…"` in the core."""
    sources = [REPO / "bot" / "dispatch.py", *sorted((REPO / "bot" / "services").glob("*.py"))]
    keys: set[str] = set()
    for path in sources:
        text = path.read_text("utf-8")
        keys.update(re.findall(r"""(?:Result|UserError)\(\s*"([a-z_]+)\"""", text))
        for a, b in re.findall(r"""key = "([a-z_]+)" if .+ else "([a-z_]+)\"""", text):
            keys.update((a, b))
    # The scan sees all three forms.
    assert {"unavailable", "unknown_series", "already_subscribed", "session_cancelled_now"} <= keys
    missing = keys - reply_names("nb")
    assert not missing, f"reply keys without a template: {sorted(missing)}"


def test_every_template_has_test_data() -> None:
    assert not set(ALL_KEYS) - set(REALISTIC), sorted(set(ALL_KEYS) - set(REALISTIC))
    assert not set(REALISTIC) - set(ALL_KEYS), (
        f"data for no template: {sorted(set(REALISTIC) - set(ALL_KEYS))}"
    )


# --- every template, every format --------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL_KEYS)
def test_template_renders_in_every_format_and_language(renderer: Renderer, key: str) -> None:
    for case in cases_for(key):
        for language in LANGUAGES:
            for fmt in FORMATS:
                out = render(renderer, key, case.data, language, fmt)
                assert out.strip(), f"{language}/{key} ({fmt}) is empty"
                assert "{{" not in out
                assert "{%" not in out
                assert "&amp;lt;" not in out, f"{language}/{key} ({fmt}) escaped twice"
            text = render(renderer, key, case.data, language)
            for value in case.shows:
                assert value in text, f"{language}/{key} does not show {value!r}:\n{text}"


@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_language_has_its_own_text(renderer: Renderer, key: str) -> None:
    for case in cases_for(key):
        texts = {language: render(renderer, key, case.data, language) for language in LANGUAGES}
        for i, a in enumerate(LANGUAGES):
            for b in LANGUAGES[i + 1 :]:
                assert texts[a] != texts[b], f"{key}: {a} and {b} read the same:\n{texts[a]}"


def test_a_missing_value_fails_under_strict_undefined(renderer: Renderer) -> None:
    """The renders above would not notice a value a template needs but the code does not pass."""
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render(renderer, "link_added", {"link": Builder().link()}, "nb")


def test_reply_objects_render_in_their_language_and_zone(renderer: Renderer) -> None:
    data = {"session": Builder().session()}
    assert "fredag 6. mars 2026 kl. 09:00" in renderer.reply(Reply("session_added", data, "nb", OSLO))
    assert "Friday 6 March 2026 at 08:00" in renderer.reply(
        Reply("session_added", data, "en", "Europe/London")
    )


def test_an_unknown_language_falls_back_to_norwegian(renderer: Renderer) -> None:
    assert render(renderer, "error", {}, "sv") == render(renderer, "error", {}, "nb")


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "language", "expected"),
    [
        (WINTER, "nb", "fredag 6. mars 2026 kl. 09:00–10:00"),
        (WINTER, "en", "Friday 6 March 2026 at 09:00–10:00"),
        (SUMMER, "nb", "fredag 5. juni 2026 kl. 09:00–10:00"),
        (SUMMER, "en", "Friday 5 June 2026 at 09:00–10:00"),
    ],
)
@pytest.mark.parametrize("key", ["session_added", "next"])
def test_session_times_are_local_to_oslo(
    renderer: Renderer, key: str, start: datetime, language: str, expected: str
) -> None:
    session = Builder().session(start=start)
    data = {"session": session} if key == "session_added" else {"series": session.series, "next": session}
    for fmt in FORMATS:
        assert expected in render(renderer, key, data, language, fmt)


def test_another_zone_gives_other_wall_clock_times(renderer: Renderer) -> None:
    data = {"session": Builder().session(start=SUMMER)}
    out = render(renderer, "session_added", data, "en", timezone="America/New_York")
    assert "Friday 5 June 2026 at 03:00–04:00" in out


def test_archive_shows_the_local_date(renderer: Renderer) -> None:
    # 23:30 UTC on Thursday 5 March is already Friday 6 March in Oslo.
    late = Builder().session(start=datetime(2026, 3, 5, 23, 30, tzinfo=UTC))
    data = {"series": late.series, "sessions": [late]}
    assert "fredag 6. mars 2026" in render(renderer, "archive", data, "nb")
    assert "Friday 6 March 2026" in render(renderer, "archive", data, "en")


def test_recurrence_names_weekday_ordinal_and_skipped_months(renderer: Renderer) -> None:
    rule = Recurrence(1, 4, time(9, 0), time(10, 0), frozenset({7, 12}))
    data = {"series": Builder().series(), "rule": rule}
    nb = render(renderer, "recurrence_set", data, "nb")
    en = render(renderer, "recurrence_set", data, "en")
    assert "første fredag" in nb
    assert "juli, desember" in nb
    assert "first Friday" in en
    assert "July, December" in en
    last = {"series": Builder().series(), "rule": Recurrence(-1, 0, time(12, 0), time(13, 30))}
    assert "siste mandag" in render(renderer, "recurrence_set", last, "nb")
    assert "last Monday" in render(renderer, "recurrence_set", last, "en")
    assert "12:00–13:30" in render(renderer, "recurrence_set", last, "en")


# --- escaping ----------------------------------------------------------------------------------------

EVIL_TITLE = "<!channel> <@U123> <http://evil|click>"
BOTS_OWN_LINK = re.compile(r"<https?://[^<>|\s]+(\|[^<>]*)?>")


def evil_session() -> SessionView:
    return replace(Builder().session(), title=EVIL_TITLE)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("session_added", {"session": evil_session()}),
        ("session_cancelled_now", {"session": evil_session(), "session_id": 12}),
        ("next", {"series": Builder().series(), "next": evil_session()}),
        ("link_added", {"link": Builder().link(), "session": evil_session()}),
    ],
)
def test_mrkdwn_escapes_mentions_and_links(
    renderer: Renderer, key: str, data: dict[str, Any], language: str
) -> None:
    out = render(renderer, key, data, language, "mrkdwn")
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt;" in out
    assert "<!channel>" not in out
    assert "<@U123>" not in out
    assert "<http://evil" not in out
    # The only `<…>` left are the bot's own links to the session's web addresses (its join link).
    assert "<" not in BOTS_OWN_LINK.sub("", out) and ">" not in BOTS_OWN_LINK.sub("", out)
    assert "&amp;lt;" not in out  # escaped once, not twice


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_keeps_the_title_verbatim(renderer: Renderer, language: str) -> None:
    assert EVIL_TITLE in render(renderer, "session_added", {"session": evil_session()}, language, "text")


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_escapes_script(renderer: Renderer, language: str) -> None:
    session = replace(Builder().session(), title="<script>alert(1)</script>")
    out = render(renderer, "session_added", {"session": session}, language, "html")
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


@pytest.mark.parametrize("key", ALL_KEYS)
def test_user_text_is_escaped_exactly_once_in_every_template(renderer: Renderer, key: str) -> None:
    """With every user-supplied string hostile: text shows it as is, mrkdwn and HTML escape it once."""
    cases = hostile_cases().get(key)
    assert cases is not None, f"no data for {key}"
    shown_somewhere = False
    for case in cases:
        for language in LANGUAGES:
            text = render(renderer, key, case.data, language, "text")
            mrkdwn = render(renderer, key, case.data, language, "mrkdwn")
            html = render(renderer, key, case.data, language, "html")
            assert "<" not in mrkdwn and ">" not in mrkdwn, (
                f"{language}/{key}: raw < or > in mrkdwn:\n{mrkdwn}"
            )
            assert "<script>" not in html
            assert "&amp;lt;" not in mrkdwn + html
            if HOSTILE in text:
                shown_somewhere = True
                assert escape_mrkdwn(HOSTILE) in mrkdwn
                assert str(escape(HOSTILE)) in html
    assert shown_somewhere or key in NO_USER_TEXT, f"{key} shows no user text: add it to NO_USER_TEXT?"


# --- invalid: a message for every parser problem and usage -------------------------------------------


def parser_constant(name: str) -> frozenset[str]:
    parser = importlib.import_module("bot.parser")
    value = getattr(parser, name, None)
    if not isinstance(value, frozenset) or not value:
        pytest.fail(f"bot.parser.{name} is missing or empty: the parser must export its {name} frozenset")
    return frozenset(str(x) for x in value)


@pytest.mark.parametrize("language", LANGUAGES)
def test_invalid_has_a_message_for_every_parser_problem(renderer: Renderer, language: str) -> None:
    problems = parser_constant("PROBLEMS")
    messages: dict[str, str] = {}
    failures: list[str] = []
    for problem in sorted(problems):
        try:
            out = render(renderer, "invalid", {"usage": "help", "problem": problem, "detail": ""}, language)
        except Exception as exc:  # collected and reported together below
            failures.append(f"{problem}: {type(exc).__name__}: {exc}")
            continue
        messages[problem] = out.splitlines()[0]
    assert not failures, f"{language}/invalid.txt lacks messages:\n" + "\n".join(failures)
    assert all(m.strip(". ") for m in messages.values())
    assert len(set(messages.values())) == len(messages), f"{language}: two problems share a message"


@pytest.mark.parametrize("language", LANGUAGES)
def test_invalid_has_a_usage_for_every_parser_usage(renderer: Renderer, language: str) -> None:
    usages = parser_constant("USAGES")
    lines: dict[str, str] = {}
    failures: list[str] = []
    for usage in sorted(usages):
        try:
            out = render(renderer, "invalid", {"usage": usage, "problem": "bad_id", "detail": ""}, language)
        except Exception as exc:  # collected and reported together below
            failures.append(f"{usage}: {type(exc).__name__}: {exc}")
            continue
        lines[usage] = out.splitlines()[-1]
    assert not failures, f"{language}/invalid.txt lacks usages:\n" + "\n".join(failures)
    assert len(set(lines.values())) == len(lines), f"{language}: two commands share a usage line"


def test_invalid_shows_the_detail(renderer: Renderer) -> None:
    data = {"usage": "cancel_session", "problem": "bad_id", "detail": "tolv"}
    assert "«tolv»" in render(renderer, "invalid", data, "nb")
    assert "“tolv”" in render(renderer, "invalid", data, "en")


# --- series choices ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", ["which_series", "unknown_series"])
def test_series_questions_list_every_option(renderer: Renderer, key: str, fmt: str, language: str) -> None:
    options = [
        SeriesView(1, "baerekraftsfredag", "Bærekraftsfredag", "nb", OSLO, None),
        SeriesView(2, "klima-og-natur", "Klima & natur", "nb", OSLO, None),
        SeriesView(3, "english-series", "Green Tuesday", "en", "Europe/London", None),
    ]
    data: dict[str, Any] = {"options": options}
    if key == "unknown_series":
        data["slug"] = "baerekraft"
    out = render(renderer, key, data, language, fmt)
    amp = "&" if fmt == "text" else "&amp;"
    for option in options:
        assert f"{option.slug} – {option.name.replace('&', amp)}" in out
    if key == "unknown_series":
        assert "baerekraft" in out.splitlines()[0]
