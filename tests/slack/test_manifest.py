"""The app manifest asks for what the bot uses: its command, shortcut, events and scopes."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.slack import actions as ids

MANIFEST = (Path(__file__).resolve().parents[2] / "handlers" / "slack" / "manifest.yml").read_text(
    encoding="utf-8"
)


def values(key: str) -> list[str]:
    return re.findall(rf"^\s*-?\s*{key}:\s*(\S+)", MANIFEST, flags=re.MULTILINE)


def listed(section: str) -> list[str]:
    """The `- item` lines right under `section:` (up to the first line that is not one)."""
    items: list[str] = []
    for line in MANIFEST.split(f"{section}:\n", 1)[1].splitlines():
        found = re.match(r"^\s*-\s*([\w:.]+)", line)
        if found is None:
            break
        items.append(found.group(1))
    return items


def test_the_command_and_the_shortcut_are_the_ones_the_bot_listens_to() -> None:
    assert values("command") == [ids.COMMAND]
    assert values("callback_id") == [ids.PLAN_SHORTCUT]


def test_home_tab_interactivity_and_socket_mode_are_on() -> None:
    for setting in ("home_tab_enabled", "messages_tab_enabled", "is_enabled", "socket_mode_enabled"):
        assert values(setting) == ["true"], setting


def test_scopes_and_events() -> None:
    scopes = set(listed("bot"))
    assert scopes == {
        "commands",
        "chat:write",
        "chat:write.public",
        "im:write",
        "users:read",
        "users:read.email",
    }
    assert listed("bot_events") == ["app_home_opened"]


def test_http_mode_urls_all_point_at_the_one_request_url() -> None:
    urls = set(re.findall(r"(?:url|request_url): (\S+)", MANIFEST))
    assert urls == {"https://bot.example.org/slack/events"}
