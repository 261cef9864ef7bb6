"""A presentation link can be the session's recording (`type=opptak`): shown first, with a note that
its captions are automatic, in `arkiv` and in the follow-up the outbox sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.channels import OutgoingMessage
from bot.entry.composition import App
from bot.models import AuditEvent, PresentationLink
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]
START = datetime(2026, 3, 13, 8, 0, tzinfo=UTC)  # Friday 13 March 2026, 09:00 in Oslo


@dataclass
class KeepingSender(RecordingSender):
    """Keeps every follow-up as the outbox handed it over."""

    followups: list[OutgoingMessage] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> str | None:
        if message.kind == "followup":
            self.followups.append(message)
        return super().send(message)


def test_a_recording_is_listed_first_with_its_captions_note(app: App, clock: ManualClock, say: Say) -> None:
    sender = KeepingSender(clock, posts=True)
    app.delivery.add_sender(sender)
    say(person("a@x.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-13 09:00 Sirkulær økonomi")
    clock.set(START + timedelta(hours=2))
    assert "nummer 1" in say(ORGANISER, "ny lenke 1 https://ks.no/lysark.pdf Lysark; foredragsholder=Kari")
    added = say(ORGANISER, "ny lenke 1 https://video.example/opptak Opptak av økta; type=opptak")
    assert "nummer 2" in added
    with app.db.read() as s:
        assert [x.kind for x in s.scalars(select(PresentationLink).order_by(PresentationLink.id))] == [
            "slides",
            "recording",
        ]
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "link.added")).all()
        assert [e.details["kind"] for e in audited] == ["slides", "recording"]

    archive = say(person("a@x.no"), "arkiv")
    assert archive.index("Opptak: Opptak av økta: https://video.example/opptak") < archive.index(
        "Lysark (Kari)"
    )
    assert "Opptaket har automatisk teksting." in archive
    assert "The recording has automatic captions." in say(replace(person("b@x.no"), language="en"), "archive")
    refused = say(ORGANISER, "ny lenke 1 https://video.example/x Podkast; type=podkast")
    assert "Lenketypen kjenner jeg ikke" in refused and "«podkast»" in refused

    simulate(app, clock, START + timedelta(hours=4))
    [followup, *_] = sender.followups
    assert followup.session is not None
    assert [link.kind for link in followup.session.links] == ["recording", "slides"]
