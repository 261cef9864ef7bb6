"""What a scheduled job may use: the core's database, time and configuration, and the delivery
engine it wakes. The running bot (`bot.entry.composition.App`) is one."""

from __future__ import annotations

from typing import Protocol

from bot.clock import Clock
from bot.db import Database
from bot.delivery.engine import DeliveryEngine
from bot.error_policy import ErrorPolicy
from bot.services.context import CoreConfig


class JobContext(Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def config(self) -> CoreConfig: ...
    @property
    def errors(self) -> ErrorPolicy: ...

    delivery: DeliveryEngine
