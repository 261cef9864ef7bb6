"""How Slack rewrites what a user typed before it reaches an app (a slash command's `text`).

Slack always escapes `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;`. With `should_escape: true` on the
command (handlers/slack/manifest.yml) it also sends what the user picked from autocomplete as
tokens: a person as `<@U123|name>`, a channel as `<#C123|name>`, a link as `<https://…>`, an address
as `<mailto:a@b.no|a@b.no>`, `@here`/`@channel`/`@everyone` as `<!here>` and so on. The fake takes
`@Name` (a person's display name or user name) as picked from autocomplete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[3] / "handlers" / "slack" / "manifest.yml"
_WORD = re.compile(r"@([\w.\-]+)|(https?://(?:(?!&gt;)[^\s|<>])+)|([\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)")
SPECIAL = frozenset({"here", "channel", "everyone"})


def should_escape() -> bool:
    """`should_escape` of the slash command in the manifest."""
    found = re.search(r"^\s*should_escape:\s*(\w+)", MANIFEST.read_text(encoding="utf-8"), re.MULTILINE)
    return found is not None and found.group(1) == "true"


def as_sent(text: str, users: Mapping[str, Mapping[str, Any]], escape: bool) -> str:
    """`text` as Slack sends it to the app."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not escape:
        return text

    def token(found: re.Match[str]) -> str:
        name, url, address = found.groups()
        if url:
            return f"<{url}>"
        if address:
            return f"<mailto:{address}|{address}>"
        if name in SPECIAL:
            return f"<!{name}>"
        for user_id, user in users.items():
            names = {str(user.get("name")), str(user.get("profile", {}).get("display_name"))}
            if name in names:
                return f"<@{user_id}|{user.get('name')}>"
        return found.group(0)

    return _WORD.sub(token, text)
