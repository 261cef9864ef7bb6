"""`baerekraft-bot run --no-console` as a real process, for the tests that start one (marker `slow`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO


def start_bot(cwd: Path, env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen[str]:
    """The bot as a service manager starts it, in `cwd` with `env`: no input, its output ignored,
    its log (standard error) added to the file `log`, or kept for `communicate` when None."""
    with ExitStack() as opened:  # the process has a copy of its own of the log file
        stderr: int | IO[str] = subprocess.PIPE if log is None else opened.enter_context(log.open("a"))
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--no-console"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
