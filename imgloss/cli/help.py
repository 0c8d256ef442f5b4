"""What ``--help`` shows in the type column: nothing for flags (no ``<bool>``, the help
option included), ``PATH`` for path arguments (``FILE`` or ``DIR`` when they take one
kind only; ``PATH...`` when repeated), nothing for other arguments (their name says it).

Every command and group of the app is built with :class:`Command` / :class:`Group`
(``app.command(cls=Command)``, ``typer.Typer(cls=Group)``); declared options get their
placeholder from :mod:`imgloss.cli.options`. Typer versions without a type column
(older than 0.17) ignore all this. Imports no torch.
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Any, get_args, get_origin

from typer.core import TyperArgument, TyperCommand, TyperGroup


def path_label(param: Any) -> str | None:
    """``PATH``, ``FILE`` or ``DIR`` (``...`` when repeated) for a path argument, else None."""
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if not (isinstance(annotation, type) and issubclass(annotation, PurePath)):
        return None
    return str(getattr(descriptor, "path_type", "path")).upper() + ("..." if param.nargs != 1 else "")


class _Argument(TyperArgument):
    """A Typer argument whose type column is :func:`path_label`."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return path_label(self)


class _PlainHelp:
    """Every parameter, as help lists it (:meth:`get_params`, which also holds the help
    option and Typer's completion flags): flags without a ``<bool>``, arguments as
    :class:`_Argument`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument  # the same object; only its help's type column differs
            elif getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_PlainHelp, TyperCommand):
    """A command of the app (see the module docstring)."""


class Group(_PlainHelp, TyperGroup):
    """A group of the app (see the module docstring)."""
