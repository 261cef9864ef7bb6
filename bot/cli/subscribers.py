"""`baerekraft-bot subscribers import|export`: the list as CSV."""

from __future__ import annotations

import typer

app = typer.Typer(help="Subscribers: import and export as CSV.", no_args_is_help=True)
