"""Short texts of buttons, fields and headings from `templates/<language>/slack/labels.txt`."""

from __future__ import annotations

from bot.labels import LabelTable
from bot.rendering import Renderer


class Labels(LabelTable):
    """The `key: text` lines of the labels template, read once per language."""

    def __init__(self, renderer: Renderer) -> None:
        super().__init__(renderer, "slack/labels.txt")
