"""`sagactl dlq ...`: dead letters and parked events (filled in by the reliability work)."""

import typer

app = typer.Typer(no_args_is_help=True)
