"""Short texts (buttons, fields, headings) kept as `key: text` lines in one template per channel,
rendered and read once per language."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from bot.rendering import Renderer
from bot.settings import LANGUAGES


class LabelTable:
    """The `key: text` lines of `template` (rendered with `context`), per language, read once."""

    def __init__(
        self, renderer: Renderer, template: str, context: Mapping[str, object] | None = None
    ) -> None:
        self.renderer, self.template, self.context = renderer, template, dict(context or {})
        self._by_language: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def of(self, language: str) -> dict[str, str]:
        language = language if language in LANGUAGES else LANGUAGES[0]
        with self._lock:
            found = self._by_language.get(language)
            if found is None:
                text = self.renderer.render(self.template, self.context, language=language, timezone="UTC")
                found = self._by_language[language] = parse_labels(text)
        return found


def parse_labels(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}
