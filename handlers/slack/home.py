"""The App Home tab: per series the reader's subscription with its button, the next session (in the
reader's time zone, with a Join button) and the past ones with their slides; organisers also get
buttons to plan and edit sessions and to add slides."""

from __future__ import annotations

from typing import Any

from bot.rendering import Renderer
from bot.views import SessionView
from handlers.slack import actions as ids
from handlers.slack.blocks import (
    VIEW_BLOCKS,
    Block,
    actions,
    button,
    context,
    divider,
    header,
    section,
)
from handlers.slack.home_data import HomeData, SeriesHome
from handlers.slack.labels import Labels


class HomeView:
    """Builds the `views.publish` view for one reader."""

    def __init__(self, renderer: Renderer, labels: Labels) -> None:
        self.renderer, self.labels = renderer, labels

    def build(self, data: HomeData, timezone: str) -> dict[str, Any]:
        label = self.labels.of(data.language)
        blocks: list[Block] = []
        for home in data.series:
            blocks.extend(self._series(home, data.language, timezone, label))
        if not data.series:
            blocks.append(section(label["no_series"]))
        blocks.append(context(self._render("home_footer", {"timezone": timezone}, data.language, timezone)))
        if len(blocks) > VIEW_BLOCKS:
            blocks = [*blocks[: VIEW_BLOCKS - 1], blocks[-1]]
        return {"type": "home", "blocks": blocks}

    def _series(self, home: SeriesHome, language: str, timezone: str, label: dict[str, str]) -> list[Block]:
        slug = home.series.slug
        status = self._render(
            "home_status",
            {"series": home.series, "subscribed": home.subscribed, "organiser": home.organiser},
            language,
            timezone,
        )
        toggle = (
            button(label["unsubscribe"], ids.UNSUBSCRIBE, value=slug)
            if home.subscribed
            else button(label["subscribe"], ids.SUBSCRIBE, value=slug, style="primary")
        )
        blocks: list[Block] = [header(home.series.name), section(status, toggle)]
        if home.organiser:
            blocks.append(actions(button(label["plan"], ids.PLAN_SESSION, value=slug)))
        heading = label["upcoming"] if home.organiser and len(home.upcoming) > 1 else label["next"]
        blocks.append(section(f"*{heading}*"))
        for session in home.upcoming:
            blocks.extend(self._upcoming(session, home.organiser, language, timezone, label))
        if not home.upcoming:
            blocks.append(context(label["no_next"]))
        blocks.append(section(f"*{label['past']}*"))
        for session in home.past:
            text = self._render("past_session", {"s": session}, language, timezone)
            add = button(label["add_link"], ids.ADD_LINK, value=str(session.id)) if home.organiser else None
            blocks.append(section(text, add))
        if not home.past:
            blocks.append(context(label["no_past"]))
        blocks.append(divider())
        return blocks

    def _upcoming(
        self, session: SessionView, organiser: bool, language: str, timezone: str, label: dict[str, str]
    ) -> list[Block]:
        blocks = [section(self._render("session", {"s": session}, language, timezone))]
        buttons = []
        if session.join_url:
            buttons.append(button(label["join"], ids.OPEN_LINK, url=session.join_url))
        if organiser:
            buttons.append(button(label["edit"], ids.EDIT_SESSION, value=str(session.id)))
            buttons.append(button(label["add_link"], ids.ADD_LINK, value=str(session.id)))
        if buttons:
            blocks.append(actions(*buttons))
        return blocks

    def _render(self, name: str, data: dict[str, Any], language: str, timezone: str) -> str:
        return self.renderer.render(
            f"slack/{name}.txt", data, language=language, timezone=timezone, fmt="mrkdwn"
        )
