"""``--backend ray``: the same engine over a Ray cluster, with Ray Data.

The pairs become a Ray dataset; decoding runs in CPU tasks (``map_batches`` of a
function, one CPU each), scoring in an actor pool of the same :class:`Evaluator` (one
model load per actor; one GPU per actor when the cluster has GPUs and ``--device`` is
not ``cpu``). Results stream back in input order (``preserve_order``) to the same
writers as a local run, and equal its values (the same code scores the same decoded
tensors). Paths must be readable on every node (a shared file system); relative paths
are made absolute against the driver's working folder.

The driver builds one CPU evaluator first, so that bad options and missing weights fail
before Ray starts any work. Joins ``--address`` (``auto``: the running cluster), else a
Ray instance already started in this process, else starts a local one (and stops it at
the end). Ray is an optional extra: ``pip install 'imgloss[ray]'``.
"""
from __future__ import annotations

import logging
import pickle
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

import numpy as np

from imgloss.engine.evaluator import Evaluator, RunStats
from imgloss.engine.loader import PairDataset
from imgloss.engine.options import EngineOptions
from imgloss.errors import ImglossError, UsageError
from imgloss.io import Pair
from imgloss.results import PairResult

#: Pairs per decoding task and per scoring call of an actor.
DECODE_BATCH, SCORE_BATCH = 16, 32
#: Seconds to wait for a cluster's address to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 5.0


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data])
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'imgloss[ray]'") from None
    return ray


def _check_reachable(address: str) -> None:
    """``host:port`` or ``ray://host:port`` must accept a connection (fails in seconds,
    where Ray itself would retry for a minute)."""
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UsageError(f"--address {address!r}: give auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise UsageError(f"--address {address}: cannot reach a Ray cluster there ({exc.strerror or exc})") from None


def _connect(ray: Any, address: str | None) -> bool:
    """Join or start Ray; True when this call started it (and must stop it)."""
    if ray.is_initialized():
        return False
    if address not in (None, "auto"):
        _check_reachable(address)  # type: ignore[arg-type]
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--address {address}: cannot join the Ray cluster ({first})") from None
    return True


def _decode(batch: dict[str, np.ndarray], options: EngineOptions) -> dict[str, np.ndarray]:
    """A decoding task: each pair's tensors (or why it failed), pickled. Files are read
    by their absolute paths (any node's working folder), reported as the user gave them."""
    reading = _pairs(batch, "absolute_")
    dataset = PairDataset(reading, options)
    payload = [pickle.dumps(dataset[i]) for i in range(len(reading))]
    return {**batch, "payload": np.array(payload, dtype=object)}


def _pairs(batch: dict[str, np.ndarray], prefix: str = "") -> list[Pair]:
    return [
        Pair(None if ref is None else Path(ref), Path(cand), str(key))
        for ref, cand, key in zip(batch[prefix + "reference"], batch[prefix + "candidate"], batch["key"])
    ]


class _Scorer:
    """An actor of the pool: one evaluator (one model load), scoring decoded pairs.
    :func:`_scorer` makes the class for one run's options (class data, shipped with
    the class, instead of constructor arguments kept in the object store)."""

    options: EngineOptions

    def __init__(self) -> None:
        self.evaluator = Evaluator(self.options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [pickle.loads(payload) for payload in batch["payload"]]
        for index, item in enumerate(items):
            item.index = index
        results = self.evaluator.run(_pairs(batch), decoded=items)
        return {"index": batch["index"], "result": np.array([pickle.dumps(r) for r in results], dtype=object)}


def _scorer(options: EngineOptions) -> type:
    return type("Scorer", (_Scorer,), {"options": options})


class RayEvaluator:
    """Scores pairs on a Ray cluster; ``run`` yields results in input order like :class:`Evaluator`."""

    def __init__(self, options: EngineOptions, address: str | None) -> None:
        self.ray = _ray()
        # Options and weights are checked here, before any cluster work.
        self.local = Evaluator(replace(options, device="cpu", precision="fp32", workers=0))
        self.options = replace(options, workers=0)
        self.device = self.local.device
        self.stats = RunStats()
        self.started = _connect(self.ray, address)
        resources = self.ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if options.device != "cpu" else 0
        self.actors = gpus or max(1, int(resources.get("CPU", 1)) - 1)
        self.gpus_per_actor = 1 if gpus else 0
        kind = f"{gpus} GPU" if gpus else "CPU"
        self.description = f"ray ({self.actors} {kind} actor(s), {int(resources.get('CPU', 0))} CPUs)"

    def columns(self, with_reference: bool = True) -> dict[str, bool]:
        return self.local.columns(with_reference)

    def run(self, pairs: Sequence[Pair]) -> Iterator[PairResult]:
        """Score ``pairs`` on the cluster; one result per pair, in input order."""
        started = time.perf_counter()
        try:
            if pairs:
                yield from self._stream(pairs)
        except self.ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ImglossError):
                raise cause from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"--backend ray: the cluster failed ({first})") from None
        finally:
            self.stats.pairs += len(pairs)
            self.stats.seconds += time.perf_counter() - started
            if self.started:
                self.ray.shutdown()
                self.started = False

    def _stream(self, pairs: Sequence[Pair]) -> Iterator[PairResult]:
        data = self.ray.data
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # imgloss reports progress and errors itself
        context = data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        rows = [
            {"index": i, "key": p.key, "reference": None if p.reference is None else str(p.reference),
             "candidate": str(p.candidate), "absolute_reference": None if p.reference is None else str(p.reference.absolute()),
             "absolute_candidate": str(p.candidate.absolute())}
            for i, p in enumerate(pairs)
        ]
        dataset = data.from_items(rows)
        # max_calls=0 (reuse task workers: Ray's default, said explicitly) is a task-only
        # argument: Ray Data then does not fuse decoding into the scoring actors.
        decoded = dataset.map_batches(_decode, fn_kwargs={"options": self.options}, batch_size=DECODE_BATCH,
                                      num_cpus=1, max_calls=0)
        scored = decoded.map_batches(
            _scorer(self.options), batch_size=SCORE_BATCH, compute=data.ActorPoolStrategy(size=self.actors),
            num_gpus=self.gpus_per_actor, num_cpus=0 if self.gpus_per_actor else 1,
        )
        for row in scored.iter_rows():
            yield pickle.loads(row["result"])
