"""``imgloss weights``: see, fetch, import and verify the network weights (VGG, AlexNet, LPIPS layers; a Typer sub-app).

``status`` shows every place looked in and what is there; ``download`` is the only
command that touches the network; ``import`` verifies an offline file into the cache;
``verify`` resolves the file a run would use and checks it (exit 4 when missing or
refused). Expected failures print one ``imgloss: error: ...`` message on stderr and
exit with their code (4 for weights). No torch at module level: ``imgloss.weights.store``
imports it only to read a checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from imgloss.cli.console import expected_failures, stderr
from imgloss.cli.help import Command, Group
from imgloss.cli.options import option_values, takes
from imgloss.weights.checkpoint import BACKBONES

app = typer.Typer(
    name="weights",
    help="Where the VGG weights are, and how to provide them (download, import, verify).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=Group,
)

BACKBONE_CHOICES = BACKBONES
_NAMES = ", ".join(BACKBONES)

Backbone = Annotated[str, typer.Argument(metavar="BACKBONE", help=f"One of {_NAMES}.")]


def _check_backbone(value: str, choices: tuple[str, ...] = BACKBONE_CHOICES) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
    return value


def _size(size: int | None) -> str:
    return "" if size is None else f"{size / 2**20:,.1f} MiB"


def _unverified_note() -> None:
    from imgloss import weights as store

    if store.allow_unverified():
        stderr.print(
            f"[bold yellow]warning:[/] {store.ENV_ALLOW_UNVERIFIED}=1: files with a wrong hash are "
            "accepted when their keys and shapes are right (tests, finetunes only)."
        )


@app.command(cls=Command)
@takes(("weights",))
def status(
    ctx: typer.Context,
    backbone: Annotated[str, typer.Option(metavar="NAME", help=f"{_NAMES} or all.")] = "all",
    **options: Any,
) -> None:
    """Show each place looked in for the weights, what is there and whether it verifies."""
    from imgloss import weights as store

    weights = option_values(ctx, options)["weights"]

    _check_backbone(backbone, (*BACKBONE_CHOICES, "all"))
    from rich.table import Table

    table = Table(title="Weights (first file found is used)", title_justify="left")
    for column in ("backbone", "location", "file", "size", "status"):
        table.add_column(column, overflow="fold")
    with expected_failures():
        for name in BACKBONE_CHOICES if backbone == "all" else (backbone,):
            for finding in store.status(name, weights):
                if finding.ok is None:
                    state = "[dim]not found[/]"
                elif finding.ok:
                    colour = "green" if finding.verified else "yellow"
                    state = f"[{colour}]{finding.detail}[/]"
                else:
                    state = f"[red]refused: {finding.detail}[/]"
                if finding.used:
                    state += " [bold](used)[/]" if finding.ok else " [bold](found first: runs stop here)[/]"
                table.add_row(name, finding.source, str(finding.path), _size(finding.size), state)
    from imgloss.report.table import stdout_console

    stdout_console().print(table)
    _unverified_note()


@app.command(cls=Command)
def download(
    backbone: Backbone = "vgg19",
    url: Annotated[Optional[str], typer.Option(metavar="URL", help="Fetch from this URL (a mirror) instead of torchvision's.",
                                               show_default=False)] = None,
) -> None:
    """Fetch torchvision's official file, verify it and keep its features in the cache.

    The only network access imgloss ever makes.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from imgloss import weights as store

    _check_backbone(backbone)
    source = url or store.OFFICIAL[backbone].url
    with expected_failures(), Progress(
        f"{backbone}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=stderr, transient=True
    ) as bar:
        task = bar.add_task("download", total=None)
        stderr.print(f"downloading {source}")
        result = store.download(
            backbone, url=url, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    typer.echo(f"saved {result.backbone} features to {result.path} (SHA-256 {result.sha256})")
    _unverified_note()


@app.command("import", cls=Command)
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A torchvision VGG/AlexNet checkpoint (vgg19-dcbb9e9d.pth) or LPIPS linear layers (vgg.pth).",
                                         show_default=False)],
    backbone: Annotated[str, typer.Option(metavar="NAME", help=f"auto or one of {_NAMES} (auto: from the hash or the keys).")] = "auto",
) -> None:
    """Verify an offline weights file and copy its features into imgloss's cache."""
    from imgloss import weights as store

    _check_backbone(backbone, (*BACKBONE_CHOICES, "auto"))
    with expected_failures():
        result = store.import_file(file, backbone)
    state = "verified" if result.verified else "UNVERIFIED"
    typer.echo(f"imported {file} as {result.backbone} ({state}) into {result.path} (SHA-256 {result.sha256})")
    _unverified_note()


@app.command(cls=Command)
@takes(("weights",))
def verify(ctx: typer.Context, backbone: Backbone = "vgg19", **options: Any) -> None:
    """Check the file a run would use; exit 4 if it is missing or refused."""
    from imgloss import weights as store

    weights = option_values(ctx, options)["weights"]

    _check_backbone(backbone)
    with expected_failures():
        result = store.load(backbone, weights)
    state = "verified" if result.verified else "UNVERIFIED (hash not checked)"
    typer.echo(f"{backbone}: {result.path} {state}, SHA-256 {result.sha256}")
    _unverified_note()
