"""A classifier over a model bundle: waveforms or files in, `Prediction`s out.

Every signal is cut into the bundle's windows (`core.features`), the windows of many files are batched
into one call of a compiled forward pass, and the clip verdict is the mean of its window probabilities.
Decoding and features run on a small thread pool ahead of the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audio import Waveform, load_audio
from core.errors import AudioError, Cancelled
from core.features import waveform_windows
from core.model import ModelBundle
from core.tf_runtime import tf

BATCH_WINDOWS = 512
SMOOTHING_WINDOWS = 3  # moving average over window probabilities before segments are cut


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "label": self.label,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


@dataclass(frozen=True)
class Prediction:
    """The verdict for one signal: clip probabilities, the per-window timeline and merged segments."""

    labels: tuple[str, ...]
    probabilities: np.ndarray  # (n_classes,), mean of the window probabilities
    window_starts_s: np.ndarray  # (n_windows,)
    window_probabilities: np.ndarray  # (n_windows, n_classes)
    window_s: float
    duration_s: float
    segments: tuple[Segment, ...]

    @property
    def label(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def probability_dict(self) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, self.probabilities, strict=True)}

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probability_dict().items()},
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
    """Classifies waveforms and files with one loaded bundle (the network is built once)."""

    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle
        self.spec = bundle.features
        self.labels = bundle.labels
        frames, bins = self.spec.window_shape
        model = bundle.model
        self._forward = tf.function(
            lambda x: model(x, training=False),
            reduce_retracing=True,
            input_signature=[tf.TensorSpec([None, frames, bins], tf.float32)],
        )

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> Classifier:
        return cls(ModelBundle.load(path))

    def window_probabilities(self, feats: np.ndarray) -> np.ndarray:
        """(n, frames, bins) feature windows -> (n, n_classes) probabilities, in batches."""
        if len(feats) == 0:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        out = [
            self._forward(np.ascontiguousarray(feats[a : a + BATCH_WINDOWS])).numpy()
            for a in range(0, len(feats), BATCH_WINDOWS)
        ]
        return np.concatenate(out) if len(out) > 1 else out[0]

    def classify(self, waveform: Waveform) -> Prediction:
        feats, starts = waveform_windows(waveform.samples, self.spec)
        if len(feats) == 0:
            raise AudioError(waveform.source or "audio", "contains no audio samples")
        return self.prediction(self.window_probabilities(feats), starts, waveform.duration_s)

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
        """Classify many files, in order. Decoding and features run ahead on `workers` threads; the windows
        of consecutive files share model calls. A file that fails gives a `FileResult` with `error`."""
        paths = [Path(p) for p in paths]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: list[tuple[Path, Future]] = []
            ahead = max(4, 2 * workers)
            next_index = 0
            done = 0
            ready: list[tuple[Path, tuple[np.ndarray, np.ndarray, float] | str]] = []

            def submit_more() -> None:
                nonlocal next_index
                while next_index < len(paths) and len(pending) < ahead:
                    p = paths[next_index]
                    pending.append((p, pool.submit(self._prepare, p)))
                    next_index += 1

            def flush() -> Iterator[FileResult]:
                feats_list = [r[1][0] for r in ready if not isinstance(r[1], str)]
                probs = self.window_probabilities(np.concatenate(feats_list)) if feats_list else None
                offset = 0
                for path, item in ready:
                    if isinstance(item, str):
                        yield FileResult(path, error=item)
                        continue
                    feats, starts, duration = item
                    window_probs = probs[offset : offset + len(feats)]
                    offset += len(feats)
                    yield FileResult(path, prediction=self.prediction(window_probs, starts, duration))
                ready.clear()

            submit_more()
            while pending:
                if cancel and cancel():
                    for _, f in pending:
                        f.cancel()
                    raise Cancelled("classification cancelled")
                path, future = pending.pop(0)
                ready.append((path, future.result()))
                submit_more()
                n_ready = sum(len(r[1][0]) for r in ready if not isinstance(r[1], str))
                if n_ready >= BATCH_WINDOWS or not pending:
                    for result in flush():
                        done += 1
                        if progress:
                            progress(done, len(paths))
                        yield result

    def _prepare(self, path: Path) -> tuple[np.ndarray, np.ndarray, float] | str:
        """Decode and cut into feature windows (runs on a worker thread); an error becomes its message."""
        try:
            waveform = self.load(path)
            feats, starts = waveform_windows(waveform.samples, self.spec)
            return np.ascontiguousarray(feats), starts, waveform.duration_s
        except AudioError as e:
            return str(e)
        except MemoryError:
            return f"cannot read {path}: not enough memory for a file this long"

    def prediction(self, window_probs: np.ndarray, starts_s: np.ndarray, duration_s: float) -> Prediction:
        window_probs = np.asarray(window_probs, dtype=np.float32)
        return Prediction(
            labels=self.labels,
            probabilities=window_probs.mean(axis=0),
            window_starts_s=np.asarray(starts_s),
            window_probabilities=window_probs,
            window_s=self.spec.window_s,
            duration_s=duration_s,
            segments=segments(window_probs, starts_s, self.spec.window_s, duration_s, self.labels),
        )


def segments(
    window_probs: np.ndarray, starts_s: np.ndarray, window_s: float, duration_s: float, labels: Sequence[str]
) -> tuple[Segment, ...]:
    """Merge runs of windows with the same (smoothed) verdict into segments.

    Each window speaks for the time around its centre, half way to its neighbours' centres; the first
    segment starts at 0 and the last ends at the end of the signal.
    """
    n = len(window_probs)
    if n == 0:
        return ()
    smooth = _moving_average(window_probs, SMOOTHING_WINDOWS)
    verdicts = np.argmax(smooth, axis=1)
    centres = np.asarray(starts_s) + window_s / 2
    edges = np.minimum(np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [duration_s]]), duration_s)
    change = np.flatnonzero(np.diff(verdicts)) + 1
    bounds = np.concatenate([[0], change, [n]])
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        mean = window_probs[a:b].mean(axis=0)
        out.append(
            Segment(
                float(edges[a]),
                float(edges[b]),
                labels[int(verdicts[a])],
                {k: float(v) for k, v in zip(labels, mean, strict=True)},
            )
        )
    return tuple(out)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(x) < 2:
        return x
    pad = width // 2
    padded = np.pad(x, ((pad, pad), (0, 0)), mode="edge")
    kernel = np.ones(width, dtype=np.float32) / width
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(x.shape[1])], axis=1)
