"""The kinds of message the engine sends, and who each one is for."""

from __future__ import annotations

INVITATION = "invitation"
REMINDER = "reminder"
FOLLOWUP = "followup"
CHANGE = "change"
CANCELLATION = "cancellation"
TOPIC_NEEDED = "topic_needed"
LEAD_TIME_WARNING = "lead_time_warning"
CHANNEL_DOWN = "channel_down"  # a channel stopped sending (bot/delivery/outages.py)
UNREACHED = "unreached"  # subscribers no configured channel reaches, at the invitation (reach.py)
# Mail planned within 24 hours exceeds a transport's daily recipient cap (cap_warnings.py).
MAIL_CAP_WARNING = "mail_cap_warning"
# A session's Teams recording exists: the organisers are asked to share it and add its link.
RECORDING_READY = "recording_ready"
MAIL_SUSPENDED = "mail_suspended"  # a subscriber's address bounced too often (services/bounces.py)
# A mail a web form asked for (a link to confirm a subscription or an erasure): one message to one
# address, queued by the web channel (bot/delivery/fanouts.py `one_message`), never planned.
CONFIRMATION = "confirmation"

# To the series' subscribers (and its announcement channels).
PUBLIC = frozenset({INVITATION, REMINDER, FOLLOWUP, CHANGE, CANCELLATION})
# To the series' organisers only, through the channels they use.
ORGANISERS = frozenset(
    {
        TOPIC_NEEDED,
        LEAD_TIME_WARNING,
        CHANNEL_DOWN,
        UNREACHED,
        MAIL_CAP_WARNING,
        RECORDING_READY,
        MAIL_SUSPENDED,
    }
)
# No longer worth sending once the session has started.
BEFORE_START = frozenset({INVITATION, REMINDER, CHANGE, CANCELLATION})
ALL = PUBLIC | ORGANISERS
