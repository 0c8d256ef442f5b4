"""Typer parameters made from the one declaration of each option (:mod:`imgloss.options`).

:func:`takes` gives a command function the signature Typer reads: its own leading
parameters (context, arguments) followed by the declared options. :func:`settings`
turns what Typer passed into typed, checked values, with ``[tool.imgloss]`` filling the
options left at their default. Values are converted by the declarations, never read
back from ``ctx.params``, so any Typer/Click version gives the same types.
"""
from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, List, Optional, TypeVar, get_type_hints

import typer

from imgloss.options import OPTIONS, PANELS, Option, resolve

F = TypeVar("F", bound=Callable[..., Any])


def _parameter(option: Option) -> inspect.Parameter:
    """The Typer parameter of ``option``: annotation, flags, help, panel."""
    kind: Any = List[option.kind] if option.many else option.kind  # type: ignore[name-defined]
    if option.default is None:
        kind = Optional[kind]
    flags = option.flags or (option.flag,)
    if option.negatable:
        flags = (f"{option.flag}/--no-{option.flag[2:]}",)
    info = typer.Option(
        *flags,
        help=option.help.replace("[", "\\["),  # rich markup would eat "[tool.imgloss]"
        rich_help_panel=option.panel,
        metavar=_metavar(option),
        show_default=option.default is not None and not option.many,
    )
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default,
                             annotation=Annotated[kind, info])


def _metavar(option: Option) -> str | None:
    """What ``--help`` shows after the flag: the choices (``fixed|auto``), the declared
    placeholder (``FILE``), or nothing for a flag (never Typer's ``<bool>``)."""
    if option.choices:
        return "|".join(option.choices)
    if option.kind is bool:
        return ""
    return option.metavar


def takes(names: tuple[str, ...]) -> Callable[[F], F]:
    """Give the decorated command the declared options ``names`` after its own parameters,
    grouped by help panel; it receives them as keyword arguments (``**options``)."""

    def decorate(function: F) -> F:
        hints = get_type_hints(function, include_extras=True)  # Typer reads a __signature__ as is
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(function).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        declared = sorted((OPTIONS[name] for name in names), key=lambda option: PANELS.index(option.panel))
        function.__signature__ = inspect.Signature([*own, *map(_parameter, declared)])  # type: ignore[attr-defined]
        return function

    return decorate


def given(ctx: typer.Context, options: dict[str, Any]) -> dict[str, Any]:
    """The options the user set on the command line (not left at their default)."""
    out = {}
    for name, value in options.items():
        source = ctx.get_parameter_source(name)
        if source is None or source.name not in ("DEFAULT", "DEFAULT_MAP"):
            out[name] = value
    return out


def option_values(ctx: typer.Context, options: dict[str, Any], configured: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every option the command takes, typed and checked: command line, then config, then default."""
    return resolve(given(ctx, options), configured or {}, options)
