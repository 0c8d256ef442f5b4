"""``imgloss demo``: the sample photographs that ship inside the package, compared.

Copies ``reference/`` and ``distorted/`` (real photographs and one distortion each,
see ``imgloss/samples/LICENSE.md``) into a folder, runs ``imgloss compare`` on them
and prints the commands to try next, so the README walkthrough works right after
``pip install imgloss``. ``distorted/extra.png`` has no reference on purpose (an
unmatched file); that alone does not make the demo fail. No torch at import.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from imgloss.cli.console import error_line, expected_failures

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
#: What the demo scores: quick metrics that need no weights.
DEMO_METRICS = "ssim,psnr,charbonnier"


def copy_samples(folder: Path) -> tuple[Path, Path]:
    """Copy the sample ``reference/`` and ``distorted/`` folders into ``folder``."""
    for side in ("reference", "distorted"):
        shutil.copytree(SAMPLES / side, folder / side, dirs_exist_ok=True)
    return folder / "reference", folder / "distorted"


def demo(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="Where to put the sample images.", show_default=True)]
    = Path("imgloss-demo"),
) -> None:
    """Copy the bundled sample photographs into FOLDER and compare them."""
    from imgloss.cli.commands import app
    from imgloss.errors import InputError

    with expected_failures():
        try:
            reference, distorted = copy_samples(folder)
        except OSError as exc:
            raise InputError(folder, f"cannot copy the sample images ({exc})") from None
    error_line(f"sample images copied to {reference} and {distorted}", "info")
    code = app(["compare", str(reference), str(distorted), "-m", DEMO_METRICS], standalone_mode=False)
    typer.echo(
        "\nNext:\n"
        f"  imgloss check {reference} {distorted} --min ssim=0.9 --diff-dir {folder}/diffs -f json -o {folder}/results.json\n"
        f"  imgloss report {folder}/results.json -o {folder}/report.html"
    )
    raise typer.Exit(0 if code in (0, InputError.exit_code) else code)
