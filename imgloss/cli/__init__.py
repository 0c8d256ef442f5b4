"""The command line: a thin Typer layer over :mod:`imgloss.run` and :mod:`imgloss.gate`.

:mod:`.commands` registers the commands; :mod:`.options` declares every option once;
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


class _Unavailable:
    """Stands in for a rich class Typer imports but this CLI never uses (Markdown help,
    pretty tracebacks: both off); instantiating it is a bug, said loudly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("imgloss loaded Typer's help without rich.markdown / rich.traceback")


def light_help(argv: list[str]) -> bool:
    """For ``--help`` (and no arguments), load Typer's help formatter without
    ``rich.markdown`` and ``rich.traceback`` (markdown-it, pygments: a third of the help's
    time); both are off in this CLI. The stand-ins leave ``sys.modules`` right after, so
    any later import gets the real modules."""
    if len(argv) > 1 and not any(a in ("-h", "--help") for a in argv[1:]):
        return False
    import types

    stubs = {}
    for name, attr in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        if name not in sys.modules:
            stubs[name] = types.ModuleType(name)
            setattr(stubs[name], attr, _Unavailable)
    sys.modules.update(stubs)
    try:
        import typer.rich_utils  # noqa: F401
    finally:
        for name in stubs:
            del sys.modules[name]
    return True


def main() -> None:
    """Console-script entry point. SIGINT/SIGTERM are handled from the first line: a
    stop while the CLI itself loads ends with the same one line and exit code as later."""
    from imgloss.signals import Stopped, install, stopped_message

    install()
    try:
        warm_up(sys.argv)
        light_help(sys.argv)
        from imgloss.cli.commands import main as run_app
    except Stopped as exc:
        message, code = stopped_message(exc)
        sys.stderr.write(f"imgloss: error: {message}\n")
        sys.exit(code)
    run_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from imgloss.cli.commands import app

        globals()["app"] = app  # importing the submodule bound its name to the module
        return app
    raise AttributeError(f"module 'imgloss.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
