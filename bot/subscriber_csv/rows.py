"""Reading a subscriber CSV: decoding, parsing and validating its rows, and the row and report types.

Nothing here touches the database: `validate` splits the rows into candidates to import, rows that
record an unsubscribe (skipped) and rejected rows; `bot.subscriber_csv.importing` does the rest.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.addresses import BadAddress, mailbox
from bot.languages import from_tag
from bot.settings import LANGUAGES
from bot.text import is_plain_text

REQUIRED_COLUMNS = ("email", "name", "language")
# Header cells an office writes, in nb, nn, da and en (compared in lower case, `_` as a space).
COLUMN_ALIASES = {
    **dict.fromkeys(
        (
            "email",
            "e-mail",
            "e-post",
            "epost",
            "mail",
            "e-mail address",
            "email address",
            "e-postadresse",
            "epostadresse",
            "e-mailadresse",
            "mailadresse",
            "adresse",
        ),
        "email",
    ),
    **dict.fromkeys(("name", "navn", "namn", "full name", "fullt navn", "fullt namn", "fulde navn"), "name"),
    **dict.fromkeys(("language", "språk", "sprog", "mål", "målform", "lang"), "language"),
}
# Language cells as people write them, to the codes the bot knows.
LANGUAGE_NAMES = {
    **dict.fromkeys(("norsk", "bokmål", "bokmal", "no", "nob", "norwegian"), "nb"),
    **dict.fromkeys(("nynorsk", "nno"), "nn"),
    **dict.fromkeys(("dansk", "danish", "dan"), "da"),
    **dict.fromkeys(("engelsk", "english", "eng"), "en"),
}
# Written by `--include-unsubscribed`; on import, a row with a value here is never subscribed.
UNSUBSCRIBED_COLUMN = "unsubscribed_at"
MAX_NAME = 200
# Cells starting with one of these are run as formulas by spreadsheets (CSV injection); so are those
# that start with a look-alike (full-width `＝`, small `﹫`: the same after NFKC) or with invisible
# characters or spaces before one (a spreadsheet may drop them).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvFormatError(ValueError):
    """The file as a whole cannot be used (encoding, header, broken CSV): nothing was imported."""


class RowIssue(NamedTuple):
    """A row that was not imported: its line in the file (the header is line 1) and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class CsvRow:
    """One data row: its first line in the file, and its cells keyed by lower-case column name."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Candidate:
    """A valid row, normalised: ready to be matched against the database."""

    line: int
    email: str
    name: str | None
    language: str | None


@dataclass
class ImportReport:
    series: str
    rows: int = 0
    created: int = 0
    # Always 0: an import never reactivates an ended subscription. Kept so reports read the same
    # as the ones of other ways of subscribing.
    reactivated: int = 0
    unchanged: int = 0
    skipped: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    # Rows with an address an earlier row has (in any case): the first row counts, not an error.
    merged: list[RowIssue] = field(default_factory=list)
    # How the file was read ("UTF-8", "UTF-8 with BOM", "Windows-1252"), when known.
    encoding: str | None = None
    # False when invalid rows stopped the import (no `skip_invalid`): nothing was written.
    applied: bool = True

    @property
    def failed(self) -> bool:
        """Rows were rejected and no valid row was imported: the CLI exits with 1."""
        return bool(self.rejected) and (not self.applied or self.created + self.unchanged == 0)


# --- reading ------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file's text (see `read_text`)."""
    return read_text(data)[0]


def read_text(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read as: UTF-8 when it has a byte order mark or
    decodes as UTF-8, else Windows-1252 (what Excel in Norway and Denmark saves as "CSV")."""
    if data.startswith(codecs.BOM_UTF8):
        return _utf8(data.removeprefix(codecs.BOM_UTF8)), "UTF-8 with BOM"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFormatError(
            f"line {line}: neither UTF-8 nor Windows-1252 text; in Excel, save as 'CSV UTF-8'"
        ) from exc


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise CsvFormatError(
            f"line {line}: not UTF-8 text although the file says so; in Excel, save as 'CSV UTF-8'"
        ) from exc


def parse_csv(text: str) -> list[CsvRow]:
    """The data rows of a CSV text whose line 1 is a header naming `email`, `name` and `language`.

    Line numbers are those of the file, so a quoted field spanning lines moves the next rows down.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CsvFormatError("the file is empty; line 1 must be a header: email,name,language")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]))
    rows: list[CsvRow] = []
    try:
        header = columns(next(reader))
        start = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):
                rows.append(CsvRow(start, _by_name(header, values)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvFormatError(f"line {reader.line_num}: {exc}") from exc
    return rows


def _delimiter(first_line: str) -> str:
    """`,` or `;`: whichever makes line 1 a header with the required columns."""
    for delimiter in (",", ";"):
        names = set(columns(next(csv.reader([first_line], delimiter=delimiter))))
        if names.issuperset(REQUIRED_COLUMNS):
            return delimiter
    raise CsvFormatError(
        f"line 1 must be a header with the columns {', '.join(REQUIRED_COLUMNS)} (or E-post, Navn, Språk;"
        f" separated by , or ;); found: {first_line[:200]!r}"
    )


def columns(header: list[str]) -> list[str]:
    """The columns a header row names (see `column_name`); a column named exactly `email`, `name` or
    `language` wins over another's alias (an export's `e-post` beside its `email`)."""
    exact = {cell.strip().lower() for cell in header} & set(REQUIRED_COLUMNS)
    named = [column_name(cell) for cell in header]
    return [
        name if name not in exact or cell.strip().lower() == name else cell.strip().lower()
        for cell, name in zip(header, named, strict=True)
    ]


def column_name(header: str) -> str:
    """A header cell as the column it names: `E-post`, `Navn`, `Språk` (nb), `Namn` (nn), `Sprog`
    (da) and their like are `email`, `name` and `language`; any other is kept, in lower case."""
    name = " ".join(header.strip().lower().replace("_", " ").split())
    return COLUMN_ALIASES.get(name, name.replace(" ", "_"))


def _by_name(header: list[str], values: list[str]) -> dict[str, str]:
    """Cells by column name; a missing cell is empty, and of two columns with one name the first wins."""
    cells: dict[str, str] = {}
    for name, value in zip(header, values, strict=False):
        cells.setdefault(name, value)
    return cells


# --- validating ---------------------------------------------------------------------------------


def validate(
    rows: Iterable[CsvRow], tz: ZoneInfo | None = None
) -> tuple[list[Candidate], list[RowIssue], list[RowIssue], list[RowIssue]]:
    """Split rows into valid candidates, rows recording an unsubscribe (skipped), rejected rows and
    duplicates merged into an earlier row with the same address (in any case: the first one wins).

    `tz` gives the date in the reason of a skipped row (default UTC).
    """
    valid: list[Candidate] = []
    skipped: list[RowIssue] = []
    rejected: list[RowIssue] = []
    merged: list[RowIssue] = []
    first_line: dict[str, int] = {}
    for row in rows:
        left = row.cells.get(UNSUBSCRIBED_COLUMN, "").strip()
        if left:
            when = _parse_time(left)
            if when is None:
                rejected.append(RowIssue(row.line, f"{UNSUBSCRIBED_COLUMN} is not an ISO 8601 time"))
            else:
                skipped.append(RowIssue(row.line, left_reason(when, tz)))
            continue
        checked = _check(row)
        if not isinstance(checked, Candidate):
            rejected.append(RowIssue(row.line, "; ".join(checked)))
        elif checked.email in first_line:
            first = first_line[checked.email]
            merged.append(RowIssue(row.line, f"same address as line {first}; line {first} counts"))
        else:
            first_line[checked.email] = row.line
            valid.append(checked)
    return valid, skipped, rejected, merged


def _check(row: CsvRow) -> Candidate | list[str]:
    """The row as a candidate, or its problems."""
    written = unescape(row.cells.get("email", ""))
    name = unescape(row.cells.get("name", "")).strip()
    language = row.cells.get("language", "").strip().lower()
    language = LANGUAGE_NAMES.get(language, language)
    problems: list[str] = []
    email = ""
    if not written.strip():
        problems.append("missing e-mail address")
    else:
        try:
            email = mailbox(written)
        except BadAddress:
            problems.append("invalid e-mail address")
    if len(name) > MAX_NAME:
        problems.append(f"name longer than {MAX_NAME} characters")
    elif not is_plain_text(name):
        problems.append("name contains control characters")
    known = from_tag(language) if language else None
    if language and known is None:
        supported = ", ".join(LANGUAGES)
        problems.append(f"unknown language {language[:20]!r} (use one of {supported}, or leave it empty)")
    if problems:
        return problems
    return Candidate(row.line, email, name or None, known)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def left_reason(when: datetime | None, tz: ZoneInfo | None = None) -> str:
    """Why a row was skipped: the person left, on this date (in `tz`, default UTC)."""
    day = when.astimezone(tz or UTC).date().isoformat() if when is not None else "an unknown date"
    return f"unsubscribed on {day}; must subscribe themselves"


def starts_a_formula(cell: str) -> bool:
    """Whether a spreadsheet might run `cell` as a formula (see FORMULA_START)."""
    if cell.startswith(FORMULA_START):
        return True
    if not cell or " " < cell[0] < "\x7f":  # visible ASCII, not a formula's start: the common case
        return False
    shown = cell.lstrip("".join(ch for ch in cell[:64] if _invisible(ch)))
    return unicodedata.normalize("NFKC", shown[:1]).startswith(FORMULA_START)


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def unescape(cell: str) -> str:
    """Undo `neutralise` (bot.subscriber_csv.exporting), so an exported list imports unchanged."""
    if len(cell) > 1 and cell[0] == "'" and starts_a_formula(cell[1:]):
        return cell[1:]
    return cell
