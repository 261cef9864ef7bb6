"""The action ids and callback ids the bot's Block Kit carries, in one place for builders and listeners."""

from __future__ import annotations

SUBSCRIBE = "subscribe"  # value: the series' slug; works from any message or view
UNSUBSCRIBE = "unsubscribe"  # value: the series' slug
DIRECT_ON = "direct_on"  # value: the series' slug; the subscription's reminders as direct messages
DIRECT_OFF = "direct_off"  # value: the series' slug
OPEN_LINK = "open_link"  # a button with a URL; Slack still reports the click, which is only acked
PLAN_SESSION = "plan_session"  # value: the series' slug; opens the session modal
EDIT_SESSION = "edit_session"  # value: the session id; opens the session modal filled in
ADD_LINK = "add_link"  # value: the session id; opens the slides modal

SESSION_FORM = "session_form"  # callback id of the session modal
LINK_FORM = "link_form"  # callback id of the slides modal
PLAN_SHORTCUT = "plan_session_shortcut"  # the global shortcut's callback id (see manifest.yml)

COMMAND = "/baerekraft"
