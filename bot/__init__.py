"""Bærekraftsfredag bot: the core (settings, storage, command language, services, rendering, CLI)."""

__version__ = "0.1.0"
