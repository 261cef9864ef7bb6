"""The fake Slack workspace's state and its Web API methods (used by `slack_api.FakeSlackAPI`).

Each method takes the request's parameters and returns Slack's JSON answer; they run under the
fake's lock. As on Slack, the bot token holds OAuth scopes (`slack_scopes`; by default the
manifest's): a call without the scope its method needs answers `missing_scope`. The workspace knows
its conversations and which of them the bot is a member of: it posts in a public channel it is not
in only with `chat:write.public`, reads the history only of conversations it is in, and cannot see
a private channel it was not invited to. A direct message is a conversation of its own (a `D` id),
opened by conversations.open or by posting to the user's id. Blocks and views are checked against
Slack's limits (`slack_blocks`).
"""

from __future__ import annotations

import copy
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.slack.fakes.slack_blocks import message_problems, view_problems
from tests.slack.fakes.slack_scopes import (
    IM,
    MPIM,
    POST_WITHOUT_JOINING,
    PRIVATE,
    PUBLIC,
    READ_EMAIL,
    manifest_bot_scopes,
    scope_for,
)

Params = dict[str, Any]
TEXT_KEPT = 40_000  # Slack truncates a message's `text` beyond this (changelog 2018-04)
TRIGGER_SECONDS = 3.0  # a trigger_id can open a modal within 3 s of the user's action, once


@dataclass
class Conversation:
    """A channel, private channel, DM or group DM, and whether the bot is a member of it."""

    id: str
    kind: str  # slack_scopes.PUBLIC, PRIVATE, IM or MPIM
    name: str = ""
    bot_member: bool = False
    users: tuple[str, ...] = ()  # the other party of a DM or group DM

    def info(self) -> Params:
        """The conversation object Slack's conversations.* methods answer with."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == PUBLIC,
            "is_group": self.kind == PRIVATE,
            "is_im": self.kind == IM,
            "is_mpim": self.kind == MPIM,
            "is_private": self.kind != PUBLIC,
            "is_member": self.bot_member,
            **({"user": self.users[0]} if self.kind == IM else {}),
        }


@dataclass
class Workspace:
    """Everything the fake holds about the workspace, as Slack would."""

    scopes: frozenset[str] = field(default_factory=manifest_bot_scopes)  # the bot token's
    pace_per_second: float | None = None  # chat.postMessage per channel; None: not enforced
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)  # user id → the id of the bot's DM with them
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Thread replies per (channel, parent ts): not in the channel's history unless broadcast.
    replies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    ephemeral: list[Params] = field(default_factory=list)
    homes: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    modals: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_post: dict[str, float] = field(default_factory=dict)
    triggers: dict[str, float] = field(default_factory=dict)  # trigger id → when the user acted
    exchanged: set[str] = field(default_factory=set)  # trigger ids already used to open a view
    external: dict[str, str] = field(default_factory=dict)  # a view's external_id → its id
    skew: float = 0.0  # seconds Slack's clock is ahead of `clock` (`FakeSlackAPI.advance`)
    clock: Callable[[], float] = time.monotonic  # a test may stop it: then only `advance` moves time
    archived: set[str] = field(default_factory=set)  # channels archived: no posts
    ts: int = 1_767_000_000
    hashes: int = 0
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def now(self) -> float:
        return self.clock() + self.skew

    def next_ts(self) -> str:
        self.ts += 1
        return f"{self.ts}.000100"

    def next_hash(self) -> str:
        self.hashes += 1
        return f"{self.hashes}.hash"

    def dm(self, user_id: str) -> Conversation:
        """The bot's DM with `user_id`, opened on first use."""
        found = self.dms.get(user_id)
        if found is None:
            found = self.dms[user_id] = f"D{next(self._numbers):08d}"
            self.conversations[found] = Conversation(found, IM, bot_member=True, users=(user_id,))
        return self.conversations[found]

    def conversation(self, channel: object) -> Conversation | None:
        """The conversation a `channel` argument names: its id, or a user id for the DM with them."""
        name = str(channel or "")
        if name.startswith(("U", "W")):
            return self.dm(name)
        return self.conversations.get(name)


def _missing(p: Params, *names: str) -> Params | None:
    for name in names:
        if not p.get(name):
            return {"ok": False, "error": "channel_not_found" if name == "channel" else f"missing_{name}"}
    return None


def _invalid_view(view: Any) -> Params | None:
    problems = view_problems(view)
    if problems:
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
    return None


def needed_scope(w: Workspace, method: str, p: Params) -> str | None:
    """The scope this call needs that the token lacks, or None. Where the kind of conversation decides
    the scope and the conversation is unknown, None: the method answers `channel_not_found`."""
    kind: str | None = None
    if method in ("conversations.history", "conversations.replies"):
        found = w.conversations.get(str(p.get("channel") or ""))
        kind = found.kind if found is not None else None
    elif method == "conversations.open":
        kind = MPIM if "," in str(p.get("users") or "") else IM
    needed = scope_for(method, kind)
    return needed if needed is not None and needed not in w.scopes else None


def missing_scope(w: Workspace, needed: str) -> Params:
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(sorted(w.scopes))}


def _readable(conversation: Conversation | None) -> Params | None:
    """Why the bot cannot read `conversation`, or None: unknown or private and not invited
    (`channel_not_found`), public and not joined (`not_in_channel`)."""
    if conversation is None or (conversation.kind != PUBLIC and not conversation.bot_member):
        return {"ok": False, "error": "channel_not_found"}
    if not conversation.bot_member:
        return {"ok": False, "error": "not_in_channel"}
    return None


def auth_test(w: Workspace, p: Params) -> Params:
    return {
        "ok": True,
        "url": "https://fake.slack.test/",
        "team": "Fake Workspace",
        "user": "baerekraft",
        "team_id": "T0FAKE",
        "user_id": "U0BOT",
        "bot_id": "B0BOT",
    }


def post_message(w: Workspace, p: Params) -> Params:
    if problem := _missing(p, "channel"):
        return problem
    conversation = w.conversation(p["channel"])
    if conversation is None or (conversation.kind != PUBLIC and not conversation.bot_member):
        return {"ok": False, "error": "channel_not_found"}
    if conversation.id in w.archived:
        return {"ok": False, "error": "is_archived"}
    if not conversation.bot_member and POST_WITHOUT_JOINING not in w.scopes:
        return {"ok": False, "error": "not_in_channel"}
    if not p.get("text") and not p.get("blocks"):
        return {"ok": False, "error": "no_text"}
    if p.get("blocks") and (refused := message_problems(p["blocks"])):
        return {"ok": False, "error": refused[0], "errors": refused[1]}
    channel, now = conversation.id, time.monotonic()
    thread_ts = str(p["thread_ts"]) if p.get("thread_ts") else None
    parent = _find(w.messages.get(channel, []), thread_ts) if thread_ts else None
    if thread_ts and parent is None:
        return {"ok": False, "error": "thread_not_found"}
    if w.pace_per_second and now - w.last_post.get(channel, -1e9) < 1 / w.pace_per_second:
        return {"ok": False, "error": "ratelimited"}
    w.last_post[channel] = now
    text = str(p.get("text", ""))[:TEXT_KEPT]
    message = {"type": "message", "ts": w.next_ts(), "text": text, "blocks": p.get("blocks", [])}
    if p.get("metadata"):
        message["metadata"] = p["metadata"]
    if parent is None:
        w.messages[channel].append(message)
    else:
        message["thread_ts"] = parent["ts"]
        w.replies[(channel, parent["ts"])].append(message)
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["thread_ts"], parent["latest_reply"] = parent["ts"], message["ts"]
        if _true(p.get("reply_broadcast")):
            w.messages[channel].append({**message, "subtype": "thread_broadcast"})
    return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}


def _find(messages: list[dict[str, Any]], ts: str | None) -> dict[str, Any] | None:
    return next((m for m in messages if m["ts"] == ts and m.get("subtype") != "thread_broadcast"), None)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def post_ephemeral(w: Workspace, p: Params) -> Params:
    if problem := _missing(p, "channel", "user"):
        return problem
    w.ephemeral.append(p)
    return {"ok": True, "message_ts": w.next_ts()}


def update(w: Workspace, p: Params) -> Params:
    """chat.update: replaces text and blocks (and metadata when given) of a message the bot posted;
    the thread and its replies stay."""
    if problem := _missing(p, "channel", "ts"):
        return problem
    if not p.get("text") and not p.get("blocks"):
        return {"ok": False, "error": "no_text"}
    if p.get("blocks") and (refused := message_problems(p["blocks"])):
        return {"ok": False, "error": refused[0], "errors": refused[1]}
    conversation = w.conversations.get(str(p.get("channel") or ""))
    if conversation is None:
        return {"ok": False, "error": "channel_not_found"}
    channel = conversation.id
    message = _find(w.messages.get(channel, []), str(p["ts"]))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    message.update({k: p[k] for k in ("text", "blocks", "metadata") if k in p})
    message["edited"] = {"user": "U0BOT", "ts": w.next_ts()}
    return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"]}


def history(w: Workspace, p: Params) -> Params:
    conversation = w.conversations.get(str(p.get("channel") or ""))
    if problem := _readable(conversation):
        return problem
    assert conversation is not None
    limit = int(p.get("limit") or 100)
    newest_first = list(reversed(w.messages.get(conversation.id, [])))  # replies are kept apart
    return {"ok": True, "messages": newest_first[:limit], "has_more": len(newest_first) > limit}


def replies(w: Workspace, p: Params) -> Params:
    """conversations.replies: the parent first, then its replies, oldest first (membership as for
    the history)."""
    if problem := _missing(p, "channel", "ts"):
        return problem
    conversation = w.conversations.get(str(p.get("channel") or ""))
    if problem := _readable(conversation):
        return problem
    assert conversation is not None
    channel = conversation.id
    parent = _find(w.messages.get(channel, []), str(p["ts"]))
    if parent is None:
        return {"ok": False, "error": "thread_not_found"}
    limit = int(p.get("limit") or 1000)
    thread = [parent, *w.replies.get((channel, parent["ts"]), [])]
    return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}


def conversations_open(w: Workspace, p: Params) -> Params:
    """The DM with one user (the same each time), or a new group DM with several."""
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if not users:
        return {"ok": False, "error": "users_list_not_supplied"}
    if len(users) == 1:
        return {"ok": True, "channel": {"id": w.dm(users[0]).id}}
    group = Conversation(f"G{next(w._numbers):08d}", MPIM, bot_member=True, users=tuple(users))
    w.conversations[group.id] = group
    return {"ok": True, "channel": {"id": group.id}}


def conversations_join(w: Workspace, p: Params) -> Params:
    """A public channel: the bot joins it (a warning if it was in already). Slack does not let a bot
    join a private channel: it must be invited; one it was not invited to it cannot even see."""
    conversation = w.conversations.get(str(p.get("channel") or ""))
    if conversation is None or (conversation.kind != PUBLIC and not conversation.bot_member):
        return {"ok": False, "error": "channel_not_found"}
    if conversation.kind != PUBLIC:
        return {"ok": False, "error": "method_not_supported_for_channel_type"}
    already = conversation.bot_member
    conversation.bot_member = True
    answer: Params = {"ok": True, "channel": conversation.info()}
    if already:
        answer.update(warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]})
    return answer


def _user_as_seen(w: Workspace, user: dict[str, Any]) -> dict[str, Any]:
    """A user as the token may see them: `profile.email` only with users:read.email."""
    seen = copy.deepcopy(user)
    if READ_EMAIL not in w.scopes:
        seen["profile"].pop("email", None)
    return seen


def users_info(w: Workspace, p: Params) -> Params:
    found = w.users.get(str(p.get("user")))
    if found is None:
        return {"ok": False, "error": "user_not_found"}
    user = _user_as_seen(w, found)
    if str(p.get("include_locale")).lower() not in ("true", "1"):
        user.pop("locale", None)
    return {"ok": True, "user": user}


def users_list(w: Workspace, p: Params) -> Params:
    members = [_user_as_seen(w, user) for user in w.users.values()]
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}


def views_publish(w: Workspace, p: Params) -> Params:
    if problem := _missing(p, "user_id", "view") or _invalid_view(p["view"]):
        return problem
    w.homes[str(p["user_id"])].append(p["view"])
    return {"ok": True, "view": {"id": f"VH{p['user_id']}", **p["view"]}}


def _trigger_problem(w: Workspace, trigger_id: str) -> Params | None:
    """Slack's rules for a trigger id: issued by a user's action, used once, within 3 s."""
    acted_at = w.triggers.get(trigger_id)
    if acted_at is None:
        return {"ok": False, "error": "invalid_trigger_id"}
    if trigger_id in w.exchanged:
        return {"ok": False, "error": "exchanged_trigger_id"}
    if w.now() - acted_at > TRIGGER_SECONDS:
        return {"ok": False, "error": "expired_trigger_id"}
    return None


def views_open(w: Workspace, p: Params) -> Params:
    if problem := _missing(p, "trigger_id", "view") or _invalid_view(p["view"]):
        return problem
    if problem := _trigger_problem(w, str(p["trigger_id"])):
        return problem
    w.exchanged.add(str(p["trigger_id"]))
    view_id = f"VM{len(w.modals) + 1}"
    w.modals[view_id] = {"id": view_id, "trigger_id": p["trigger_id"], **p["view"], "hash": w.next_hash()}
    return {"ok": True, "view": w.modals[view_id]}


def views_update(w: Workspace, p: Params) -> Params:
    """By `view_id` or `external_id`; with `hash`, only if the view was not changed since (else
    `hash_conflict`)."""
    view_id = w.external.get(str(p["external_id"]), "") if p.get("external_id") else str(p.get("view_id"))
    if view_id not in w.modals:
        return {"ok": False, "error": "not_found"}
    if problem := _invalid_view(p.get("view")):
        return problem
    if p.get("hash") and p["hash"] != w.modals[view_id].get("hash"):
        return {"ok": False, "error": "hash_conflict"}
    external_id = w.modals[view_id].get("external_id")
    w.modals[view_id] = {"id": view_id, "external_id": external_id, **p["view"], "hash": w.next_hash()}
    return {"ok": True, "view": w.modals[view_id]}


def view_answered(w: Workspace, view_id: str, answer: Params) -> None:
    """A view_submission's answer, as Slack applies it when it arrives: `update` replaces the view in
    place (same id, a new hash), `push` adds a view on top (its `external_id` must be unused in the
    workspace, else Slack refuses the answer); errors leave it as it is."""
    action = answer.get("response_action")
    if action == "update" and view_id in w.modals:
        w.modals[view_id] = {"id": view_id, **answer["view"], "hash": w.next_hash()}
    elif action == "push":
        external_id = answer["view"].get("external_id")
        if external_id in w.external:
            return
        pushed = f"VM{len(w.modals) + 1}"
        w.modals[pushed] = {
            "id": pushed,
            "previous_view_id": view_id,
            **answer["view"],
            "hash": w.next_hash(),
        }
        if external_id:
            w.external[external_id] = pushed


METHODS: dict[str, Callable[[Workspace, Params], Params]] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.open": conversations_open,
    "conversations.join": conversations_join,
    "users.info": users_info,
    "users.list": users_list,
    "views.publish": views_publish,
    "views.open": views_open,
    "views.update": views_update,
}
