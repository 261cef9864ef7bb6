"""Subscriber lists as CSV: import a list into a series, export the lists.

Import rules:
- The file needs a header naming `email`, `name` and `language` (any order and case, or as an office
  writes them in nb, nn, da or en: `E-post`, `Navn`, `Namn`, `Språk`, `Sprog`...; other columns are
  ignored). UTF-8 with or without a byte order mark, else Windows-1252 (Excel's "CSV"); `,` or `;`
  between fields (Norwegian Excel writes `;`). Rows whose cells are all empty are ignored.
- A row whose address an earlier row has (in any case) is merged into it: the first row counts, and
  the report lists the merged ones; that is no error.
- Every row is validated before anything is written. Any invalid row stops the whole import unless
  `skip_invalid` is set, in which case the valid rows are imported and the invalid ones reported.
- An import never overrides an unsubscribe: people with an inactive subscription to the series,
  people whose address matches an erased person's keyed hash, and rows that carry an
  `unsubscribed_at` (as `export --include-unsubscribed` writes) are skipped. They must subscribe
  themselves. An import never reactivates anything.
- Existing people are matched by normalised e-mail; their name and language are only filled when
  empty, never overwritten.
- New subscriptions go through `services.subscriptions.create_subscriptions` (source channel
  "import", one audit event each, ids only) and the import ends with one `subscribers.imported`
  event holding the counts. Everything happens in the caller's transaction, so a failure part-way
  leaves nothing behind.

Export writes one row per subscription, neutralising cells a spreadsheet would run as a formula.

Modules: `rows` (decoding, parsing, validating; the row and report types), `importing` (the import
into the database) and `exporting` (the export). Import from this package, not from the modules.
"""

from __future__ import annotations

from bot.subscriber_csv.exporting import (
    EXPORT_COLUMNS,
    EXPORT_FETCH,
    export_subscribers,
    iso_utc,
    neutralise,
)
from bot.subscriber_csv.importing import (
    BATCH,
    IMPORT_CHANNEL,
    IMPORTED_ACTION,
    IN_CHUNK,
    ProgressHook,
    has_erased_people,
    import_rows,
    import_subscribers,
)
from bot.subscriber_csv.rows import (
    FORMULA_START,
    MAX_NAME,
    REQUIRED_COLUMNS,
    UNSUBSCRIBED_COLUMN,
    Candidate,
    CsvFormatError,
    CsvRow,
    ImportReport,
    RowIssue,
    decode,
    left_reason,
    parse_csv,
    read_text,
    unescape,
    validate,
)

__all__ = [
    "BATCH",
    "EXPORT_COLUMNS",
    "EXPORT_FETCH",
    "FORMULA_START",
    "IMPORTED_ACTION",
    "IMPORT_CHANNEL",
    "IN_CHUNK",
    "MAX_NAME",
    "REQUIRED_COLUMNS",
    "UNSUBSCRIBED_COLUMN",
    "Candidate",
    "CsvFormatError",
    "CsvRow",
    "ImportReport",
    "ProgressHook",
    "RowIssue",
    "decode",
    "export_subscribers",
    "has_erased_people",
    "import_rows",
    "import_subscribers",
    "iso_utc",
    "left_reason",
    "neutralise",
    "parse_csv",
    "read_text",
    "unescape",
    "validate",
]
