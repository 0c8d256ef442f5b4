"""Where VGG weights come from, whether they verify, and imgloss's own cache of them.

Resolution order for a backbone (``vgg19`` or ``vgg16``), first file found wins:

1. an explicit path (``--weights PATH``; a file, or a folder holding the file; it
   must be there, never skipped);
2. env ``IMGLOSS_WEIGHTS`` (a file, which must exist, or a folder);
3. the torch hub cache, where torchvision keeps downloads:
   ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth`` (``vgg16-397923af.pth``);
4. imgloss's cache (``$IMGLOSS_CACHE``, else ``$XDG_CACHE_HOME/imgloss``, else
   ``~/.cache/imgloss``): the compact ``vgg19-features.pt`` (``features.*`` only).

A file verifies when its SHA-256 is the official one of torchvision's
``IMAGENET1K_V1`` file (whose first 8 hex digits torchvision puts in the file name) or
the one recorded in the cache manifest (``manifest.json``) when imgloss verified the
source and wrote the file; and it must load with ``torch.load(weights_only=True)``
with torchvision's exact keys and shapes. A found file that fails is refused with its
reason; nothing found is one :class:`~imgloss.errors.WeightsError` naming every place
looked in and the three ways to provide the file. No random network is ever used.

``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS=1`` accepts a file whose hash differs but whose keys
and shapes are right (tests, custom finetunes); :func:`unverified_in_use` lists such
files so reports can warn. :func:`download` is the only network access imgloss makes.
Importing this module does not import torch; library code here never prints or exits.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from imgloss.weights.checkpoint import (
    CheckpointError,
    StateDict,
    check_layout,
    features_only,
    read_state_dict,
    sha256_file,
)
from imgloss.errors import WeightsError

ENV_WEIGHTS = "IMGLOSS_WEIGHTS"
ENV_CACHE = "IMGLOSS_CACHE"
ENV_ALLOW_UNVERIFIED = "IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS"
MANIFEST = "manifest.json"
#: Where a file came from, in resolution order (the env variable's name is the second;
#: a file an installed package ships is looked for instead of the torch hub cache).
FROM_ARGUMENT, FROM_HUB, FROM_PACKAGE, FROM_CACHE = "--weights", "torch hub cache", "installed package", "imgloss cache"


@dataclass(frozen=True)
class Official:
    """torchvision's published ``IMAGENET1K_V1`` checkpoint of one backbone.

    ``sha256`` is the full hash of the file at ``url`` (its first 8 hex digits are in
    ``filename``, which is what ``torch.hub`` checks); ``size`` is in bytes.
    """

    backbone: str
    filename: str
    sha256: str
    size: int
    #: What the file is, for messages: ``torchvision VGG19_Weights.IMAGENET1K_V1``.
    what: str = ""
    #: Where ``download`` fetches it; empty: torchvision's models server.
    download_url: str = ""
    #: The file's path inside an installed Python package that ships it (looked in
    #: instead of the torch hub cache), e.g. ``lpips/weights/v0.1/vgg.pth``.
    package_path: str = ""

    @property
    def url(self) -> str:
        return self.download_url or f"https://download.pytorch.org/models/{self.filename}"

    @property
    def compact_name(self) -> str:
        """imgloss's cached ``features.*``-only copy."""
        return f"{self.backbone}-features.pt"

    @property
    def title(self) -> str:
        return self.backbone.upper()


_LPIPS_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/"
OFFICIAL: dict[str, Official] = {
    "vgg19": Official("vgg19", "vgg19-dcbb9e9d.pth",
                      "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", 574_673_361,
                      "torchvision VGG19_Weights.IMAGENET1K_V1"),
    "vgg16": Official("vgg16", "vgg16-397923af.pth",
                      "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", 553_433_881,
                      "torchvision VGG16_Weights.IMAGENET1K_V1"),
    "alexnet": Official("alexnet", "alexnet-owt-7be5be79.pth",
                        "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02", 244_408_911,
                        "torchvision AlexNet_Weights.IMAGENET1K_V1"),
    # LPIPS v0.1 linear layers: the files of the lpips 0.1.4 wheel (= the PerceptualSimilarity repository).
    "lpips-vgg": Official("lpips-vgg", "vgg.pth",
                          "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", 7_289,
                          "LPIPS v0.1 VGG linear layers", _LPIPS_URL + "vgg.pth", "lpips/weights/v0.1/vgg.pth"),
    "lpips-alex": Official("lpips-alex", "alex.pth",
                           "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", 6_009,
                           "LPIPS v0.1 AlexNet linear layers", _LPIPS_URL + "alex.pth", "lpips/weights/v0.1/alex.pth"),
}

_unverified: set[str] = set()


@dataclass(frozen=True)
class Location:
    """One place looked in: ``source`` says why (``--weights``, ``IMGLOSS_WEIGHTS``,
    ``torch hub cache``, ``imgloss cache``), ``candidates`` the files tried there."""

    source: str
    candidates: tuple[Path, ...]

    def found(self) -> Path | None:
        """The first candidate that is an existing file, or None."""
        return next((path for path in self.candidates if path.is_file()), None)


@dataclass(frozen=True)
class Verified:
    """A weights file that passed: its ``features.*`` state (on CPU) and SHA-256.
    ``verified`` is False for a file accepted through ``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS``."""

    path: Path
    backbone: str
    sha256: str
    verified: bool
    state: StateDict


@dataclass(frozen=True)
class Finding:
    """What :func:`status` saw at one candidate path. ``ok`` is None if no file is there."""

    source: str
    path: Path
    size: int | None
    ok: bool | None
    verified: bool
    detail: str
    used: bool


def official_for(backbone: str) -> Official:
    try:
        return OFFICIAL[backbone]
    except KeyError:
        raise WeightsError(f"unknown backbone {backbone!r}; valid: {', '.join(OFFICIAL)}") from None


def allow_unverified() -> bool:
    """Whether ``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS`` is set to a true value."""
    return os.environ.get(ENV_ALLOW_UNVERIFIED, "").strip().lower() in ("1", "true", "yes", "on")


def unverified_in_use() -> list[str]:
    """Paths of weights files loaded in this process without a verified hash."""
    return sorted(_unverified)


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``, computed from the environment when torch is not imported."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return Path(torch.hub.get_dir())
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.environ.get("TORCH_HOME", os.path.join(xdg, "torch"))
    return Path(os.path.expanduser(home)) / "hub"


def cache_dir() -> Path:
    """imgloss's cache: ``$IMGLOSS_CACHE``, ``$XDG_CACHE_HOME/imgloss`` or ``~/.cache/imgloss``."""
    explicit = os.environ.get(ENV_CACHE)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(xdg)) / "imgloss"


def _given(source: str, value: str | os.PathLike[str], official: Official) -> Location:
    path = Path(value).expanduser()
    if path.is_dir():
        return Location(source, (path / official.compact_name, path / official.filename))
    return Location(source, (path,))


def _package_file(package_path: str) -> tuple[Path, ...]:
    """Where an installed package keeps ``package_path`` (found without importing the
    package); empty when the package is not installed."""
    import importlib.util

    package, _, inside = package_path.partition("/")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return ()
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple(Path(folder) / inside for folder in spec.submodule_search_locations)


def locations(backbone: str, explicit: str | os.PathLike[str] | None = None) -> list[Location]:
    """Every place looked in for ``backbone``'s weights, in resolution order."""
    official = official_for(backbone)
    places = []
    if explicit is not None:
        places.append(_given(FROM_ARGUMENT, explicit, official))
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        places.append(_given(ENV_WEIGHTS, env, official))
    if official.package_path:
        places.append(Location(FROM_PACKAGE, _package_file(official.package_path)))
    else:
        places.append(Location(FROM_HUB, (torch_hub_dir() / "checkpoints" / official.filename,)))
    cache = cache_dir()
    places.append(Location(FROM_CACHE, (cache / official.compact_name, cache / official.filename)))
    return places


def missing_message(backbone: str, places: list[Location]) -> str:
    """The one message for weights found nowhere: the file, where, and the three fixes."""
    official = official_for(backbone)
    found_in = {place.source: ", ".join(str(path) for path in place.candidates) for place in places}
    third = FROM_PACKAGE if official.package_path else FROM_HUB
    looked = "\n".join(
        f"    {source}: {found_in.get(source, note)}"
        for source, note in ((FROM_ARGUMENT, "not given"), (ENV_WEIGHTS, "not set"), (third, "not installed"),
                             (FROM_CACHE, ""))
    )
    size = f"{official.size / 2**20:.0f} MiB" if official.size >= 2**20 else f"{official.size / 2**10:.0f} KiB"
    if official.package_path:
        package = official.package_path.split("/")[0]
        elsewhere = f"or pip install {package} (it ships {official.filename})"
    else:
        elsewhere = f"or put {official.filename} in the torch hub cache ({torch_hub_dir() / 'checkpoints'})"
    return (
        f"{official.title} weights not found: {official.filename} ({official.what}, {size}, "
        f"SHA-256 {official.sha256}).\n"
        f"  Looked in:\n{looked}\n"
        "  Provide it in one of three ways:\n"
        f"    1. imgloss weights download {backbone}   (fetches {official.url})\n"
        "    2. imgloss weights import FILE   (verifies an offline copy into the imgloss cache),\n"
        f"       {elsewhere}\n"
        f"    3. --weights PATH or {ENV_WEIGHTS}=PATH   (the file, or a folder holding it)\n"
        "  imgloss never uses a randomly initialised network in place of missing weights."
    )


def find(backbone: str, explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The first existing weights file for ``backbone`` and the source it came from.

    What was asked for is not skipped: an explicit path (file or folder) without the
    file, or an ``IMGLOSS_WEIGHTS`` file that does not exist, is an error; an
    ``IMGLOSS_WEIGHTS`` folder without it passes on to the caches. Nothing found
    anywhere raises the :func:`missing_message`.
    """
    places = locations(backbone, explicit)
    for place in places:
        path = place.found()
        if path is not None:
            return path, place.source
        if place.source == FROM_ARGUMENT or (place.source == ENV_WEIGHTS and len(place.candidates) == 1):
            names = " nor ".join(str(candidate) for candidate in place.candidates)
            raise WeightsError(
                f"{place.source} asks for {names}, which does not exist.\n" + missing_message(backbone, places)
            )
    raise WeightsError(missing_message(backbone, places))


def read_manifest() -> dict[str, dict[str, object]]:
    try:
        data = json.loads((cache_dir() / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}  # no manifest (or an unreadable one) vouches for nothing
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _manifest_entry(path: Path) -> dict[str, object] | None:
    if path.parent.resolve() != cache_dir().resolve():
        return None
    entry = read_manifest().get(path.name)
    return entry if isinstance(entry, dict) else None


def _hash_problem(path: Path, digest: str, official: Official) -> str | None:
    """None when ``digest`` is trusted for ``path``; else why not."""
    if digest == official.sha256:
        return None
    entry = _manifest_entry(path)
    if entry is None:
        return (
            f"SHA-256 mismatch: the file hashes to {digest}, not the official {official.title} "
            f"{official.sha256} (prefix {official.sha256[:8]} in {official.filename})"
        )
    if entry.get("sha256") != digest:
        return (
            f"SHA-256 mismatch: the file changed since imgloss verified it (manifest "
            f"{cache_dir() / MANIFEST} records {entry.get('sha256')}, the file hashes to {digest})"
        )
    if entry.get("verified") is not True:
        return f"imported without verification ({ENV_ALLOW_UNVERIFIED}=1 was set then)"
    return None


def judge(path: Path, backbone: str, state: StateDict, digest: str) -> Verified:
    official = official_for(backbone)
    check_layout(path, state, backbone)
    problem = _hash_problem(path, digest, official)
    if problem and not allow_unverified():
        raise CheckpointError(path, f"{problem}; set {ENV_ALLOW_UNVERIFIED}=1 only for test or finetuned weights")
    return Verified(path, backbone, digest, problem is None, features_only(state, backbone))


def verify(path: str | Path, backbone: str) -> Verified:
    """Check one file as ``backbone`` weights and return its ``features.*`` state.

    Order: format and safe loading, key set and shapes, then the hash. A failure
    raises :class:`~imgloss.weights.checkpoint.CheckpointError` (a :class:`WeightsError`) with
    the reason; a wrong hash is accepted (``verified=False``) only under
    ``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS``. Has no side effects.
    """
    official_for(backbone)
    path = Path(path)
    return judge(path, backbone, read_state_dict(path), sha256_file(path))


def load(backbone: str, explicit: str | os.PathLike[str] | None = None) -> Verified:
    """Resolve, verify and load ``backbone``'s weights (``features.*`` only, on CPU).

    Raises :class:`WeightsError` when nothing is found or the file found is refused
    (the message names the file, where it was found and why).
    """
    path, source = find(backbone, explicit)
    try:
        result = verify(path, backbone)
    except CheckpointError as exc:
        raise WeightsError(
            f"refused {official_for(backbone).title} weights {exc.path} (from {source}): {exc.reason}.\n"
            f"  Replace or remove it: imgloss weights download {backbone}, or imgloss weights import FILE.\n"
            "  imgloss never uses a randomly initialised network in place of refused weights."
        ) from None
    if not result.verified:
        _unverified.add(str(path))
    return result


def status(backbone: str, explicit: str | os.PathLike[str] | None = None) -> list[Finding]:
    """What is at every candidate path for ``backbone``, verified or not and why.

    ``used`` marks the file a run would use (the first one found).
    """
    findings = []
    chosen = False
    for place in locations(backbone, explicit):
        for path in place.candidates:
            if not path.is_file():
                findings.append(Finding(place.source, path, None, None, False, "not found", False))
                continue
            used, chosen = not chosen, True
            try:
                result = verify(path, backbone)
            except CheckpointError as exc:
                findings.append(Finding(place.source, path, path.stat().st_size, False, False, exc.reason, used))
                continue
            detail = "verified" if result.verified else f"accepted UNVERIFIED ({ENV_ALLOW_UNVERIFIED}=1)"
            findings.append(
                Finding(place.source, path, path.stat().st_size, True, result.verified,
                        f"{detail}, SHA-256 {result.sha256[:16]}...", used)
            )
    return findings
