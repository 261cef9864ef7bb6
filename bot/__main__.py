"""`python -m bot` does what the `baerekraft-bot` console script does."""

from bot.cli import main

main()
