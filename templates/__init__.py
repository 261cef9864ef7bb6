"""The core's templates: `<language>/replies/` (answers to commands), `<language>/messages/` (what the
delivery engine sends on every channel) and `<language>/_macros.txt`. Each channel keeps its own
under `handlers/<channel>/templates/`. A package only so the files ship in the wheel."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
