"""``--backend ray``: on a local Ray instance (2 CPUs, started and stopped here) the Ray
Data runner gives the local engine's results, in the same order, through the same writers."""
from __future__ import annotations

import csv
import io
import json
import math
import socket

import pytest

from conftest import cli_invoke as invoke
from scale_helpers import METRICS, make_folders, without_timing

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'imgloss[ray]' (make test installs it)")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    return make_folders(root, count=20)


@pytest.mark.slow
def test_ray_runner_equals_the_local_engine(local_ray, folders) -> None:
    ref, cand = folders
    common = ("compare", ref, cand, "-m", METRICS, "--format", "json", "-q")
    local = invoke(*common, "--workers", "0")
    remote = invoke(*common, "--backend", "ray")
    assert remote.exit_code == local.exit_code == 3, remote.output
    here, there = without_timing(json.loads(local.stdout)), without_timing(json.loads(remote.stdout))
    assert there["device"].startswith("ray (1 CPU actor(s), 2 CPUs)")
    assert [r["candidate"] for r in there["results"]] == [r["candidate"] for r in here["results"]]
    for a, b in zip(here["results"], there["results"]):
        assert a["error"] == b["error"] and a["notes"] == b["notes"]
        assert a["metrics"].keys() == b["metrics"].keys()
        for name, value in a["metrics"].items():
            other = b["metrics"][name]
            assert value == other or math.isclose(value, other, rel_tol=1e-6, abs_tol=1e-6), (a["candidate"], name)
    assert there["unmatched"] == here["unmatched"]
    assert {**there["options"], "workers": 0} == here["options"]
    assert any(r["error"] for r in there["results"])  # the unreadable pair is an error row there too


@pytest.mark.slow
def test_ray_runner_streams_to_resume_and_shards(local_ray, folders, tmp_path) -> None:
    ref, cand = folders
    full = invoke("compare", ref, cand, "-m", METRICS, "--format", "csv", "--workers", "0", "-q")
    for i in (1, 2):
        result = invoke("compare", ref, cand, "-m", METRICS, "--backend", "ray", "--shard", f"{i}/2",
                        "--resume", tmp_path / f"s{i}.jsonl", "-q")
        assert result.exit_code == 3, result.output
    merged = invoke("merge", tmp_path / "s1.jsonl", tmp_path / "s2.jsonl", "--format", "csv", "-q")
    assert merged.exit_code == 3
    want, got = list(csv.reader(io.StringIO(full.stdout))), list(csv.reader(io.StringIO(merged.stdout)))
    assert len(got) == len(want) == 1 + 20 and got[0] == want[0]
    for a, b in zip(want[1:], got[1:]):
        assert a[:2] == b[:2] and a[-2:] == b[-2:]  # the pair; the error and the notes
        assert all(x == y or math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-6) for x, y in zip(a[2:-2], b[2:-2]))


@pytest.mark.slow
def test_an_unreachable_address_is_one_usage_line(folders, tmp_path) -> None:
    if ray.is_initialized():
        ray.shutdown()
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out.csv"
    out.write_text("keep me")
    ref, cand = folders
    result = invoke("compare", ref, cand, "-m", "psnr", "--backend", "ray", "--address", f"127.0.0.1:{port}",
                    "--format", "csv", "-o", out)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"imgloss: error: --address 127.0.0.1:{port}: cannot reach a Ray cluster "
                                     "there (Connection refused)")
    assert out.read_text() == "keep me"
    result = invoke("compare", ref, cand, "--backend", "ray", "--address", "nonsense")
    assert result.exit_code == 2 and "give auto, HOST:PORT or ray://HOST:PORT" in result.stderr
