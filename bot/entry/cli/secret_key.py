"""The key that signs links in mails (unsubscribe, confirm) when SECRET_KEY is not set.

A service must have SECRET_KEY: a key made at start would change with every restart (links in mails
already sent would stop working) and differ between processes. Console mode, for trying the bot
out, keeps a key of its own in a file in the working directory instead, readable by its owner only,
so its links too survive a restart.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

from bot.entry.settings import BotSettings

KEY_FILE = ".baerekraft-secret-key"
MIN_LENGTH = 16


def kept_key(path: Path) -> str:
    """The key in `path`, made (and written, mode 0600) when there is none yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < MIN_LENGTH:
            raise ValueError(f"{path}: the key must be at least {MIN_LENGTH} characters") from None
        return key
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    return key


def for_console(settings: BotSettings) -> BotSettings:
    """The settings with SECRET_KEY, or else with the key kept in KEY_FILE."""
    if not settings.secret_key_is_temporary:
        return settings
    return replace(settings, secret_key=kept_key(Path(KEY_FILE)), secret_key_is_temporary=False)
