"""A classifier over a model bundle: waveforms or files in, `Prediction`s out, through the one analyser
(`core.analysis`): each signal is cut into the bundle's windows as its samples arrive, the windows of many files
are batched into one call of the network (its TensorFlow Lite flatbuffer, run by LiteRT: `musicspeech.core.runtime`; no
TensorFlow), and the verdict policy (`core.verdict`: the model's file preset) turns the window probabilities and
levels into the clip's label and its segments of music, speech and silence.
Many files go through a pipeline (`Classifier.classify_files`): files are decoded block by block on their own
threads, each block's windows cut there as it arrives, while this thread runs the network across files.
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

from musicspeech.core.analysis import Analysis, Listener, Prediction, Segment, segments
from musicspeech.core.audio import Waveform, load_audio, resample
from musicspeech.core.bundle import BundleFile, read_bundle
from musicspeech.core.errors import AudioError, Cancelled, MusicSpeechError
from musicspeech.core.runtime import network_for
from musicspeech.core.verdict import VerdictPolicy, presets

if TYPE_CHECKING:
    from musicspeech.core.datasets import Clip
    from musicspeech.core.model import ModelBundle

log = logging.getLogger(__name__)

BATCH_WINDOWS = 128  # windows per call of the network: as fast per window as 1024, a quarter of the memory of 512
CHUNK_WINDOWS = 128  # windows cut from the samples at once (64 s of audio; 3 MB of log-mel windows)
PIECES_AHEAD = 4  # pieces of one file cut and waiting for the network, at most

__all__ = ["Classifier", "FileResult", "Prediction", "Segment", "segments"]


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
    trained (`core.model.ModelBundle`). Either gives its labels, features and TensorFlow Lite network; a bundle
    may carry its verdict presets (`musicspeech.core.verdict.presets`), the defaults otherwise."""

    def __init__(self, bundle: BundleFile | ModelBundle, policy: VerdictPolicy | None = None):
        self.bundle = bundle
        self.file_policy, self.live_policy = presets(getattr(bundle, "meta", None))
        self.policy = policy or self.file_policy
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

    def analysis(
        self, policy: VerdictPolicy | None = None, listener: Listener | None = None, record: bool = True
    ) -> Analysis:
        """A new analysis of one source with this model (its network, its file preset unless told)."""
        return Analysis(self.spec, self.labels, policy or self.policy, self.window_probabilities, listener, record)

    def classify(self, waveform: Waveform, policy: VerdictPolicy | None = None) -> Prediction:
        """One signal, at any rate (resampled to the model's), through the analyser a piece at a time (memory
        for one piece of windows only)."""
        samples = waveform.samples
        if waveform.rate_hz != self.spec.rate_hz:
            samples = resample(samples, waveform.rate_hz, self.spec.rate_hz)
        if len(samples) == 0:
            raise AudioError(waveform.source or "audio", "contains no audio samples")
        analysis = self.analysis(policy)
        piece = CHUNK_WINDOWS * self.spec.hop_samples
        for a in range(0, len(samples), piece):
            analysis.feed(samples[a : a + piece])
        feats = analysis.take_end()
        if len(feats):
            analysis.give(self.window_probabilities(feats))
        return analysis.finish(waveform.duration_s)

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

        A pipeline: files are decoded ahead on `workers` threads, each file's windows cut by its analysis
        (`core.analysis`) block by block as the samples come in, handed over in pieces of `CHUNK_WINDOWS`; this
        thread runs the network on up to `BATCH_WINDOWS` windows at a time, across files. Memory: the files
        decoded ahead and a few pieces of windows per file, never all the windows of a long file."""
        paths = [Path(p) for p in paths]
        stop = threading.Event()
        decoders = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")
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
                    job = _FileJob(paths[next_index], self.analysis())
                    job.decoding = decoders.submit(self._decode, job, stop)
                    jobs.append(job)
                    next_index += 1
                job = jobs[0]
                if batch and job.pieces.empty():  # nothing to take yet: the network meanwhile
                    self._run_batch(batch)
                    yield from report()
                while (item := _get(job.pieces, cancel)) is not _END:
                    batch.append((job, item))
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

    def classify_clips(
        self,
        clips: Sequence[Clip],
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[Clip, Prediction | None, str | None]]:
        """Labelled clips (`core.datasets`), in order: (clip, prediction, None) or (clip, None, error). Clips on
        disk go through the `classify_files` pipeline; clips held in memory through `classify`."""
        on_disk = [c for c in clips if c.samples is None and c.path is not None]
        in_memory = [c for c in clips if c.samples is not None or c.path is None]
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, len(clips))

        for clip, result in zip(on_disk, self.classify_files([c.path for c in on_disk], cancel=cancel), strict=True):
            step()
            yield clip, result.prediction, result.error
        for clip in in_memory:
            if cancel and cancel():
                raise Cancelled("classification cancelled")
            try:
                prediction, error = self.classify(clip.waveform(self.spec.rate_hz)), None
            except MusicSpeechError as e:
                prediction, error = None, str(e)
            step()
            yield clip, prediction, error

    def _decode(self, job: _FileJob, stop: threading.Event) -> None:
        """Decode one file (on a decoder thread); its analysis cuts the windows of each block as it comes in,
        handed over in pieces; at most `PIECES_AHEAD` pieces wait for the network at once."""
        analysis, piece = job.analysis, CHUNK_WINDOWS * self.spec.hop_samples
        cut: list[np.ndarray] = []  # windows cut, not yet handed over
        fed = 0  # samples fed to the analysis

        def hand_over(last: bool = False) -> None:
            while cut and (last or sum(len(f) for f in cut) >= CHUNK_WINDOWS):
                feats = np.concatenate(cut) if len(cut) > 1 else cut[0]
                cut.clear()
                while not job.room.acquire(timeout=0.1):
                    if stop.is_set():
                        raise Cancelled("classification cancelled")
                job.pieces.put(feats)

        def on_block(samples: np.ndarray, filled: int, last: bool = False) -> None:
            """The analysis takes the samples decoded so far a piece at a time (the rest at the end)."""
            nonlocal fed
            if stop.is_set():
                raise Cancelled("classification cancelled")
            while filled - fed >= piece or (last and filled > fed):
                feats = analysis.take(samples[fed : min(fed + piece, filled)])
                fed = min(fed + piece, filled)
                if len(feats):
                    cut.append(feats)
                hand_over()

        try:
            waveform = load_audio(job.path, self.spec.rate_hz, on_block=on_block)
            on_block(waveform.samples, len(waveform.samples), last=True)
            job.duration_s = waveform.duration_s
            feats = analysis.take_end()
            if len(feats):
                cut.append(feats)
            hand_over(last=True)
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
        """The network on the pieces waiting, across files; each file's analysis gets its share, in order."""
        probs = self.window_probabilities(np.concatenate([feats for _, feats in batch]))
        offset = 0
        for job, feats in batch:
            job.analysis.give(probs[offset : offset + len(feats)])
            job.in_batch -= 1
            offset += len(feats)
        batch.clear()

    def _file_result(self, job: _FileJob) -> FileResult:
        if job.error is not None:
            return FileResult(job.path, error=job.error)
        return FileResult(job.path, prediction=job.analysis.finish(job.duration_s))


_END = object()  # after a file's last piece


@dataclass(eq=False)
class _FileJob:
    """One file in `classify_files`: decoded on a decoder thread, its windows cut by its analysis in pieces as the
    samples come in (`pieces`: arrays of windows in order, then `_END`), their probabilities given back to it."""

    path: Path
    analysis: Analysis
    pieces: queue.Queue = field(default_factory=queue.Queue)
    room: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(PIECES_AHEAD))
    decoding: Future | None = None
    in_batch: int = 0  # pieces waiting in the batch for the network
    duration_s: float = 0.0
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
