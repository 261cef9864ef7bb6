"""The numbers of one session (`antall 12`, `sessions show`): invited, reached per channel and
message, left since, attended; for organisers only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.delivery.channels import OutgoingMessage, PermanentError
from bot.entry.composition import App
from bot.models import SessionAttendance
from bot.services.context import Ctx
from bot.services.numbers import ChannelReach, SessionNumbers, numbers_of
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]
# Friday 13 March 2026, 09:00 in Oslo; its invitation goes out on Friday 6 March.
START = datetime(2026, 3, 13, 8, 0, tzinfo=UTC)


@dataclass
class RefusingSender(RecordingSender):
    """Reaches everyone but the person with id `refused`, whom the platform refuses for good."""

    refused: int = 0

    def send(self, message: OutgoingMessage) -> str | None:
        if message.recipient is not None and message.recipient.person_id == self.refused:
            raise PermanentError("unknown user")
        return super().send(message)


def _numbers(app: App, session_id: int = 1) -> SessionNumbers:
    with app.db.transaction() as s:
        return numbers_of(Ctx(s, ORGANISER, app.clock.now(), app.dispatcher.config), session_id)


def test_a_session_is_counted_from_its_invitation_to_its_attendance(
    app: App, clock: ManualClock, say: Say
) -> None:
    chat = RecordingSender(clock, channel="slack")
    mail = RefusingSender(clock, channel="email", posts=False, refused=2)
    app.delivery.add_sender(chat)
    app.delivery.add_sender(mail)
    for address in ("a@x.no", "b@x.no", "c@x.no"):
        say(person(address), "meld på")
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-13 09:00 Sirkulær økonomi")
    before = _numbers(app)
    assert (before.invited, before.reached, before.channels, before.attended) == (None, 0, (), None)
    assert "invitasjonen er ikke sendt" in say(ORGANISER, "antall 1")

    simulate(app, clock, START - timedelta(days=6))  # the invitation went out
    say(person("c@x.no"), "meld av")  # one leaves after it
    say(person("d@x.no"), "meld på")  # one joins later and gets it too
    simulate(app, clock, START - timedelta(hours=12))
    found = _numbers(app)
    assert found.invited == 4 and found.unsubscribed_since == 1
    assert found.reached == 4  # b through chat only, as mail refused them
    assert found.channels == (
        ChannelReach("email", "invitation", sent=3, posts=0, failed=1, skipped=0, pending=0),
        ChannelReach("slack", "invitation", sent=4, posts=1, failed=0, skipped=0, pending=0),
        ChannelReach("email", "reminder", sent=2, posts=0, failed=1, skipped=0, pending=0),
        ChannelReach("slack", "reminder", sent=3, posts=1, failed=0, skipped=0, pending=0),
    )
    reply = say(ORGANISER, "antall 1")
    assert "Invitert: 4" in reply and "Meldt av siden invitasjonen: 1" in reply
    assert "E-post, invitasjonen: 3 nådd, 1 feilet" in reply
    assert "Slack, påminnelsene: 3 nådd, 1 innlegg i kanalen" in reply
    assert "Deltok" not in reply  # not held yet

    clock.set(START + timedelta(hours=2))
    assert "Deltok: ikke kjent" in say(ORGANISER, "antall 1")
    with app.db.transaction() as s:
        s.add(
            SessionAttendance(session_id=1, attended=2, source="teams", final=False, updated_at=clock.now())
        )
    assert _numbers(app).attended == 2
    english = say(replace(ORGANISER, language="en"), "count 1")
    assert (
        "Invited: 4" in english and "Attended: 2 (from the Teams attendance report, provisional)" in english
    )
    assert "Inviteret: 4" in say(replace(ORGANISER, language="da"), "antal #1")
    assert "Inviterte: 4" in say(replace(ORGANISER, language="nn"), "antall 1")


def test_only_organisers_see_a_sessions_numbers(app: App, say: Say) -> None:
    say(ORGANISER, "ny økt 2026-03-13 09:00 Sirkulær økonomi")
    assert "bare arrangører" in say(person("ola@kommune.no"), "antall 1")
    assert "12" in say(ORGANISER, "antall 12")  # no such session: said so, not a traceback
    assert "påmeldt" in say(ORGANISER, "antall")  # the series' count stays as it was
