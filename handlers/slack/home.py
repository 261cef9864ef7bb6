"""The App Home tab: per series the reader's subscription with its buttons (subscribe or unsubscribe,
direct messages on or off), links to the series' web page and calendar feed (with PUBLIC_BASE_URL),
the next sessions (in the reader's time zone, with a Join button) and the past ones with all their
slides; organisers also get buttons to plan and edit sessions and to add slides.

A view holds at most 100 blocks: when the past sessions would need more, fewer of them are shown
(the newest, each whole, with a pointer to the rest), never fewer links of one."""

from __future__ import annotations

from dataclasses import dataclass
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
    sections,
)
from handlers.slack.home_data import HomeData, SeriesHome
from handlers.slack.labels import Labels


@dataclass(frozen=True)
class _SeriesBlocks:
    """One series' blocks, the past sessions apart so that fewer of them can be shown."""

    top: list[Block]
    past: list[list[Block]]  # per past session, newest first
    more_past: bool
    older: Block  # says where the sessions not shown are


class HomeView:
    """Builds the `views.publish` view for one reader."""

    def __init__(self, renderer: Renderer, labels: Labels, public_base_url: str | None = None) -> None:
        self.renderer, self.labels = renderer, labels
        self.public_base_url = public_base_url

    def build(self, data: HomeData, timezone: str) -> dict[str, Any]:
        label = self.labels.of(data.language)
        found = [self._series(home, data.language, timezone, label) for home in data.series]
        footer = context(self._render("home_footer", {"timezone": timezone}, data.language, timezone))
        most = max((len(x.past) for x in found), default=0)
        for shown in range(most, -1, -1):
            blocks = self._assemble(found, shown, label, footer)
            if len(blocks) <= VIEW_BLOCKS:
                break
        else:  # even without past sessions too many (many series): whole blocks left out at the end
            blocks = [*blocks[: VIEW_BLOCKS - 1], footer]
        return {"type": "home", "blocks": blocks}

    def _assemble(
        self, found: list[_SeriesBlocks], shown: int, label: dict[str, str], footer: Block
    ) -> list[Block]:
        blocks: list[Block] = []
        for series in found:
            blocks += series.top
            for session in series.past[:shown]:
                blocks += session
            if series.more_past or len(series.past) > shown:
                blocks.append(series.older)
            blocks.append(divider())
        if not found:
            blocks.append(section(label["no_series"]))
        blocks.append(footer)
        return blocks

    def _series(self, home: SeriesHome, language: str, timezone: str, label: dict[str, str]) -> _SeriesBlocks:
        slug = home.series.slug
        status = self._render(
            "home_status",
            {
                "series": home.series,
                "subscribed": home.subscribed,
                "organiser": home.organiser,
                "direct": home.direct,
            },
            language,
            timezone,
        )
        top: list[Block] = [header(home.series.name), *sections(status)]
        top.append(actions(*self._toggles(home, label), block_id=f"home_{slug}"))
        web = self._web(slug)
        if web is not None:
            links = {"web_url": web, "calendar_url": f"{web}/calendar.ics"}
            top.append(context(self._render("home_links", links, language, timezone)))
        if home.organiser:
            top.append(actions(button(label["plan"], ids.PLAN_SESSION, value=slug)))
        heading = label["upcoming"] if len(home.upcoming) > 1 else label["next"]
        top.append(section(f"*{heading}*"))
        for session in home.upcoming:
            top.extend(self._upcoming(session, home.organiser, language, timezone, label))
        if not home.upcoming:
            top.append(context(label["no_next"]))
        top.append(section(f"*{label['past']}*"))
        if not home.past:
            top.append(context(label["no_past"]))
        past = []
        for session in home.past:
            text = self._render("past_session", {"s": session}, language, timezone)
            add = button(label["add_link"], ids.ADD_LINK, value=str(session.id)) if home.organiser else None
            past.append(sections(text, add))
        older = context(self._render("home_older", {"web_url": web}, language, timezone))
        return _SeriesBlocks(top, past, home.more_past, older)

    @staticmethod
    def _toggles(home: SeriesHome, label: dict[str, str]) -> list[dict[str, Any]]:
        """Subscribe or unsubscribe; for a subscriber also direct messages on or off."""
        slug = home.series.slug
        if not home.subscribed:
            return [button(label["subscribe"], ids.SUBSCRIBE, value=slug, style="primary")]
        direct = (
            button(label["dm_off"], ids.DIRECT_OFF, value=slug)
            if home.direct
            else button(label["dm_on"], ids.DIRECT_ON, value=slug)
        )
        return [button(label["unsubscribe"], ids.UNSUBSCRIBE, value=slug), direct]

    def _web(self, slug: str) -> str | None:
        """The series' public web page, when PUBLIC_BASE_URL says where the pages are."""
        return f"{self.public_base_url}/s/{slug}" if self.public_base_url else None

    def _upcoming(
        self, session: SessionView, organiser: bool, language: str, timezone: str, label: dict[str, str]
    ) -> list[Block]:
        blocks = sections(self._render("session", {"s": session}, language, timezone))
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
