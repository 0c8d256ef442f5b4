"""The command line: a thin Typer layer over :mod:`imgloss.run` and :mod:`imgloss.gate`.

:mod:`.app` registers the commands; :mod:`.options` declares every option once;
:mod:`.compare`, :mod:`.check` and :mod:`.weights` hold the commands; :mod:`.console`
prints the one-line errors and progress. Imports no torch.

:func:`main` (the console script) starts importing torch on a background thread before
Typer loads when the command will score (compare, score, check): the two imports overlap,
which saves a few hundred milliseconds of a one-pair run. ``--help`` never loads torch.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

#: Commands that always need torch.
_SCORING = ("compare", "score", "check")


def _import_torch() -> None:
    try:
        import torch  # noqa: F401
    except Exception:  # the main thread's own import reports it
        pass


def warm_up(argv: list[str]) -> bool:
    """Start importing torch in the background when ``argv`` runs a scoring command."""
    if len(argv) < 2 or argv[1] not in _SCORING or any(a in ("-h", "--help") for a in argv[2:]):
        return False
    threading.Thread(target=_import_torch, name="imgloss-import-torch", daemon=True).start()
    return True


def main() -> None:
    """Console-script entry point."""
    warm_up(sys.argv)
    from imgloss.cli.app import main as run_app

    run_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from imgloss.cli.app import app

        globals()["app"] = app  # importing the submodule bound its name to the module
        return app
    raise AttributeError(f"module 'imgloss.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
