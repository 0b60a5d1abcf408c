"""A classifier over a model bundle: waveforms or files in, `Prediction`s out.

Every signal is cut into the bundle's windows (`core.features`), the windows of many files are batched
into one call of the network (its TensorFlow Lite flatbuffer, run by LiteRT: `core.runtime`; no TensorFlow),
and the verdict policy (`core.verdict`: silence gate, Viterbi smoothing) turns the window probabilities and
levels into the clip's label and its segments of music, speech and silence.
Many files go through a pipeline (`Classifier.classify_files`): decoding, cutting windows and the network
overlap on their own threads, and a long file is cut in pieces while it decodes.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.audio import Waveform, load_audio
from core.bundle import BundleFile, read_bundle
from core.errors import AudioError, Cancelled
from core.features import waveform_windows, window_count, window_levels_dbfs, window_range
from core.runtime import network_for
from core.verdict import FILE_POLICY, VerdictPolicy, clip_verdict, verdict_labels, window_states

if TYPE_CHECKING:
    from core.model import ModelBundle

log = logging.getLogger(__name__)

BATCH_WINDOWS = 128  # windows per call of the network: as fast per window as 1024, a quarter of the memory of 512
CHUNK_WINDOWS = 128  # windows cut from the samples at once (64 s of audio; 3 MB of log-mel windows)
PIECES_AHEAD = 4  # pieces of one file cut and waiting for the network, at most


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    label: str  # a model label (music, speech) or silence
    probabilities: dict[str, float]  # the model's, mean over the segment's windows

    @property
    def confidence(self) -> float:
        """The segment's label's mean probability (1 for silence: a level, not a guess)."""
        return self.probabilities.get(self.label, 1.0)

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "label": self.label,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


@dataclass(frozen=True)
class Prediction:
    """The verdict for one signal: its label, the model's probabilities, the per-window timeline and segments.

    `label` is a model label (music, speech) or silence; `probabilities` are the model's, the mean over the
    windows that sound (over all of them when none does); `shares` gives each verdict label's part of the
    duration, from the segments."""

    labels: tuple[str, ...]  # the model's labels
    label: str
    confidence: float
    probabilities: np.ndarray  # (n_classes,)
    window_starts_s: np.ndarray  # (n_windows,)
    window_probabilities: np.ndarray  # (n_windows, n_classes)
    window_levels_dbfs: np.ndarray  # (n_windows,) mean power of each window
    window_s: float
    duration_s: float
    segments: tuple[Segment, ...]

    def probability_dict(self) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, self.probabilities, strict=True)}

    @property
    def shares(self) -> dict[str, float]:
        """Each verdict label's share of the duration (music, speech, silence)."""
        out = dict.fromkeys(verdict_labels(self.labels), 0.0)
        total = sum(s.end_s - s.start_s for s in self.segments)
        for s in self.segments:
            out[s.label] = out.get(s.label, 0.0) + (s.end_s - s.start_s) / (total or 1.0)
        return out

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probability_dict().items()},
            "shares": {k: round(v, 4) for k, v in self.shares.items()},
            "duration_s": round(self.duration_s, 3),
            "segments": [s.to_dict() for s in self.segments],
        }


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        if self.prediction is None:
            return {"path": str(self.path), "error": self.error}
        return {"path": str(self.path), **self.prediction.to_dict()}


class Classifier:
    """Classifies waveforms and files with one model: a bundle read from its file (`core.bundle`), or one just
    trained (`core.model.ModelBundle`). Either gives its labels, features and TensorFlow Lite network."""

    def __init__(self, bundle: BundleFile | ModelBundle, policy: VerdictPolicy = FILE_POLICY):
        self.bundle = bundle
        self.policy = policy
        self.spec = bundle.features
        self.labels = bundle.labels
        name = bundle.path.name if bundle.path else "the trained model"
        self.network = network_for(bundle.tflite, self.spec, len(self.labels), name)

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> Classifier:
        """The model in a `.msmodel` file (never TensorFlow: a file of the old format 1 is refused by read_bundle)."""
        return cls(read_bundle(path))

    def window_probabilities(self, feats: np.ndarray) -> np.ndarray:
        """(n, frames, bins) feature windows -> (n, n_classes) probabilities, in batches."""
        if len(feats) == 0:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        out = [self.network(feats[a : a + BATCH_WINDOWS]) for a in range(0, len(feats), BATCH_WINDOWS)]
        return np.concatenate(out) if len(out) > 1 else out[0]

    def classify(self, waveform: Waveform) -> Prediction:
        """One signal; a long one goes through a piece at a time (memory for one piece of windows only)."""
        samples, spec = waveform.samples, self.spec
        n = window_count(len(samples), spec)
        if n == 0:  # empty, or shorter than one window (zero-padded to one)
            feats, starts = waveform_windows(samples, spec)
            if len(feats) == 0:
                raise AudioError(waveform.source or "audio", "contains no audio samples")
            levels = window_levels_dbfs(samples, spec, 0, 1)
            return self.prediction(self.window_probabilities(feats), starts, waveform.duration_s, levels)
        probs = [
            self.window_probabilities(window_range(samples, spec, a, min(a + CHUNK_WINDOWS, n)))
            for a in range(0, n, CHUNK_WINDOWS)
        ]
        levels = window_levels_dbfs(samples, spec, 0, n)
        return self.prediction(np.concatenate(probs), self._starts_s(n), waveform.duration_s, levels)

    def load(self, path: str | os.PathLike) -> Waveform:
        return load_audio(path, self.spec.rate_hz)

    def classify_path(self, path: str | os.PathLike) -> Prediction:
        return self.classify(self.load(path))

    def classify_files(
        self,
        paths: Sequence[str | os.PathLike],
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        workers: int = 2,
    ) -> Iterator[FileResult]:
        """Classify many files, in order; a file that fails gives a `FileResult` with `error`.

        A pipeline: files are decoded ahead on `workers` threads; while a file decodes, its windows are cut in
        pieces of `CHUNK_WINDOWS` on `workers` other threads as soon as their samples are in; this thread runs
        the network on up to `BATCH_WINDOWS` windows at a time, across files. Memory: the files decoded ahead
        and a few pieces of windows per file, never all the windows of a long file."""
        paths = [Path(p) for p in paths]
        stop = threading.Event()
        decoders = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")
        cutters = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="windows")
        ahead = max(4, 2 * workers)
        jobs: deque[_FileJob] = deque()  # submitted, in order
        waiting: deque[_FileJob] = deque()  # every piece taken, not yet reported
        batch: list[tuple[_FileJob, np.ndarray]] = []
        next_index = done = 0

        def report() -> Iterator[FileResult]:
            """The files at the front whose windows have all been through the network, in order."""
            nonlocal done
            while waiting and waiting[0].in_batch == 0:
                done += 1
                if progress:
                    progress(done, len(paths))
                yield self._file_result(waiting.popleft())

        try:
            while jobs or next_index < len(paths):
                while next_index < len(paths) and len(jobs) < ahead:
                    job = _FileJob(paths[next_index])
                    job.decoding = decoders.submit(self._decode, job, cutters, stop)
                    jobs.append(job)
                    next_index += 1
                job = jobs[0]
                if batch and job.pieces.empty():  # nothing to take yet: the network meanwhile
                    self._run_batch(batch)
                    yield from report()
                while (item := _get(job.pieces, cancel)) is not _END:
                    batch.append((job, item.result()))
                    job.in_batch += 1
                    job.room.release()
                    if job.pieces.empty() or sum(len(f) for _, f in batch) >= BATCH_WINDOWS:
                        self._run_batch(batch)  # a full batch, or nothing more yet: the network meanwhile
                        yield from report()
                job.decoding.result()
                waiting.append(jobs.popleft())
                if not jobs and next_index == len(paths) and batch:
                    self._run_batch(batch)
                yield from report()
        finally:
            stop.set()
            decoders.shutdown(cancel_futures=True)
            cutters.shutdown(cancel_futures=True)

    def _decode(self, job: _FileJob, cutters: ThreadPoolExecutor, stop: threading.Event) -> None:
        """Decode one file (on a decoder thread), handing its windows to `cutters` piece by piece as the samples
        come in; at most `PIECES_AHEAD` pieces wait for the network at once."""
        spec = self.spec
        handed = 0  # windows handed over so far

        def hand_over(samples: np.ndarray, first: int, stop_index: int) -> None:
            while not job.room.acquire(timeout=0.1):
                if stop.is_set():
                    raise Cancelled("classification cancelled")
            job.pieces.put(cutters.submit(window_range, samples, spec, first, stop_index))

        def on_block(samples: np.ndarray, filled: int) -> None:
            nonlocal handed
            if stop.is_set():
                raise Cancelled("classification cancelled")
            while window_count(filled, spec) - handed >= CHUNK_WINDOWS:
                hand_over(samples, handed, handed + CHUNK_WINDOWS)
                handed += CHUNK_WINDOWS

        try:
            waveform = load_audio(job.path, spec.rate_hz, on_block=on_block)
            n = window_count(len(waveform.samples), spec)
            if n == 0:  # shorter than one window: zero-padded to one
                done: Future = Future()
                done.set_result(waveform_windows(waveform.samples, spec)[0])
                job.pieces.put(done)
                n = 1
            for a in range(handed, n, CHUNK_WINDOWS):
                hand_over(waveform.samples, a, min(a + CHUNK_WINDOWS, n))
            job.n_windows, job.duration_s = n, waveform.duration_s
            job.levels = window_levels_dbfs(waveform.samples, spec, 0, n)
        except AudioError as e:
            job.error = str(e)
        except MemoryError:
            job.error = f"cannot read {job.path}: not enough memory for a file this long"
        except Cancelled:
            job.error = "cancelled"
        except Exception as e:  # a bug met on one file: that file's line says so, and the others go on
            log.info("decoding %s failed", job.path, exc_info=True)  # the app's log; nothing on the CLI's stderr
            first_line = (str(e).strip().splitlines() or [""])[0]
            job.error = f"cannot read {job.path}: unexpected error ({type(e).__name__}: {first_line})"
        finally:
            job.pieces.put(_END)

    def _run_batch(self, batch: list[tuple[_FileJob, np.ndarray]]) -> None:
        """The network on the pieces waiting, across files; each file keeps its share of the probabilities."""
        probs = self.window_probabilities(np.concatenate([feats for _, feats in batch]))
        offset = 0
        for job, feats in batch:
            job.probabilities.append(probs[offset : offset + len(feats)])
            job.in_batch -= 1
            offset += len(feats)
        batch.clear()

    def _file_result(self, job: _FileJob) -> FileResult:
        if job.error is not None:
            return FileResult(job.path, error=job.error)
        probs = np.concatenate(job.probabilities)
        prediction = self.prediction(probs, self._starts_s(job.n_windows), job.duration_s, job.levels)
        return FileResult(job.path, prediction=prediction)

    def _starts_s(self, n_windows: int) -> np.ndarray:
        return np.arange(n_windows, dtype=np.float64) * self.spec.hop_samples / self.spec.rate_hz

    def prediction(
        self, window_probs: np.ndarray, starts_s: np.ndarray, duration_s: float, levels_dbfs: np.ndarray
    ) -> Prediction:
        """The verdict policy over the windows' probabilities and levels."""
        window_probs = np.asarray(window_probs, dtype=np.float32)
        levels_dbfs = np.asarray(levels_dbfs, dtype=np.float32)
        path, states = window_states(window_probs, levels_dbfs, self.labels, self.policy)
        label, confidence, probabilities = clip_verdict(window_probs, levels_dbfs, path, self.labels, self.policy)
        return Prediction(
            labels=self.labels,
            label=label,
            confidence=confidence,
            probabilities=probabilities.astype(np.float32),
            window_starts_s=np.asarray(starts_s),
            window_probabilities=window_probs,
            window_levels_dbfs=levels_dbfs,
            window_s=self.spec.window_s,
            duration_s=duration_s,
            segments=segments(window_probs, path, states, starts_s, self.spec.window_s, duration_s, self.labels),
        )


def segments(
    window_probs: np.ndarray,
    path: np.ndarray,
    states: Sequence[str],
    starts_s: np.ndarray,
    window_s: float,
    duration_s: float,
    labels: Sequence[str],
) -> tuple[Segment, ...]:
    """Merge runs of windows with the same verdict (`path`: indices into `states`) into segments.

    Each window speaks for the time around its centre, half way to its neighbours' centres; the first
    segment starts at 0 and the last ends at the end of the signal.
    """
    n = len(window_probs)
    if n == 0:
        return ()
    centres = np.asarray(starts_s) + window_s / 2
    edges = np.minimum(np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [duration_s]]), duration_s)
    change = np.flatnonzero(np.diff(path)) + 1
    bounds = np.concatenate([[0], change, [n]])
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        mean = window_probs[a:b].mean(axis=0)
        out.append(
            Segment(
                float(edges[a]),
                float(edges[b]),
                states[int(path[a])],
                {k: float(v) for k, v in zip(labels, mean, strict=True)},
            )
        )
    return tuple(out)


_END = object()  # after a file's last piece


@dataclass(eq=False)
class _FileJob:
    """One file in `classify_files`: decoded on a decoder thread, its windows cut in pieces as the samples come
    in (`pieces`: futures in order, then `_END`), their probabilities gathered for the prediction."""

    path: Path
    pieces: queue.Queue = field(default_factory=queue.Queue)
    room: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(PIECES_AHEAD))
    decoding: Future | None = None
    in_batch: int = 0  # pieces waiting in the batch for the network
    probabilities: list[np.ndarray] = field(default_factory=list)
    n_windows: int = 0
    duration_s: float = 0.0
    levels: np.ndarray | None = None  # each window's level, dBFS
    error: str | None = None


def _get(pieces: queue.Queue, cancel: Callable[[], bool] | None):
    """The next piece (or `_END`), checking for a cancel while waiting."""
    while True:
        if cancel and cancel():
            raise Cancelled("classification cancelled")
        try:
            return pieces.get(timeout=0.05)
        except queue.Empty:
            continue
