"""`baerekraft-bot subscribers import|export` through the real command line, on every test backend."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner, Result

from bot.bounce_source import ReturnedMail
from bot.commands import Actor
from bot.entry.cli import app as cli
from bot.entry.composition import App
from bot.models import Person, Series, Subscription
from bot.services import subscriptions
from bot.services.context import Ctx
from bot.services.privacy import erase
from bot.services.series import create_series, resolve_series
from jobs.bounces import record
from tests.fakes.bounce_mail import relay_dsn

# The installed console script, next to the interpreter running the tests (/work/main/.venv/bin).
BIN = Path(sys.executable).with_name("baerekraft-bot")
SECRET = "test-secret-key-0123456789"  # the `settings` fixture's key, so hashes match


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """The command's environment: the test database, and no `.env` from the working directory."""
    monkeypatch.chdir(tmp_path)
    return {"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING"}


def invoke(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, ["subscribers", *args], env=env)


def flat(text: str) -> str:
    """`text` with its line breaks and runs of spaces made single spaces (Rich wraps stderr)."""
    return " ".join(text.split())


def write(tmp_path: Path, data: str | bytes, name: str = "list.csv") -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def as_console(app: App, email: str, fn: Callable[[Ctx, Series], object]) -> None:
    """Run `fn(ctx, series)` as `email` in the console, on the default series, committed."""
    with app.db.transaction() as s:
        ctx = Ctx(s, Actor("console", email, email=email), app.clock.now(), app.config)
        fn(ctx, resolve_series(ctx, "baerekraftsfredag"))


def active_emails(app: App) -> set[str | None]:
    with app.db.read() as s:
        return set(
            s.scalars(select(Person.email).join(Subscription.person).where(Subscription.active.is_(True)))
        )


# --- import -------------------------------------------------------------------------------------


def test_import_reads_excel_csv_and_reports(app: App, env: dict[str, str | None], tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffNavn;Name;E-mail;Email;Language\r\nx;Kari Ærlig;;kari@x.no;nb\r\nx;Ola;;ola@x.no;\r\n",
    )
    result = invoke(env, "import", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Imported into baerekraftsfredag (read as UTF-8 with BOM): 2 created, 0 unchanged (already"
        " subscribed), 0 merged (same address as an earlier row), 0 skipped, 0 rejected."
    )
    assert active_emails(app) == {"kari@x.no", "ola@x.no"}

    again = invoke(env, "import", path)
    assert again.exit_code == 0
    assert "0 created, 2 unchanged" in again.stdout


def test_invalid_rows_are_listed_with_line_numbers_and_nothing_is_imported(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    path = write(tmp_path, "email,name,language\nok@x.no,Ok,nb\nbroken,B,nb\nOK@x.no,Again,en\n")
    result = invoke(env, "import", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 3: rejected: invalid e-mail address",
        "line 4: merged: same address as line 2; line 2 counts",
        "Nothing imported: 1 invalid row(s). Fix them, or use --skip-invalid to import the valid rows.",
    ]
    assert active_emails(app) == set()


def test_skip_invalid_imports_the_rest_and_lists_rejected_and_skipped_rows(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    as_console(app, "left@x.no", subscriptions.subscribe)
    as_console(app, "left@x.no", subscriptions.unsubscribe)
    path = write(tmp_path, "email,name,language\nleft@x.no,L,nb\nbroken,B,nb\nnew@x.no,N,en\n")
    result = invoke(env, "import", path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "line 2: skipped: unsubscribed on 2026-03-04; must subscribe themselves"
    assert lines[1] == "line 3: rejected: invalid e-mail address"
    assert "1 created, 0 unchanged (already subscribed), 0 merged" in lines[2]
    assert "1 skipped, 1 rejected" in lines[2]
    assert active_emails(app) == {"new@x.no"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Cannot read"),
        (b"mail,navn\nola@x.no,Ola\n", "must be a header with the columns email, name, language"),
        (b"email,name,language\nola@x.no,\x8fse,nb\n", "line 2: neither UTF-8 nor Windows-1252"),
        (b"", "empty"),
    ],
)
def test_unusable_files_exit_2_with_a_message_and_no_traceback(
    app: App, env: dict[str, str | None], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    result = invoke(env, "import", path)
    assert result.exit_code == 2
    assert message in flat(result.stderr)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert active_emails(app) == set()


def test_series_is_asked_for_when_there_are_several(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    with app.db.transaction() as s:
        ctx = Ctx(s, Actor("cli", "tester", is_operator=True), app.clock.now(), app.config)
        create_series(ctx, "verdensmaal", "Verdensmål", "nb", "Europe/Oslo")
    path = write(tmp_path, "email,name,language\nola@x.no,Ola,nb\n")
    asked = invoke(env, "import", path)
    assert asked.exit_code == 1
    assert "baerekraftsfredag" in asked.stderr and "verdensmaal" in asked.stderr
    assert active_emails(app) == set()

    unknown = invoke(env, "import", path, "--series", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.stderr

    done = invoke(env, "import", path, "--series", "verdensmaal")
    assert done.exit_code == 0 and "Imported into verdensmaal (read as UTF-8): 1 created" in done.stdout


def test_import_refuses_without_secret_key_when_erased_people_exist(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    as_console(app, "gone@x.no", subscriptions.subscribe)
    with app.db.transaction() as s:
        erase(Ctx(s, Actor("console", "gone@x.no", email="gone@x.no"), app.clock.now(), app.config))
    path = write(tmp_path, "email,name,language\ngone@x.no,Gone,nb\n")
    refused = invoke({**env, "SECRET_KEY": None}, "import", path)
    assert refused.exit_code == 2 and "SECRET_KEY is not set" in flat(refused.stderr)
    skipped = invoke(env, "import", path)
    assert skipped.exit_code == 0
    assert "line 2: skipped: unsubscribed on 2026-03-04" in skipped.stdout
    assert active_emails(app) == set()


# --- export -------------------------------------------------------------------------------------


def test_export_writes_only_csv_to_stdout(app: App, env: dict[str, str | None], tmp_path: Path) -> None:
    invoke(env, "import", write(tmp_path, "email,name,language\nola@x.no,=1+2,nb\nkari@x.no,Kari,en\n"))
    as_console(app, "kari@x.no", subscriptions.unsubscribe)
    result = invoke(env, "export")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert rows[0] == ["email", "name", "language", "channels", "subscribed_at", "source_channel", "series"]
    assert [r[:3] + r[5:] for r in rows[1:]] == [["ola@x.no", "'=1+2", "nb", "import", "baerekraftsfredag"]]
    assert "1 rows exported" in result.stderr

    full = invoke(env, "export", "--include-unsubscribed", "--series", "baerekraftsfredag")
    records = list(csv.DictReader(io.StringIO(full.stdout, newline="")))
    assert [(r["email"], r["unsubscribed_at"] != "") for r in records] == [
        ("ola@x.no", False),
        ("kari@x.no", True),
    ]


def test_exported_file_imports_into_an_empty_list(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    invoke(env, "import", write(tmp_path, "email,name,language\nola@x.no,Ola,nb\nkari@x.no,Kari,en\n"))
    exported = invoke(env, "export").stdout
    with app.db.transaction() as s:
        s.execute(delete(Subscription))
    result = invoke(env, "import", write(tmp_path, exported, "exported.csv"))
    assert result.exit_code == 0, result.output
    assert "Imported into baerekraftsfredag (read as UTF-8): 2 created, 0 unchanged" in result.stdout
    assert active_emails(app) == {"ola@x.no", "kari@x.no"}


@pytest.mark.slow  # a real process
def test_export_in_a_real_process_reads_back_as_csv(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    invoke(
        env, "import", write(tmp_path, 'email,name,language\nola@x.no,"Nordmann, Ola",nb\nper@x.no,Per,\n')
    )
    proc = subprocess.run(
        [str(BIN), "subscribers", "export"],
        env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout, newline="")))
    assert [(r["email"], r["name"], r["language"], r["channels"], r["series"]) for r in rows] == [
        ("ola@x.no", "Nordmann, Ola", "nb", "email", "baerekraftsfredag"),
        ("per@x.no", "Per", "", "email", "baerekraftsfredag"),
    ]
    assert all(r["subscribed_at"].endswith("Z") and r["source_channel"] == "import" for r in rows)
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Subscription)) == 2


def test_export_loads_neither_channels_nor_what_only_other_commands_use(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    """`subscribers export` of 100,000 rows must take < 2 s with its start-up (issue 20): it reads the
    database and writes CSV, so it imports no web server, scheduler, templates, chat library,
    calendar, address checker, holiday table or Alembic (the schema is at its head)."""
    invoke(env, "import", write(tmp_path, "email,name,language\nola@x.no,Ola,nb\n"))
    heavy = ["starlette", "uvicorn", "apscheduler", "jinja2", "slack_bolt", "slack_sdk", "msal"]
    heavy += ["icalendar", "email_validator", "holidays", "alembic", "prometheus_client"]
    code = (
        "import atexit, sys\n"
        f"heavy = {heavy!r}\n"
        "tops = lambda: {m.split('.')[0] for m in sys.modules}\n"
        "atexit.register(lambda: print('loaded:', sorted(tops() & set(heavy)), file=sys.stderr))\n"
        "sys.argv = ['baerekraft-bot', 'subscribers', 'export']\n"
        "from bot.entry.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].startswith("ola@x.no,Ola,nb,email,")
    assert "loaded: []" in proc.stderr


def cli_process(
    env: dict[str, str | None], cwd: Path, *args: str, typer_only: bool = False
) -> subprocess.CompletedProcess[str]:
    """`baerekraft-bot ARGS` as a process (`typer_only`: through the Typer app, whatever the arguments),
    saying on its last line of standard error whether it loaded Typer, pydantic or rich."""
    start = (
        "from bot.entry.cli.typer_app import app as main\n"
        if typer_only
        else "from bot.entry.cli import main\n"
    )
    code = (
        "import atexit, sys\n"
        "watched = ('typer', 'pydantic', 'rich')\n"
        "loaded = lambda: sorted(set(watched) & set(sys.modules))\n"
        "atexit.register(lambda: print('loaded:', loaded(), file=sys.stderr))\n"
        "sys.argv = ['baerekraft-bot', *sys.argv[1:]]\n" + start + "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--excel",),
        ("--include-unsubscribed", "--series", "baerekraftsfredag"),
        ("--series=baerekraftsfredag", "--excel", "--include-unsubscribed"),
    ],
)
def test_export_starts_without_typer_and_writes_what_typer_does(
    app: App, env: dict[str, str | None], tmp_path: Path, args: tuple[str, ...]
) -> None:
    invoke(env, "import", write(tmp_path, 'email,name,language\nola@x.no,"Nordmann, Ola",nb\n'))
    plain = cli_process(env, tmp_path, "subscribers", "export", *args)
    typer = cli_process(env, tmp_path, "subscribers", "export", *args, typer_only=True)
    assert plain.returncode == typer.returncode == 0, plain.stderr + typer.stderr
    assert plain.stderr.splitlines()[-1] == "loaded: []"
    assert plain.stdout == typer.stdout and "ola@x.no" in plain.stdout
    assert plain.stderr.splitlines()[:-1] == typer.stderr.splitlines()[:-1] == ["1 rows exported."]


@pytest.mark.parametrize(
    "args",
    [
        ("--series", "nowhere"),  # refused by the bot
        ("--help",),
        ("--series",),
        ("--series", "--excel"),
        ("--excel", "--excel"),
        ("--format", "json"),
        ("extra",),
    ],
)
def test_export_help_and_errors_are_typers(
    app: App, env: dict[str, str | None], tmp_path: Path, args: tuple[str, ...]
) -> None:
    plain = cli_process(env, tmp_path, "subscribers", "export", *args)
    typer = cli_process(env, tmp_path, "subscribers", "export", *args, typer_only=True)
    said = plain.stderr.splitlines()[:-1]  # the last line says what the process loaded
    assert (plain.returncode, plain.stdout, said) == (
        typer.returncode,
        typer.stdout,
        typer.stderr.splitlines()[:-1],
    )


def test_a_norwegian_office_list_imports_in_cp1252_with_its_own_headers(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    text = (
        "E-post;Navn;Språk\r\n"
        "aase@kommune.no;Åse Ærlig;norsk\r\n"
        "ole@kommune.no;Ole Øye;Engelsk\r\n"
        "AASE@Kommune.no;Åse igjen;en\r\n"
    )
    path = write(tmp_path, text.encode("cp1252"))
    result = invoke(env, "import", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "line 4: merged: same address as line 2; line 2 counts",
        "Imported into baerekraftsfredag (read as Windows-1252): 2 created, 0 unchanged (already"
        " subscribed), 1 merged (same address as an earlier row), 0 skipped, 0 rejected.",
    ]
    assert active_emails(app) == {"aase@kommune.no", "ole@kommune.no"}
    with app.db.read() as s:
        people = {p.email: (p.name, p.language) for p in s.scalars(select(Person))}
    assert people == {"aase@kommune.no": ("Åse Ærlig", "nb"), "ole@kommune.no": ("Ole Øye", "en")}


@pytest.mark.parametrize(
    "header",
    ["Namn,E-post,Mål", "Navn;E-mail;Sprog", "E-mail address,Full name,Language", "EPOST;NAVN;SPRÅK"],
)
def test_headers_in_nynorsk_danish_and_english_are_understood(
    app: App, env: dict[str, str | None], tmp_path: Path, header: str
) -> None:
    delimiter = ";" if ";" in header else ","
    names = [column.strip().lower() for column in header.split(delimiter)]
    cells = {"namn": "Kari", "navn": "Kari", "full name": "Kari"}
    row = [cells.get(name, "kari@x.dk" if "mail" in name or "post" in name else "nb") for name in names]
    path = write(tmp_path, f"{header}\n{delimiter.join(row)}\n")
    result = invoke(env, "import", path)
    assert result.exit_code == 0, result.output
    with app.db.read() as s:
        kari = s.scalars(select(Person)).one()
    assert (kari.email, kari.name, kari.language) == ("kari@x.dk", "Kari", "nb")


def test_export_for_excel_is_semicolon_separated_utf8_with_bom_and_imports_again(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    path = write(tmp_path, 'email,name,language\naase@x.no,"Ærlig; Åse",nb\nola@x.no,Ola,en\n')
    assert invoke(env, "import", path).exit_code == 0
    result = CliRunner().invoke(cli, ["subscribers", "export", "--excel"], env=env)
    assert result.exit_code == 0, result.output
    data = result.stdout_bytes
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "email;name;language;channels;subscribed_at;source_channel;series"
    assert lines[1].startswith('aase@x.no;"Ærlig; Åse";nb;')
    with app.db.transaction() as s:
        s.execute(delete(Subscription))
    again = invoke(env, "import", write(tmp_path, data, "again.csv"))
    assert again.exit_code == 0 and "2 created" in again.stdout


# --- list ---------------------------------------------------------------------------------------


def test_list_shows_whose_mail_is_suspended_and_series_show_counts_them(
    app: App, env: dict[str, str | None]
) -> None:
    for email in ("kari@x.no", "ola@gammel.example"):
        as_console(app, email, lambda ctx, series: subscriptions.subscribe(ctx, series))
    for n in range(3):
        report = relay_dsn(
            b"Message-ID: <m@x>\r\n\r\n",
            "ola@gammel.example",
            sender="b@x.no",
            when=app.clock.now(),
            relay="r",
        )
        record(app, "test", ReturnedMail(f"r{n}", report))
    listed = invoke(env, "list", "--json")
    assert listed.exit_code == 0, listed.output
    states = {row["email"]: row["state"] for row in json.loads(listed.stdout)}
    assert states == {"kari@x.no": "ok", "ola@gammel.example": "mail suspended"}
    table = invoke({**env, "COLUMNS": "200"}, "list", "--suspended")
    assert "ola@gammel.example" in table.stdout and "kari@x.no" not in table.stdout
    assert "mail suspended since" in flat(table.stdout)
    shown = CliRunner().invoke(cli, ["series", "show", "baerekraftsfredag"], env=env)
    assert "mail_suspended: 1" in shown.stdout
