"""The command line: a thin Typer layer over :mod:`imgloss.run` and :mod:`imgloss.gate`.

:mod:`.commands` registers the commands; :mod:`.options` declares every option once;
:mod:`.compare`, :mod:`.check` and :mod:`.weights` hold the commands; :mod:`.console`
prints the one-line errors and progress. Imports no torch.

:func:`main` (the console script) installs the signal handlers first and loads a light
help formatter for ``--help``, which never loads torch. (Importing torch on a background
thread while Typer loads was tried: a signal during the two imports deadlocked.)
"""
from __future__ import annotations

import sys
from typing import Any

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
    from imgloss.signals import Stopped, check, install, stopped_message

    install()
    try:
        light_help(sys.argv)
        from imgloss.cli.commands import main as run_app

        check()
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
