"""The app manifest asks for what the bot uses: its command, shortcut, events, and the scopes of every
Web API method the code calls (read from the code, mapped through Slack's method docs)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import slack_sdk.web.client

from handlers.slack import actions as ids
from tests.slack.fakes.slack_scopes import (
    EVENT_SCOPES,
    IM,
    METHOD_SCOPES,
    POST_WITHOUT_JOINING,
    PRIVATE,
    PUBLIC,
    READ_EMAIL,
    manifest_bot_events,
    manifest_bot_scopes,
    scopes_for,
)

SLACK = Path(__file__).resolve().parents[2] / "handlers" / "slack"
MANIFEST = (SLACK / "manifest.yml").read_text(encoding="utf-8")

# The kinds of conversation the bot works in: the announcement channel (SLACK_CHANNEL_ID, public or
# private) and direct messages. It opens no group DMs.
WHERE_THE_BOT_WORKS = (PUBLIC, PRIVATE, IM)
# Callers that take the Web API method's name as their first argument: slack_sdk's
# `WebClient.api_call`, `SlackWebAPI.call` and `SlackConversation._call`.
BY_NAME = frozenset({"api_call", "call", "_call"})
# What the manifest asks for beyond the methods' and events' scopes, and why.
BEYOND_THE_METHODS = {
    "commands": "the slash command and the global shortcut",
    POST_WITHOUT_JOINING: "post in a public announcement channel before (or without) joining it",
    READ_EMAIL: "users.info's e-mail: a Slack and a mail subscriber are one person",
}


def values(key: str) -> list[str]:
    return re.findall(rf"^\s*-?\s*{key}:\s*(\S+)", MANIFEST, flags=re.MULTILINE)


def test_the_command_and_the_shortcut_are_the_ones_the_bot_listens_to() -> None:
    assert values("command") == [ids.COMMAND]
    assert values("callback_id") == [ids.PLAN_SHORTCUT]


def test_home_tab_interactivity_and_socket_mode_are_on() -> None:
    for setting in ("home_tab_enabled", "messages_tab_enabled", "is_enabled", "socket_mode_enabled"):
        assert values(setting) == ["true"], setting


def test_the_manifest_grants_the_scopes_of_every_method_the_bot_calls() -> None:
    """Every Web API method handlers/slack calls, through Slack's method docs (the fake's table), in
    the conversations the bot works in, and every event it subscribes to: the manifest grants each
    scope, and asks for nothing more than the few named extras."""
    calls = web_api_methods(SLACK)
    unknown = sorted(m for m in calls if m not in METHOD_SCOPES)
    assert not unknown, f"the fake does not know these methods (add them to slack_scopes.py): {unknown}"
    needed = {scope for method in calls for scope in scopes_for(method, WHERE_THE_BOT_WORKS)}
    needed |= {scope for event in manifest_bot_events() if (scope := EVENT_SCOPES[event])}
    granted = manifest_bot_scopes()
    assert needed - granted == set(), "missing from manifest.yml"
    assert granted - needed - set(BEYOND_THE_METHODS) == set(), "asked for but not used"


def test_the_bot_reads_back_its_posts_in_channels_and_direct_messages() -> None:
    """A post in doubt is looked up in the history of the announcement channel (public or private)
    or of the DM; the bot joins a public announcement channel, as history is shown only to members."""
    assert {"conversations.history", "conversations.open", "conversations.join"} <= web_api_methods(SLACK)
    assert {"channels:history", "groups:history", "im:history", "channels:join"} <= manifest_bot_scopes()


def test_the_bot_hears_of_deactivated_users() -> None:
    assert manifest_bot_events() == ["app_home_opened", "user_change"]


def test_http_mode_urls_all_point_at_the_one_request_url() -> None:
    urls = set(re.findall(r"(?:url|request_url): (\S+)", MANIFEST))
    assert urls == {"https://bot.example.org/slack/events"}


# --- which Web API methods the code calls -----------------------------------------------------------


def web_api_methods(package: Path) -> set[str]:
    """Every Web API method the sources under `package` call: WebClient's named methods
    (`client.users_info(...)` is users.info, as slack_sdk's own source says) and the callers that
    take the method's name (`BY_NAME`). A caller given a name that is not written out is allowed only
    in a function that passes its own argument on (another such caller); anything else fails."""
    named = webclient_methods()
    found: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        for function, call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call.func, ast.Attribute):
                continue
            attribute = call.func.attr
            if attribute in named:
                found.add(named[attribute])
            elif attribute in BY_NAME:
                first = call.args[0] if call.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
                else:
                    assert function in BY_NAME, (
                        f"{path.name}:{call.lineno}: a Web API method that cannot be read"
                    )
    return found


def webclient_methods() -> dict[str, str]:
    """slack_sdk's WebClient method names → the Web API method each calls (read from its source)."""
    methods: dict[str, str] = {}
    for function, call in _calls(ast.parse(inspect.getsource(slack_sdk.web.client))):
        first = call.args[0] if call.args else None
        is_api_call = isinstance(call.func, ast.Attribute) and call.func.attr == "api_call"
        if is_api_call and function and isinstance(first, ast.Constant) and isinstance(first.value, str):
            methods[function] = first.value
    return methods


def _calls(tree: ast.AST) -> Iterator[tuple[str | None, ast.Call]]:
    """Every call in `tree`, with the name of the function it is written in."""

    def walk(node: ast.AST, function: str | None) -> Iterator[tuple[str | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                yield function, child
            inside = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            yield from walk(child, inside)

    yield from walk(tree, None)


SAMPLE = """
def f(client, api):
    client.users_info(user="U1")
    client.api_call("views.open", json={})
    api.call("chat.update", {})
    "client.users_list() in a string is no call"


def _call(self, method):
    self.client.api_call(method)
"""


def test_the_collection_sees_each_way_of_calling_slack(tmp_path: Path) -> None:
    """The collector itself: named WebClient methods, `api_call`, `call` and a forwarding `_call`;
    and it refuses a method name it cannot read."""
    (tmp_path / "a.py").write_text(SAMPLE, encoding="utf-8")
    assert web_api_methods(tmp_path) == {"users.info", "views.open", "chat.update"}
    (tmp_path / "b.py").write_text("def g(client, name):\n    client.api_call(name)\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="cannot be read"):
        web_api_methods(tmp_path)
