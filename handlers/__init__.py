"""Incoming channels: each module translates its platform's input into neutral commands and back.

A channel is one module here. The runtime discovers them: a module may define
`routes(app) -> Sequence[BaseRoute]` (HTTP routes on the shared server), `senders(app) ->
Sequence[Sender]` (its outgoing side, driven by the delivery engine), `work(app) -> Mapping[str,
Work]` (what the inbox worker does with the requests the channel acked and recorded in `app.inbox`)
and/or `start(app) -> Stoppable | None` (background work such as Socket Mode or polling). Adding a
channel changes nothing in `bot/`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


def channel_modules() -> list[ModuleType]:
    """Every handler module, in name order (the console is driven separately, by the CLI)."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "console")
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
