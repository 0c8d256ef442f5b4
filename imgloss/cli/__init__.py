"""The command line: a thin Typer layer over :mod:`imgloss.run` and :mod:`imgloss.gate`.

:mod:`.app` registers the commands; :mod:`.options` declares every option once;
:mod:`.compare`, :mod:`.check` and :mod:`.weights` hold the commands; :mod:`.console`
prints the one-line errors and progress. Imports no torch.
"""
from imgloss.cli.app import app, main

__all__ = ["app", "main"]
