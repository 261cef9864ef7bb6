"""The Slack channel's settings: its tokens, where its Web API is, and the pace of its posts."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.settings import Reader, in_flight, positive_float


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    channel_id: str | None = None
    api_url: str = "https://slack.com/api/"
    # chat.postMessage: about one a second per channel (Slack's documented pace).
    rate_per_second: float = 1.0
    # chat.postMessage across the whole workspace (Slack publishes no figure: an assumption).
    workspace_rate_per_minute: float = 600.0
    # chat.postMessage calls at once: a round trip to Slack (100-300 ms from Europe) is slower than
    # the workspace's pace, so one at a time would never reach it.
    sends_in_flight: int = 4

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


def slack_settings(r: Reader) -> tuple[SlackSettings | None, str | None]:
    """The section from SLACK_*; None and the reason when Slack is off. Problems go to `r`."""
    token, secret = r.text("SLACK_BOT_TOKEN"), r.text("SLACK_SIGNING_SECRET")
    app_token = r.text("SLACK_APP_TOKEN")
    api_url = r.url("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"
    if app_token is not None and not app_token.startswith("xapp-"):
        r.problems.append("SLACK_APP_TOKEN: an app-level token starts with 'xapp-'")
    rate = r.parsed("SLACK_RATE_PER_SECOND", 1.0, positive_float, "a positive number")
    workspace_rate = r.parsed("SLACK_WORKSPACE_RATE_PER_MINUTE", 600.0, positive_float, "a positive number")
    sends = r.parsed("SLACK_SENDS_IN_FLIGHT", 4, in_flight, "a whole number from 1 to 16")
    missing = [n for n, v in (("SLACK_BOT_TOKEN", token), ("SLACK_SIGNING_SECRET", secret)) if v is None]
    if missing:
        return None, f"Slack is off: {', '.join(missing)} not set"
    assert token is not None and secret is not None
    if not api_url.endswith("/"):
        api_url += "/"
    return (
        SlackSettings(
            token,
            secret,
            app_token,
            r.text("SLACK_CHANNEL_ID"),
            api_url,
            rate_per_second=rate,
            workspace_rate_per_minute=workspace_rate,
            sends_in_flight=sends,
        ),
        None,
    )
