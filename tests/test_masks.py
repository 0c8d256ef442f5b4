"""Ignore regions (masks): the masked value of every metric family against closed forms
and the unmasked metric, mask files and rectangles, pairing, config, heatmaps, the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from check_helpers import save, texture
from imgloss.config import parse_config
from imgloss.errors import InputError, UsageError
from imgloss.functional import charbonnier, mae, mse, psnr, ssim, ssim_map, tv, wssim
from imgloss.gate.heatmap import panel_box
from imgloss.io import pair_inputs
from imgloss.io.masks import MaskSpec, Rect, parse_rect, read_mask
from imgloss.metrics.masks import masked_value
from imgloss.metrics.registry import MetricSpec
from imgloss.report.colormap import NO_VALUE
from vgg_fixtures import isolated, standin_dir, use_standin  # noqa: F401

PLAIN = ("mse", "mae", "charbonnier", "psnr", "ssim", "wssim", "tv")


def value(spec: str, x: torch.Tensor, y: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    parsed = MetricSpec.parse(spec)
    return masked_value(parsed, parsed.load_function(), x, y, mask)


def pair(size: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(2, 3, size, size, generator=g, dtype=torch.float64)
    return (y + 0.1 * torch.rand(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1), y


def rect_mask(n: int, height: int, width: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    """``n x 1 x H x W`` float, 0 inside the half-open ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    mask = torch.ones(n, 1, height, width, dtype=torch.float64)
    mask[..., y0:y1, x0:x1] = 0
    return mask


# ----------------------------------------------------------------------- metric values


@pytest.mark.parametrize("spec", [*PLAIN, "ssim:skimage-default", "ssim:torchmetrics", "ssim:pytorch-msssim"])
def test_all_ones_mask_gives_the_unmasked_value(spec: str) -> None:
    x, y = pair()
    parsed = MetricSpec.parse(spec)
    function = parsed.load_function()
    plain = function(x) if not parsed.info.needs_reference else function(x, y)
    masked = value(spec, x, y if parsed.info.needs_reference else None, torch.ones(2, 1, 24, 24, dtype=x.dtype))
    torch.testing.assert_close(masked, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", [*PLAIN, "ms_ssim"])
def test_a_change_inside_the_mask_changes_no_value_and_one_outside_does(spec: str) -> None:
    size = 161 if spec == "ms_ssim" else 24  # MS-SSIM needs 161 px a side
    _, y = pair(size)
    box = (3, 4, 15, 12)
    inside = y.clone()
    inside[..., 4:12, 3:15] = 1 - inside[..., 4:12, 3:15]
    outside = y.clone()
    outside[..., 18:22, 18:22] = 0
    mask = rect_mask(2, size, size, box)
    if spec == "tv":  # no reference: the candidate's own TV ignores the masked pixels
        torch.testing.assert_close(value(spec, inside, None, mask), value(spec, y, None, mask))
        assert not torch.allclose(value(spec, outside, None, mask), value(spec, y, None, mask))
        return
    parsed = MetricSpec.parse(spec)
    identical = parsed.load_function()(y, y)
    torch.testing.assert_close(value(spec, inside, y, mask), identical)
    assert not torch.allclose(value(spec, outside, y, mask), identical)


def test_pixel_metrics_are_the_mean_over_kept_pixels_closed_form() -> None:
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    y = x.clone()
    y[0, 0, 0, 0] = 0.5  # outside the mask: counts
    y[0, 0, 3, 3] = 1.0  # inside the mask: ignored
    mask = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    mask[0, 0, 3, 3] = 0
    kept = 15
    assert value("mse", x, y, mask).item() == pytest.approx(0.25 / kept, rel=1e-12)
    assert value("mae", x, y, mask).item() == pytest.approx(0.5 / kept, rel=1e-12)
    assert value("psnr", x, y, mask).item() == pytest.approx(10 * math.log10(kept / 0.25), rel=1e-12)
    assert value("charbonnier", x, y, mask).item() == pytest.approx(
        (math.sqrt(0.25 + 1e-6) + (kept - 1) * 1e-3) / kept, rel=1e-12)
    # Unmasked, the ignored pixel would count (a different value).
    assert mse(x, y).item() == pytest.approx(1.25 / 16)


def test_ssim_is_the_mean_of_its_map_over_kept_window_centres() -> None:
    x, y = pair(32)
    mask = rect_mask(2, 32, 32, (0, 0, 16, 32))  # the left half ignored
    kept = torch.ones(32, 32, dtype=torch.bool)
    kept[:, :16] = False
    # The valid map's pixel i is the window centred at i + 5. Filling the ignored half with the reference's pixels is part of the rule: the
    # windows straddling the border see no difference on the ignored side.
    filled = torch.where(mask.bool(), x, y)
    expected = ssim_map(filled, y)[..., kept[5:-5, 5:-5]].mean(dim=(1, 2))
    torch.testing.assert_close(value("ssim", x, y, mask), expected)
    assert not torch.allclose(value("ssim", x, y, mask), ssim(x, y))


def test_wssim_weights_each_subband_map_by_the_downsampled_mask() -> None:
    x, y = pair(16)
    mask = rect_mask(2, 16, 16, (0, 0, 8, 16))
    masked = value("wssim", x, y, mask)
    # The right half alone, by hand: the image term's map over kept pixels, and every
    # Haar subband map over its right half (the 2x2 means of the mask are 0 or 1 here).
    from imgloss.metrics.ssim import ssim_map_unchecked
    from imgloss.metrics.wavelet import dwt2_unchecked

    filled = torch.where(mask.bool(), x, y)
    terms = [(1.0, ssim_map_unchecked(filled, y, "same")[..., 8:].mean(dim=(1, 2, 3)))]
    a, b, carry = filled, y, 1.0
    for level in (1, 2):
        (lla, lha, hla, hha), (llb, lhb, hlb, hhb) = dwt2_unchecked(a), dwt2_unchecked(b)
        half = lla.shape[-1] // 2

        def right(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            return ssim_map_unchecked(p, q, "same")[..., half:].mean(dim=(1, 2, 3))

        terms.append((carry * 2 * 0.7 * 0.3, right(torch.cat([lha, hla], 1), torch.cat([lhb, hlb], 1))))
        terms.append((carry * 0.09, right(hha, hhb)))
        carry *= 0.49
        if level == 2:
            terms.append((carry, right(lla, llb)))
        a, b = lla, llb
    expected = sum(w * v for w, v in terms) / sum(w for w, _ in terms)
    torch.testing.assert_close(masked, expected)
    assert not torch.allclose(masked, wssim(x, y))


def test_tv_counts_only_neighbour_pairs_that_are_both_kept() -> None:
    x = torch.arange(9, dtype=torch.float64).reshape(1, 1, 3, 3)
    x[0, 0, 2, 2] = 100.0  # ignored: its two neighbour differences do not count
    mask = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    mask[0, 0, 2, 2] = 0
    # 5 vertical pairs of difference 3, 5 horizontal of difference 1: 2 * (9 + 1).
    assert value("tv", x, None, mask).item() == pytest.approx(20.0, rel=1e-12)
    assert tv(x).item() > 1000


def test_fully_ignored_ssim_window_centres_fall_back_to_the_filled_mean() -> None:
    x, y = pair(16)
    mask = rect_mask(2, 16, 16, (3, 0, 16, 16))  # kept: 3 px columns at the left edge
    filled = torch.where(mask.bool(), x, y)
    torch.testing.assert_close(value("ssim", x, y, mask), ssim(filled, y))


# ----------------------------------------------------------------------- mask sources


def test_read_mask_nonzero_compared_zero_ignored_and_rectangles(tmp_path: Path) -> None:
    gray = np.full((6, 8), 255, np.uint8)
    gray[0, 0] = 0
    gray[1, 1] = 7  # any nonzero value is compared
    file = save(tmp_path / "m.png", gray)
    keep = read_mask(MaskSpec((file,), (Rect(6, 4, 10, 10),)), 6, 8)
    assert keep.shape == (6, 8) and not keep[0, 0] and keep[1, 1]
    assert not keep[4:, 6:].any() and keep[:4].sum() == 8 * 4 - 1  # the rectangle is clipped
    with pytest.raises(InputError, match=r"mask image is 8x6, its golden image is 9x6"):
        read_mask(MaskSpec((file,)), 6, 9)
    with pytest.raises(InputError, match="g.png: the mask .* ignores every pixel"):
        read_mask(MaskSpec((), (Rect(0, 0, 8, 6),)), 6, 8, "g.png")


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,0,4", "-1,0,2,2", "1.5,0,2,2"])
def test_parse_rect_refuses_bad_rectangles(text: str) -> None:
    with pytest.raises(UsageError, match="--ignore"):
        parse_rect(text, "--ignore")
    assert parse_rect(" 1, 2,3,4", "x") == Rect(1, 2, 3, 4) == parse_rect([1, 2, 3, 4], "x")


def test_mask_files_are_neither_paired_nor_unmatched(tmp_path: Path) -> None:
    for side in ("g", "c"):
        save(tmp_path / side / "a" / "b.png", texture(1))
    save(tmp_path / "g" / "a" / "b.mask.png", np.full((32, 40), 255, np.uint8))
    save(tmp_path / "g" / "a" / "_mask.png", np.full((32, 40), 255, np.uint8))
    save(tmp_path / "c" / "a" / "B.MASK.PNG", np.full((32, 40), 255, np.uint8))
    pairing = pair_inputs(tmp_path / "g", tmp_path / "c")
    assert [p.key for p in pairing.pairs] == ["a/b.png"]
    assert not pairing.unmatched_reference and not pairing.unmatched_candidate and not pairing.unsupported


def test_config_ignore_rules_and_their_errors(tmp_path: Path) -> None:
    where = tmp_path / "pyproject.toml"
    config = parse_config({"ignore": [{"path": "ui/*.png", "rect": [0, 0, 4, 2]},
                                      {"path": "*", "rects": [[1, 1, 1, 1], "2,2,2,2"]}]}, where)
    assert [(r.glob, r.rects) for r in config.ignore] == [
        ("ui/*.png", (Rect(0, 0, 4, 2),)), ("*", (Rect(1, 1, 1, 1), Rect(2, 2, 2, 2)))]
    for bad, message in (({"ignore": {"path": "x"}}, "ignore must be an array"),
                         ({"ignore": [{"rect": [0, 0, 1, 1]}]}, r"ignore\[0\] needs path"),
                         ({"ignore": [{"path": "x"}]}, r"ignore\[0\] needs rect"),
                         ({"ignore": [{"path": "x", "rect": [0, 0, 1]}]}, "rectangle X,Y,W,H"),
                         ({"ignore": [{"path": "x", "rekt": [0, 0, 1, 1]}]}, "did you mean 'rect'")):
        with pytest.raises(UsageError, match=message):
            parse_config(bad, where)


# ----------------------------------------------------------------------- the CLI


def masked_folders(root: Path) -> tuple[Path, Path]:
    """golden/ and cand/: ``clock.png`` differs only inside (x 8..24, y 6..18), which its
    ``clock.mask.png`` ignores; ``plain.png`` differs only in the same place, unmasked."""
    golden, cand = root / "golden", root / "cand"
    for name in ("clock.png", "plain.png"):
        image = texture(4)
        save(golden / name, image)
        changed = image.copy()
        changed[6:18, 8:24] = 255 - changed[6:18, 8:24]
        save(cand / name, changed)
    mask = np.full((32, 40), 255, np.uint8)
    mask[6:18, 8:24] = 0
    save(golden / "clock.mask.png", mask)
    return golden, cand


def test_compare_applies_a_mask_file_beside_the_golden_file_and_notes_it(tmp_path: Path, invoke) -> None:
    golden, cand = masked_folders(tmp_path)
    result = invoke("compare", golden, cand, "-m", "mse,psnr,ssim,wssim,charbonnier", "-f", "json", "--workers", "0")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["candidate"]).name: r for r in json.loads(result.stdout)["results"]}
    assert set(rows) == {"clock.png", "plain.png"}
    clock, plain = rows["clock.png"], rows["plain.png"]
    assert clock["metrics"]["mse"] == 0 and clock["metrics"]["psnr"] == "inf"
    assert clock["metrics"]["ssim"] == 1 and clock["metrics"]["wssim"] == 1
    assert clock["notes"] == [f"mask: {100 * 16 * 12 / (32 * 40):.3g}% of pixels ignored"]
    assert plain["metrics"]["mse"] > 0.01 and plain["notes"] == []


@pytest.mark.slow
def test_check_ignore_option_config_rules_and_a_masked_heatmap(tmp_path: Path, invoke) -> None:
    golden, cand = masked_folders(tmp_path)
    (golden / "clock.mask.png").unlink()
    limits = ("--max", "mse=0.0001", "--workers", "0")
    assert invoke("check", golden, cand, *limits).exit_code == 1
    assert invoke("check", golden, cand, *limits, "--ignore", "8,6,16,12").exit_code == 0
    assert invoke("check", golden, cand, *limits, "--ignore", "8,6,16,11").exit_code == 1  # one row short
    config = tmp_path / "imgloss.toml"
    config.write_text('[tool.imgloss]\nignore = [{ path = "clock.png", rect = [8, 6, 16, 12] }]\n')
    diffs = tmp_path / "diffs"
    result = invoke("check", golden, cand, *limits, "--config", config, "--diff-dir", diffs, "-f", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    status = {Path(r["candidate"]).name: r["check"]["status"] for r in document["results"]}
    assert status == {"clock.png": "pass", "plain.png": "fail"}
    assert document["options"]["masks"]["rules"] == [{"path": "clock.png", "rects": ["8,6,16,12"]}]
    # A failing masked pair's heatmap shows the ignored region as "no value" grey.
    save(cand / "clock.png", np.zeros((32, 40, 3), np.uint8))
    assert invoke("check", golden, cand, *limits, "--config", config, "--diff-dir", diffs).exit_code == 1
    picture = np.asarray(Image.open(diffs / "clock.png.diff.png"))
    left, top, _, _ = panel_box(2, 40, 32)
    assert (picture[top + 10, left + 12] == NO_VALUE).all()
    assert not (picture[top + 25, left + 30] == NO_VALUE).all()


def test_mask_option_for_one_pair_and_its_errors(tmp_path: Path, invoke) -> None:
    golden, cand = masked_folders(tmp_path)
    mask = tmp_path / "clock-mask.png"
    (golden / "clock.mask.png").rename(mask)
    args = ("compare", golden / "clock.png", cand / "clock.png", "-m", "mse", "-f", "json", "--workers", "0")
    assert json.loads(invoke(*args, "--mask", mask).stdout)["results"][0]["metrics"]["mse"] == 0
    missing = invoke(*args, "--mask", tmp_path / "nope.png")
    assert missing.exit_code == 2 and "--mask" in missing.stderr and "no such file" in missing.stderr
    wrong = save(tmp_path / "small.png", np.full((4, 4), 255, np.uint8))
    result = invoke(*args, "--mask", wrong)
    assert result.exit_code == 3 and "small.png: mask image is 4x4, its golden image is 40x32" in result.stderr
    bad = invoke(*args, "--ignore", "1,2,3")
    assert bad.exit_code == 2 and "--ignore must be a rectangle X,Y,W,H" in bad.stderr


def test_vgg_metrics_see_no_difference_inside_the_mask(tmp_path: Path, invoke, use_standin: Path) -> None:
    golden, cand = masked_folders(tmp_path)
    result = invoke("compare", golden, cand, "-m", "perceptual,style,lpips", "-f", "json", "--workers", "0")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["candidate"]).name: r["metrics"] for r in json.loads(result.stdout)["results"]}
    assert rows["clock.png"] == {"perceptual": 0, "style": 0, "lpips": 0}
    assert all(v > 0 for v in rows["plain.png"].values())


def test_check_with_a_mask_as_a_real_process(tmp_path: Path, run_module) -> None:
    golden, cand = masked_folders(tmp_path)
    (cand / "plain.png").unlink()
    (golden / "plain.png").unlink()
    done = run_module("check", golden, cand, "--max", "mse=0", "--min", "ssim=1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "clock.png: mask: 15% of pixels ignored" in done.stdout


def test_metric_maps_leave_the_ignored_region_without_a_value(tmp_path: Path, invoke) -> None:
    golden, cand = masked_folders(tmp_path)
    save(cand / "clock.png", np.zeros((32, 40, 3), np.uint8))  # differs everywhere
    maps = tmp_path / "maps"
    assert invoke("compare", golden, cand, "-m", "mae", "--maps", maps, "--workers", "0").exit_code == 0
    picture = np.asarray(Image.open(next(maps.glob("clock.png.mae*.png"))).convert("RGB"))
    plain = np.asarray(Image.open(next(maps.glob("plain.png.mae*.png"))).convert("RGB"))
    grey = (picture == NO_VALUE).all(axis=-1).sum()
    assert grey >= 16 * 12 and grey > (plain == NO_VALUE).all(axis=-1).sum() + 16 * 12 - 1
