"""Whom the Teams meeting invited: with Microsoft 365 the invitation by mail is the meeting itself,
sent by Exchange to the attendees the bot put on its events (calendar_sync), not a row in the
outbox. Counted with the session's numbers (bot/services/numbers.py) as mail invitations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.services.numbers import ChannelReach, OutsideReach
from handlers.microsoft365.mail_sender import MailSender
from handlers.microsoft365.models import GraphEvent


def meeting_invitations(s: Session, session_id: int) -> list[OutsideReach]:
    """The people on the session's invited meeting events (every part), as one mail invitation each."""
    events = s.scalars(
        select(GraphEvent).where(
            GraphEvent.session_id == session_id, GraphEvent.invited.is_(True), GraphEvent.cancelled.is_(False)
        )
    )
    people = frozenset(person for event in events for person in event.attendee_ids or [])
    if not people:
        return []
    reach = ChannelReach(MailSender.channel, kinds.INVITATION, len(people), 0, 0, 0, 0)
    return [OutsideReach(reach, people)]
