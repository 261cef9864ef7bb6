"""Jinja2 templates to text, Slack mrkdwn or HTML, with dates formatted by Babel for the reader.

One template serves every channel: the output format decides how user-supplied values are escaped
(`finalize` for mrkdwn, autoescape for HTML), so a title like `<!channel>` can neither ping nor
inject markup. The core's templates live in `templates/<language>/...`; a channel's in its own
folder (`handlers/<channel>/templates/<language>/...`), named `<language>/<channel>/...` like the
core's, so one template may include another wherever it lives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    meta,
    pass_context,
)
from jinja2.runtime import Context
from markupsafe import Markup

from bot.date_formats import format_moment, month_name, weekday_name
from bot.dispatch import Reply
from bot.languages import name_of
from bot.settings import LANGUAGES
from templates import ROOT as TEMPLATES_DIR

FORMATS = ("text", "mrkdwn", "html")


def escape_mrkdwn(value: str) -> str:
    """Slack's three control characters; with them escaped, no mention or link can be formed."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pass_context
def _link(ctx: Context, url: str, label: str | None = None) -> str:
    """A URL the reader can follow. In mrkdwn an explicit link, `<url|label>` (or `<url>`), both
    escaped, so it stays a link where Slack turns no bare URL into one (`verbatim` text); in the other
    formats, and for anything but an http(s) address, the URL itself (the template writes the label
    there as it likes)."""
    if ctx["_format"] != "mrkdwn" or not url.lower().startswith(("https://", "http://")):
        return url  # escaped as any value; only a web address becomes a link
    target = escape_mrkdwn(url).replace("|", "%7C")
    if not label:
        return Markup(f"<{target}>")  # noqa: S704 - escaped above
    return Markup(f"<{target}|{escape_mrkdwn(' '.join(label.split()))}>")  # noqa: S704 - escaped above


def _finalize_mrkdwn(value: Any) -> Any:
    if isinstance(value, Markup):
        return str(value)
    return escape_mrkdwn(value) if isinstance(value, str) else value


@pass_context
def _format(ctx: Context, value: datetime | None, kind: str = "when") -> str:
    if value is None:
        return ""
    return _formatted(value, kind, ctx["_language"], ctx["_timezone"])


@lru_cache(maxsize=1024)
def _formatted(value: datetime, kind: str, language: str, timezone: str) -> str:
    """A moment as a reader sees it. Kept per process: replies name the same few sessions again and
    again, and formatting was a third of rendering one (with Babel)."""
    local = value.astimezone(ZoneInfo(timezone))
    if kind == "time":
        return local.strftime("%H:%M")
    return format_moment(local, language, kind)


@pass_context
def _weekday(ctx: Context, index: int) -> str:
    return weekday_name(ctx["_language"], index)


@pass_context
def _month(ctx: Context, number: int) -> str:
    return month_name(ctx["_language"], number)


@pass_context
def _language_name(ctx: Context, code: str) -> str:
    """A language's name in the reader's language (`nn` → «norsk nynorsk», «Norwegian Nynorsk»)."""
    return name_of(code, ctx["_language"])


def _safe(value: str) -> Markup:
    """Mark template-made output (not user text) as already escaped: a template literal, or a macro's
    result, whose user values the macro's own `{{ }}` already escaped (without this, mrkdwn escapes twice).
    """
    return Markup(value)  # noqa: S704 - only ever called on template literals and macro results


class TemplateLoader(BaseLoader):
    """The core's templates, and each channel's from its own folder: `<language>/<channel>/<rest>`
    (and `<channel>/<rest>` for what all its languages share) is `<language>/<rest>` (or `<rest>`)
    in that channel's folder; every other name is the core's."""

    def __init__(self, core: Path, channels: Mapping[str, Path]) -> None:
        self.core = FileSystemLoader(core)
        self.channels = {name: FileSystemLoader(folder) for name, folder in channels.items()}

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        parts = template.split("/")
        if len(parts) >= 3 and parts[1] in self.channels:
            return self.channels[parts[1]].get_source(environment, "/".join([parts[0], *parts[2:]]))
        if len(parts) >= 2 and parts[0] in self.channels:
            return self.channels[parts[0]].get_source(environment, "/".join(parts[1:]))
        return self.core.get_source(environment, template)

    def list_templates(self) -> list[str]:
        names = set(self.core.list_templates())
        for channel, loader in self.channels.items():
            for name in loader.list_templates():
                first, _, rest = name.partition("/")
                names.add(f"{first}/{channel}/{rest}" if first in LANGUAGES and rest else f"{channel}/{name}")
        return sorted(names)


class Renderer:
    def __init__(
        self, templates_dir: Path = TEMPLATES_DIR, channel_templates: Mapping[str, Path] | None = None
    ) -> None:
        self.loader = TemplateLoader(templates_dir, channel_templates or {})
        self._envs = {fmt: self._environment(fmt) for fmt in FORMATS}
        self._exists: dict[str, bool] = {}

    def _environment(self, fmt: str) -> Environment:
        env = Environment(
            loader=self.loader,
            autoescape=fmt == "html",  # noqa: S701 - text/mrkdwn escape through `finalize`
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            finalize=_finalize_mrkdwn if fmt == "mrkdwn" else None,
            # Templates change only with a new release: each is compiled once per process and never
            # checked again (Jinja's default stats its file at every use, about a tenth of a command's
            # time in the worker), and all of them stay cached (some 600 files, beyond the default 400).
            auto_reload=False,
            cache_size=-1,
        )
        env.filters.update(when=_format, weekday=_weekday, month=_month, language_name=_language_name)
        env.globals.update(safe=_safe, link=_link)
        return env

    def render(
        self,
        name: str,
        data: Mapping[str, Any],
        *,
        language: str,
        timezone: str,
        fmt: str = "text",
    ) -> str:
        """Render `templates/<language>/<name>`; unknown languages fall back to Norwegian."""
        if language not in LANGUAGES:
            language = LANGUAGES[0]
        template = self._envs[fmt].get_template(f"{language}/{name}")
        context = {**data, "_language": language, "_timezone": timezone, "_format": fmt}
        return template.render(context).strip()

    def has(self, name: str, *, language: str) -> bool:
        """Whether `templates/<language>/<name>` exists (unknown languages: Norwegian's); asked for
        every mail sent, so each answer is kept (templates come and go only with a new release)."""
        if language not in LANGUAGES:
            language = LANGUAGES[0]
        full = f"{language}/{name}"
        known = self._exists.get(full)
        if known is None:
            try:
                self.loader.get_source(self._envs["text"], full)
                known = True
            except TemplateNotFound:
                known = False
            self._exists[full] = known
        return known

    def reads(self, name: str, variable: str, *, language: str) -> bool:
        """Whether `templates/<language>/<name>`, or a template it imports or includes, reads
        `variable` from its data (a template named at run time counts as reading everything)."""
        if language not in LANGUAGES:
            language = LANGUAGES[0]
        env, seen, todo = self._envs["text"], set[str](), [f"{language}/{name}"]
        while todo:
            if (full := todo.pop()) in seen:
                continue
            seen.add(full)
            tree = env.parse(self.loader.get_source(env, full)[0])
            others = list(meta.find_referenced_templates(tree))
            if variable in meta.find_undeclared_variables(tree) or None in others:
                return True
            todo += [other for other in others if other is not None]
        return False

    def reply(self, reply: Reply, fmt: str = "text") -> str:
        return self.render(
            f"replies/{reply.key}.txt", reply.data, language=reply.language, timezone=reply.timezone, fmt=fmt
        )
