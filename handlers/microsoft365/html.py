"""Small conversions between the bot's text and Teams' HTML, safe in both directions (text to
HTML is the core's, bot/html_text.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

AT = re.compile(r'<at\s+id="(\d+)"[^>]*>.*?</at>', re.IGNORECASE | re.DOTALL)


class _Text(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str, drop_mentions: frozenset[int] = frozenset()) -> str:
    """A Teams message's HTML as plain text; the `<at id=N>` mentions listed are removed."""
    without = AT.sub(lambda m: " " if int(m.group(1)) in drop_mentions else m.group(0), content)
    parser = _Text()
    parser.feed(without)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").splitlines())
    return "\n".join(line for line in lines if line).strip()
