"""A slash command that waits on nothing is acked by the Request URL's route with the command's own
listener, without Bolt's dispatch (`handlers/slack/bolt_app.py:plain_command`): the same answer, the
same recording, the same error handling as through Bolt; everything else still goes to Bolt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App as BoltApp
from slack_bolt import BoltRequest, BoltResponse

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from handlers.slack.bolt_app import SlackApp, answer_command, plain_command, read_form
from handlers.slack.channel import SlackChannel
from handlers.slack.intake import Intake
from tests.slack.fakes.slack_bot import KARI, SlackBot, eventually, slack_bot

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The bodies of the requests Bolt's dispatch saw (it still dispatches them)."""
    seen: list[dict[str, Any]] = []
    dispatch = BoltApp.dispatch

    def spy(self: BoltApp, request: BoltRequest) -> BoltResponse:
        seen.append(request.body)
        return dispatch(self, request)

    monkeypatch.setattr(BoltApp, "dispatch", spy)
    return seen


def slack_app(bot: SlackBot) -> SlackApp:
    channel = bot.app.channel(SlackChannel)
    assert channel is not None
    return channel.slack_app()


def command_text(bot: SlackBot, text: str) -> str:
    fields, _key = bot.slack.command_fields(text, KARI)
    return urlencode(fields)


def test_a_plain_command_is_acked_and_carried_out_without_bolts_dispatch(
    bot: SlackBot, dispatched: list[dict[str, Any]]
) -> None:
    answer, key = bot.slack.command("meld på", KARI)
    assert (answer.status_code, answer.text) == (200, "")
    assert answer.headers["content-type"] == "text/plain;charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "påmeldt" in bot.response(key)["text"]
    assert bot.subscribers() == ["kari@kommune.no"]
    assert dispatched == []


def test_what_waits_or_is_no_plain_command_still_goes_to_bolt(
    bot: SlackBot, dispatched: list[dict[str, Any]]
) -> None:
    answer, _key = bot.slack.command("planlegg", KARI)  # opens a modal (or says why not) first
    assert answer.status_code == 200
    assert [body.get("text") for body in dispatched] == ["planlegg"]
    other = command_text(bot, "meld på").replace("%2Fbaerekraft", "%2Fanother")
    assert bot.slack.send(other.encode(), FORM).status_code == 404  # Bolt: no listener for it
    assert len(dispatched) == 2


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        (lambda text: text, True),
        (lambda text: text.replace("meld+p%C3%A5", "planlegg"), False),  # opens a modal
        (lambda text: text.replace("%2Fbaerekraft", "%2Fanother"), False),
        (lambda text: text + "&ssl_check=1", False),
        (lambda text: text.replace("meld+p%C3%A5", "payload"), False),  # Bolt reads it as no form
        (lambda text: "{" + text, False),  # Bolt reads it as JSON
    ],
)
def test_which_requests_are_plain_commands(
    bot: SlackBot, dispatched: list[dict[str, Any]], change: Any, plain: bool
) -> None:
    text = change(command_text(bot, "meld på"))
    form = read_form(text)
    assert form is not None
    assert plain_command(form, text) is plain
    answer = bot.slack.send(text.encode(), FORM)
    if plain:
        assert (answer.status_code, dispatched) == (200, [])
    else:  # Bolt's to answer, or to refuse when it cannot read it
        assert len(dispatched) == 1 or answer.status_code == 400


@pytest.mark.parametrize(
    "extra",
    [
        "&text=&extra=a%26b+c&user_name=%C3%B8",  # a repeated field, a blank one, escapes
        "&a+b%3D=%zz%ff+%C3",  # an encoded name; escapes that are no escape or no UTF-8
        "&=nameless",
    ],
)
def test_a_form_is_read_as_bolt_reads_it(bot: SlackBot, extra: str) -> None:
    text = command_text(bot, "meld på") + extra
    request = BoltRequest(body=text, headers={"content-type": [FORM]})
    assert read_form(text) == request.body


@pytest.mark.parametrize("listener_fails", [False, True])
def test_the_route_answers_a_command_as_bolt_does(
    bot: SlackBot, monkeypatch: pytest.MonkeyPatch, listener_fails: bool
) -> None:
    if listener_fails:

        def fail(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the inbox broke")

        monkeypatch.setattr(Intake, "submit", fail)
    app = slack_app(bot)
    text = command_text(bot, "meld på")
    by_bolt = app.bolt.dispatch(BoltRequest(body=text, headers={"content-type": [FORM]}))
    form = read_form(text)
    assert form is not None and plain_command(form, text)
    by_route = answer_command(app, form)
    answers = [(answer.status, answer.body, answer.headers) for answer in (by_route, by_bolt)]
    assert answers[0] == answers[1]
    if listener_fails:
        assert by_route.body.startswith('{"response_type": "ephemeral", "text": "Beklager')


def test_a_failing_listener_is_answered_with_the_generic_error_not_a_500(
    bot: SlackBot, monkeypatch: pytest.MonkeyPatch, dispatched: list[dict[str, Any]]
) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the inbox broke")

    monkeypatch.setattr(Intake, "submit", fail)
    answer, _key = bot.slack.command("meld på", KARI)
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert answer.json()["text"].startswith("Beklager, noe gikk galt hos meg.")
    assert dispatched == []
    assert eventually(lambda: bot.app.health.recent())
