"""Short texts of buttons, fields and headings from `templates/<language>/slack/labels.txt`."""

from __future__ import annotations

import threading

from bot.rendering import Renderer
from bot.settings import LANGUAGES


class Labels:
    """The `key: text` lines of the labels template, read once per language."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._by_language: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def of(self, language: str) -> dict[str, str]:
        language = language if language in LANGUAGES else LANGUAGES[0]
        with self._lock:
            found = self._by_language.get(language)
            if found is None:
                text = self.renderer.render("slack/labels.txt", {}, language=language, timezone="UTC")
                found = self._by_language[language] = _parse(text)
        return found


def _parse(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}
