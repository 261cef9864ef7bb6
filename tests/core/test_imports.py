"""Every module of the bot imports. Many are loaded only when first needed (a channel that is not
configured, Typer for anything but a plain `run`, a library where it is used), so a broken import
would otherwise show first in production."""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_names() -> list[str]:
    """The dotted names of bot/, handlers/ and jobs/, without Alembic's scripts (run by Alembic, not
    imported) and `bot/__main__.py` (it runs the command line)."""
    names = []
    for package in ("bot", "handlers", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts or parts[-1] == "__main__":
                continue
            names.append(".".join(parts).removesuffix(".__init__"))
    return names


def test_every_module_imports() -> None:
    names = module_names()
    assert {"bot.entry.cli.launch", "handlers.microsoft365.login_store", "jobs.deliveries"} <= set(names)
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # all of them listed, not only the first
            failed[name] = f"{type(exc).__name__}: {exc}"
    assert failed == {}
