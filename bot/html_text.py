"""Plain text as safe HTML: escaped, in paragraphs, with its URLs as links (mails, Teams posts)."""

from __future__ import annotations

import html
import re

URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(escaped: str) -> str:
    """Turn URLs in already-escaped text into links (the href is the same escaped text)."""
    return URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def paragraphs(escaped: str) -> str:
    """Escaped plain text (line breaks and blank lines) as HTML paragraphs with clickable links."""
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", escaped.strip()) if b.strip()]
    return "".join(f"<p>{linkify(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def text_as_html(text: str) -> str:
    """Unescaped plain text (e.g. a rendered .txt template) as safe HTML."""
    return paragraphs(html.escape(text, quote=True))
