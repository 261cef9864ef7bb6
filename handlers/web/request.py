"""One HTTP request as the page code sees it: read in full up front, so pages are plain sync functions."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from bot.languages import from_accept_language
from bot.settings import LANGUAGES
from bot.text import is_plain_text

MAX_BODY = 16 * 1024  # a form here is a few fields; anything bigger is not ours
MAX_UPLOAD = 1000 * 1024  # a form with a file (the dashboard's CSV import), under the server's 1 MB
LANGUAGE_COOKIE = "lang"


class BadForm(Exception):
    """The request could not be read: a malformed or too large form, or control characters in the
    address."""

    def __init__(self, too_large: bool = False) -> None:
        super().__init__("too large" if too_large else "malformed")
        self.too_large = too_large


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    accept_language: str = ""
    client: str = "unknown"
    secure: bool = False
    origin: str = ""  # the Origin header of a POST, as the browser sent it ("" without one)
    files: dict[str, bytes] = field(default_factory=dict)  # a form's uploaded files, by field

    def param(self, name: str) -> str:
        return self.path_params.get(name, "")

    def field(self, name: str, limit: int = 1000) -> str:
        """A form field, stripped and cut to `limit` characters."""
        return self.form.get(name, "").strip()[:limit]


async def read_request(request: Request, *, upload: bool = False) -> WebRequest:
    """Everything a page needs from `request`; raises BadForm for an unreadable or oversized body.
    `upload`: the form may carry one file."""
    form: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if request.method == "POST":
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > (MAX_UPLOAD if upload else MAX_BODY):
            raise BadForm(too_large=True)
        try:
            parsed = await request.form(max_files=1 if upload else 0, max_fields=50)
            for key, value in parsed.multi_items():
                if isinstance(value, str):
                    form[key] = value
                else:
                    files[key] = await value.read(MAX_UPLOAD + 1)
        except Exception as exc:  # Starlette/multipart raise several kinds for a malformed body
            raise BadForm from exc
        if any(len(data) > MAX_UPLOAD for data in files.values()):
            raise BadForm(too_large=True)
    path_params = {k: str(v) for k, v in request.path_params.items()}
    query = dict(request.query_params)
    # No page takes a control character in its address (a form's fields are each checked by its page).
    if not all(is_plain_text(text) for text in [*path_params.values(), *query, *query.values()]):
        raise BadForm
    return WebRequest(
        method=request.method,
        path=request.url.path,
        path_params=path_params,
        query=query,
        cookies={k: v for k, v in request.cookies.items() if is_plain_text(k + v)},
        form=form,
        accept_language=request.headers.get("accept-language", ""),
        client=request.client.host if request.client else "unknown",
        secure=request.url.scheme == "https",
        origin=request.headers.get("origin", ""),
        files=files,
    )


def chosen_language(req: WebRequest, fallback: str) -> tuple[str, bool]:
    """The page language and whether to remember it: ?lang=, then the cookie, then Accept-Language
    (a language we do not speak, such as Swedish, gives `fallback`: the series' language)."""
    asked = req.query.get("lang", "")
    if asked in LANGUAGES:
        return asked, True
    remembered = req.cookies.get(LANGUAGE_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered, False
    return from_accept_language(req.accept_language) or fallback, False
