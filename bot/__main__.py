"""`python -m bot` does what the `baerekraft-bot` console script does."""

from bot.entry.cli import main

main()
