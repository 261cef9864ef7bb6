"""The house rules, read from the code: the core imports no channel, job or entry point and no Slack
or Microsoft library; a channel imports no entry point, no job and no other channel; jobs import no
channel and no entry point; every channel is a declared `Channel`, listed once in the registry."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import handlers
from bot.channel import Channel, checked
from bot.entry.channels import CHANNEL_PACKAGES, channel_types

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_LIBRARIES = ("slack_sdk", "slack_bolt", "msal")


def modules(folder: str) -> Iterator[tuple[str, set[str]]]:
    """Each module under `folder` (as a dotted name) with every module it imports, relative imports
    resolved."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}".rstrip(".")
                imported.add(base)
                imported.update(f"{base}.{alias.name}" for alias in node.names)
        yield name, imported


def reaching(imported: set[str], *prefixes: str) -> list[str]:
    return sorted(i for i in imported if any(i == p or i.startswith(f"{p}.") for p in prefixes))


def core_modules() -> Iterator[tuple[str, set[str]]]:
    for name, imported in modules("bot"):
        if not (name.startswith("bot.entry") or name == "bot.__main__"):
            yield name, imported


def test_the_scan_sees_imports() -> None:
    """The rules below can fail: the entry points do import channels and jobs, as they should."""
    entry = dict(modules("bot"))
    assert reaching(entry["bot.entry.channels"], "handlers")
    assert reaching(entry["bot.entry.runtime"], "jobs")
    assert "bot.core.Core" in dict(modules("handlers"))["handlers.slack.channel"]


def test_the_core_imports_no_channel_job_entry_point_or_platform_library() -> None:
    broken = {
        name: reaching(imported, "handlers", "jobs", "bot.entry", *PLATFORM_LIBRARIES)
        for name, imported in core_modules()
    }
    assert {name: found for name, found in broken.items() if found} == {}


def test_a_channel_imports_no_entry_point_job_or_other_channel() -> None:
    broken = {}
    for name, imported in modules("handlers"):
        own = ".".join(name.split(".")[:2])
        others = [f"handlers.{c}" for c in channel_packages() if f"handlers.{c}" != own]
        found = reaching(imported, "bot.entry", "jobs", *others)
        if found:
            broken[name] = found
    assert broken == {}


def test_jobs_import_no_channel_or_entry_point() -> None:
    broken = {name: reaching(imported, "handlers", "bot.entry") for name, imported in modules("jobs")}
    assert {name: found for name, found in broken.items() if found} == {}


def test_only_the_channels_import_the_platform_libraries() -> None:
    outside = {
        name: reaching(imported, *PLATFORM_LIBRARIES)
        for folder in ("bot", "jobs")
        for name, imported in modules(folder)
    }
    assert {name: found for name, found in outside.items() if found} == {}


def channel_packages() -> list[str]:
    return sorted(p.name for p in Path(handlers.__path__[0]).iterdir() if (p / "__init__.py").is_file())


def test_every_channel_package_has_one_declared_channel_in_the_registry() -> None:
    kinds = channel_types()
    declared = {kind.__module__.split(".")[1]: kind for kind in kinds}
    assert sorted(declared) == channel_packages()
    assert [package.__name__ for package in CHANNEL_PACKAGES] == [f"handlers.{p}" for p in declared]
    for package, kind in zip(CHANNEL_PACKAGES, kinds, strict=True):
        assert issubclass(kind, Channel) and not inspect.isabstract(kind)
        assert kind.__module__ == f"{package.__name__}.channel"
        # What the registry knows without importing the channel is what the channel says.
        assert (kind.name, kind.templates) == (package.NAME, package.TEMPLATES)
        # Each says what it keeps of a person beyond the core's tables (None: nothing).
        assert package.ERASE is None or callable(package.ERASE)
        if kind.templates is not None:
            assert kind.templates == ROOT / "handlers" / package.NAME / "templates"
            assert kind.templates.is_dir()
    assert len({kind.name for kind in kinds}) == len(kinds)


def test_a_command_without_chat_channels_loads_no_platform_library() -> None:
    """`subscribers export` and the like start without Bolt or msal (they cost a third of a second)."""
    code = (
        "import sys, bot.entry.cli, bot.entry.composition; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk', 'msal')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_the_start_up_check_refuses_what_is_not_a_channel() -> None:
    class Quacks:  # has the methods, is not declared
        name = "duck"

        def routes(self) -> list[object]:
            return []

    with pytest.raises(TypeError, match=r"is not a bot\.channel\.Channel"):
        checked([Quacks()])
