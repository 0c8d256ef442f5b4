"""The evaluation core: order, batching by size, workers, OOM halving, error rows, devices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss.engine import evaluator as engine
from imgloss.engine.device import resolve_device
from imgloss.engine.evaluator import Evaluator
from imgloss.engine.options import EngineOptions
from imgloss.metrics.registry import MetricSpec
from imgloss.errors import UsageError
from imgloss.io import Pair

RNG = np.random.default_rng(1)


def make_pairs(folder: Path, sizes: list[tuple[int, int]]) -> list[Pair]:
    pairs = []
    for i, (h, w) in enumerate(sizes):
        base = RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)
        noisy = np.clip(base + RNG.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        ref, cand = folder / f"r{i}.png", folder / f"c{i}.png"
        Image.fromarray(base).save(ref)
        Image.fromarray(noisy).save(cand)
        pairs.append(Pair(ref, cand, f"{i}.png"))
    return pairs


def evaluator(*names: str, **options) -> Evaluator:
    metrics = tuple(MetricSpec.parse(n) for n in names)
    return Evaluator(EngineOptions(metrics=metrics, device="cpu", **options))


def values(results) -> list[float]:
    """Every metric value of every result, flattened in a fixed order."""
    return [value for r in results for _, value in sorted(r.metrics.items())]


def test_results_in_input_order_and_batches_grouped_by_size(tmp_path: Path) -> None:
    sizes = [(24, 24), (16, 20), (24, 24), (16, 20), (24, 24), (30, 12)]
    pairs = make_pairs(tmp_path, sizes)
    ev = evaluator("charbonnier", "wssim", batch_size=8, workers=0)
    results = list(ev.run(pairs))
    assert [r.key for r in results] == [p.key for p in pairs]
    assert ev.stats.batches == 3  # one batch per distinct size
    single = evaluator("charbonnier", "wssim", batch_size=1, workers=0)
    assert values(single.run(pairs)) == pytest.approx(values(results), abs=1e-6)
    assert single.stats.batches == len(pairs)


def test_worker_processes_give_the_same_values(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, [(20, 20)] * 10)
    in_process = values(evaluator("ssim", "psnr", workers=0).run(pairs))
    with_workers = values(evaluator("ssim", "psnr", workers=2).run(pairs))
    assert with_workers == pytest.approx(in_process, abs=1e-7)


def test_out_of_memory_halves_the_batch(tmp_path: Path, monkeypatch) -> None:
    pairs = make_pairs(tmp_path, [(16, 16)] * 8)
    ev = evaluator("charbonnier", batch_size=8, workers=0)
    real, sizes = ev._score, []

    def flaky(items, device):
        sizes.append(len(items))
        if len(items) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(items, device)

    monkeypatch.setattr(ev, "_score", flaky)
    results = list(ev.run(pairs))
    assert all(r.ok for r in results) and len(results) == 8
    assert sizes[:3] == [8, 4, 2]
    expected = values(evaluator("charbonnier", batch_size=1, workers=0).run(pairs))
    assert values(results) == pytest.approx(expected, abs=1e-7)


def test_out_of_memory_on_one_cpu_pair_is_an_error_row(tmp_path: Path, monkeypatch) -> None:
    pairs = make_pairs(tmp_path, [(16, 16)] * 2)
    ev = evaluator("charbonnier", batch_size=2, workers=0)

    def always(items, device):  # what the CPU allocator raises (not torch.OutOfMemoryError)
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(ev, "_score", always)
    results = list(ev.run(pairs))
    assert [r.error for r in results] == [f"{p.candidate}: out of memory even for a single pair on the CPU" for p in pairs]


def test_metric_failure_is_an_error_row_and_other_metrics_still_computed(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, [(8, 8), (24, 24)])
    results = list(evaluator("ssim", "charbonnier", workers=0).run(pairs))
    small, large = results
    assert small.error is not None and small.error.startswith(f"{pairs[0].candidate}: ssim: images of 8x8 px")
    assert "charbonnier" in small.metrics and "ssim" not in small.metrics
    assert large.ok and set(large.metrics) == {"ssim", "charbonnier"}


def test_rare_size_does_not_hold_back_the_stream(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(engine, "_MAX_AUTO_BATCH", 1)  # flush a bucket after 4 newer pairs
    sizes = [(12, 12)] + [(16, 16)] * 9
    pairs = make_pairs(tmp_path, sizes)
    ev = evaluator("mae", batch_size=100, workers=0)
    seen = []
    for result in ev.run(pairs):
        seen.append((result.key, ev.stats.batches))
    assert seen[0] == ("0.png", 1)  # the odd-sized first pair came out before the end
    assert [k for k, _ in seen] == [p.key for p in pairs]


def test_tv_reports_candidate_and_reference(tmp_path: Path) -> None:
    from imgloss.functional import tv

    pairs = make_pairs(tmp_path, [(16, 16)])
    ev = evaluator("tv", workers=0)
    assert ev.columns() == {"tv": False, "tv_ref": False} and list(ev.columns(with_reference=False)) == ["tv"]
    (result,) = ev.run(pairs)
    as_tensor = lambda p: torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    assert result.metrics["tv"] == pytest.approx(tv(as_tensor(pairs[0].candidate)).item(), rel=1e-6)
    assert result.metrics["tv_ref"] == pytest.approx(tv(as_tensor(pairs[0].reference)).item(), rel=1e-6)


def test_no_reference_pairs_score_tv_alone(tmp_path: Path) -> None:
    pairs = [Pair(None, p.candidate, p.key) for p in make_pairs(tmp_path, [(16, 16), (16, 16)])]
    results = list(evaluator("tv", workers=0).run(pairs))
    assert all(r.ok and set(r.metrics) == {"tv"} and r.reference is None for r in results)


def test_auto_batch_size_is_bounded() -> None:
    ev = evaluator("ssim")
    assert 1 <= ev.batch_size_for((3, 64, 64)) <= engine._MAX_AUTO_BATCH
    assert ev.batch_size_for((3, 60000, 60000)) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"precision": "fp8"}, "precision"),
        ({"precision": "fp16"}, "fp16 needs a GPU"),
        ({"resize": "both"}, "resize"),
        ({"background": "grey"}, "background"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"workers": -1}, "workers"),
    ],
)
def test_bad_options_are_usage_errors(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        evaluator("ssim", **options)


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else resolve_device("auto").type)
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda")


def test_metric_spec_parsing() -> None:
    assert MetricSpec.parse("SSIM").column == "ssim"
    request = MetricSpec.parse("perceptual:johnson")
    assert (request.column, request.preset) == ("perceptual:johnson", "johnson")
    assert MetricSpec.parse("perceptual", default_preset="drn").preset == "drn"
    with pytest.raises(UsageError, match="Did you mean 'johnson'"):
        MetricSpec.parse("perceptual:jonson")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, [(32, 32)] * 4 + [(24, 40)] * 3)
    names = ("charbonnier", "ssim", "wssim", "psnr", "tv")
    cpu = values(evaluator(*names, workers=0).run(pairs))
    metrics = tuple(MetricSpec.parse(n) for n in names)
    gpu_eval = Evaluator(EngineOptions(metrics=metrics, device="cuda", workers=2))
    assert gpu_eval.device.type == "cuda"
    assert values(gpu_eval.run(pairs)) == pytest.approx(cpu, rel=1e-5, abs=1e-6)


def test_default_workers_by_device(monkeypatch) -> None:
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 16)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert engine.default_workers(4, gpu) == 0  # tiny job: decode in the main process
    assert engine.default_workers(1000, gpu) == 15
    assert engine.default_workers(1000, cpu) == 2
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    assert engine.default_workers(1000, cpu) == 1


def test_cpu_threads_are_shared_with_workers_and_restored(tmp_path: Path, monkeypatch) -> None:
    pairs = make_pairs(tmp_path, [(16, 16)] * 4)
    ev = evaluator("mae", workers=1)
    before = torch.get_num_threads()
    seen = []
    real = ev._score
    monkeypatch.setattr(ev, "_score", lambda items, device: (seen.append(torch.get_num_threads()), real(items, device))[1])
    assert len(list(ev.run(pairs))) == 4
    cores = engine.os.cpu_count() or 1
    assert seen and all(t == max(1, min(before, cores - 1)) for t in seen)
    assert torch.get_num_threads() == before


def test_an_unexpected_failure_of_one_batch_is_error_rows_and_the_run_goes_on(tmp_path: Path, monkeypatch) -> None:
    pairs = make_pairs(tmp_path, [(16, 16), (20, 20), (16, 16)])
    ev = evaluator("mae", batch_size=8, workers=0)
    real = ev._score

    def broken_for_20px(items, device):
        if items.y.shape[-1] == 20:
            raise RuntimeError("simulated kernel failure")
        return real(items, device)

    monkeypatch.setattr(ev, "_score", broken_for_20px)
    results = list(ev.run(pairs))
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == f"{pairs[1].candidate}: cannot score: RuntimeError: simulated kernel failure"
