"""teams/manifest.json: the Teams app that lets the bot reach people's activity feed."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from handlers.microsoft365.teams import TeamsApi

TEAMS = Path(__file__).resolve().parents[2] / "handlers" / "microsoft365" / "teams_app"


@pytest.fixture
def manifest() -> dict[str, object]:
    data = json.loads((TEAMS / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_web_application_is_the_entra_app(manifest: dict[str, object]) -> None:
    info = manifest["webApplicationInfo"]
    assert isinstance(info, dict)
    assert info["resource"] == f"api://{info['id']}"  # both become MS_CLIENT_ID (README)


def test_the_activity_type_the_bot_sends_is_declared(manifest: dict[str, object]) -> None:
    activities = manifest["activities"]
    assert isinstance(activities, dict)
    [declared] = activities["activityTypes"]
    assert declared["type"] == "announcement" and declared["templateText"] == "{title}"
    source = Path(TeamsApi.notify.__code__.co_filename).read_text(encoding="utf-8")
    assert '"activityType": "announcement"' in source and '"name": "title"' in source


def test_the_icons_have_the_sizes_teams_requires(manifest: dict[str, object]) -> None:
    icons = manifest["icons"]
    assert isinstance(icons, dict)
    for name, size in (("color", 192), ("outline", 32)):
        header = (TEAMS / icons[name]).read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", header[16:24]) == (size, size)
