"""The one analyser: blocks of samples of any size in; frames, window probabilities, levels, verdicts and segments
out. Files, the microphone, Inspect, evaluation and the benchmarks all go through it.

    blocks of samples ─> WindowStream: frames (core.features, each computed once) ─> model windows + levels
      ─> the network (`Analysis.feed`, or the caller batching windows of many sources: `take` / `give`)
      ─> the verdict policy (core.verdict: the file preset or the live preset) ─> verdicts, segments, Prediction

A window's features and level depend only on the samples it covers, never on how the samples were cut into
blocks: a file decoded block by block, the same file in one block, or a microphone's small blocks give the same
windows (to float32 rounding) and the same verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from musicspeech.core.features import FeatureSpec, frame_features, windows
from musicspeech.core.verdict import (
    FILE_POLICY,
    SILENCE,
    VerdictPolicy,
    clip_verdict,
    decide,
    verdict_labels,
    window_edges,
    window_states,
)

Network = Callable[[np.ndarray], np.ndarray]  # (n, frames, bins) windows -> (n, n_classes) probabilities


@dataclass(frozen=True)
class Segment:
    """A run of audio with one verdict: music, speech or silence."""

    start_s: float
    end_s: float
    label: str  # a model label (music, speech) or silence
    probabilities: dict[str, float]  # the model's, mean over the segment's windows (or verdicts)

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
class Verdict:
    """A causal verdict on the audio from `start_s` to `end_s` (seconds since the start)."""

    start_s: float
    end_s: float
    label: str  # a model label, or SILENCE: the current segment's (see `Listener.verdict`)
    probabilities: dict[str, float]
    level_dbfs: float

    @property
    def confidence(self) -> float:
        return self.probabilities.get(self.label, 1.0)


class Listener:
    """Hears what an analysis finds as it goes; every method is optional. Called on the thread that feeds."""

    def frames(self, feats: np.ndarray, levels_dbfs: np.ndarray) -> None:
        """New feature frames (n, bins) in the model's features, and each frame's level (causal presets)."""

    def verdict(self, verdict: Verdict) -> None:
        """A causal verdict was made (every hop). Its label is the current segment's: with the preset's
        `min_segment_s`, a new label shows only on the verdict that completes `min_segment_s` of it in a row
        (silence: `silence_hold_s`, if longer); while that change is pending, verdicts keep the label before it
        (a run that does not last never shows)."""

    def segment(self, segment: Segment) -> None:
        """A causal verdict changed: the segment that just ended (and the last one, at `finish`). With
        `min_segment_s` or `silence_hold_s`, it ends where the run of the new label began, up to that long before
        now."""


@dataclass(frozen=True)
class Windows:
    """Windows cut by a `WindowStream` from the samples fed so far: `feats[i]` is window `first + i`."""

    first: int
    feats: np.ndarray  # (n, frames, bins) float32, contiguous: ready for the network
    levels_dbfs: np.ndarray  # (n,) mean power of the samples each window covers
    frames: np.ndarray  # the new feature frames (m, bins)
    frame_levels_dbfs: np.ndarray | None  # (m,) their levels (mean power), when the stream measures them


class WindowStream:
    """Samples in blocks of any size -> feature frames (each computed once) and the model windows due, one every
    `hop_frames` frames (default: the spec's hop). Keeps only the samples and frames the next windows need."""

    def __init__(self, spec: FeatureSpec, hop_frames: int | None = None, frame_levels: bool = False):
        self.spec = spec
        self.hop_frames = hop_frames or spec.hop_frames
        self.frame_levels = frame_levels
        self.n_samples = self.n_frames = self.n_windows = 0  # fed, computed, cut so far
        self._buf = np.zeros(0, np.float32)  # samples from `_buf_first` on
        self._buf_first = 0
        self._frames = np.zeros((0, spec.n_bins), np.float32)  # frames from `_frames_first` on
        self._frames_first = 0
        self.padded = False  # `end` cut one zero-padded window from a signal shorter than a window

    def feed(self, samples: np.ndarray) -> Windows:
        spec, hop, step = self.spec, self.hop_frames, self.spec.frame_step
        samples = np.asarray(samples, np.float32).reshape(-1)
        x = np.concatenate([self._buf, samples]) if len(self._buf) else samples
        self.n_samples += len(samples)
        total = spec.frame_count(self.n_samples)
        new = np.zeros((0, spec.n_bins), np.float32)
        frame_levels = np.zeros(0, np.float32) if self.frame_levels else None
        if total > self.n_frames:
            a = self.n_frames * step - self._buf_first
            part = x[a : (total - 1) * step + spec.frame_length - self._buf_first]
            new = frame_features(part, spec)
            if self.frame_levels:
                framed = np.lib.stride_tricks.sliding_window_view(part, spec.frame_length)[::step]
                frame_levels = _dbfs(np.einsum("ij,ij->i", framed, framed, dtype=np.float32) / spec.frame_length)
        frames = np.concatenate([self._frames, new]) if len(self._frames) else new
        frames_first = self._frames_first if len(self._frames) else self.n_frames
        first, due = self.n_windows, spec.window_count(self.n_samples, hop)
        count = due - first
        if count > 0:
            s = first * hop - frames_first
            feats = np.ascontiguousarray(
                windows(frames[s : s + (count - 1) * hop + spec.frames_per_window], spec, hop), np.float32
            )
            a = first * hop * step - self._buf_first
            covered = x[a : a + (count - 1) * hop * step + spec.window_span_samples].astype(np.float64)
            spans = np.lib.stride_tricks.sliding_window_view(covered, spec.window_span_samples)[:: hop * step]
            levels = _dbfs(np.einsum("ij,ij->i", spans, spans) / spec.window_span_samples)
        else:
            feats = np.zeros((0, *spec.window_shape), np.float32)
            levels = np.zeros(0, np.float32)
        self.n_frames, self.n_windows = total, max(due, first)
        keep = min(self.n_windows * hop, total)  # the next window's first frame, or the next frame to compute
        self._frames = frames[keep - frames_first :] if keep - frames_first < len(frames) else frames[:0]
        self._frames_first = keep
        self._buf = x[keep * step - self._buf_first :].copy()
        self._buf_first = keep * step
        return Windows(first, feats, levels, new, frame_levels)

    def end(self) -> Windows:
        """After the last samples: a signal shorter than one window gets one window, zero-padded (so every
        non-empty signal has a verdict); its level counts the samples there are."""
        spec = self.spec
        empty = Windows(self.n_windows, np.zeros((0, *spec.window_shape), np.float32), np.zeros(0, np.float32),
                        np.zeros((0, spec.n_bins), np.float32), None)  # fmt: skip
        if self.n_windows or self.n_samples == 0 or self.padded:
            return empty
        x = self._buf[: self.n_samples]
        padded = np.pad(x, (0, spec.window_samples - len(x)))
        feats = np.ascontiguousarray(windows(frame_features(padded, spec), spec), np.float32)
        level = _dbfs(np.array([np.dot(x.astype(np.float64), x) / len(x)]))
        self.padded, self.n_windows = True, 1
        return Windows(0, feats, level, empty.frames, None)


class Analysis:
    """One source through the analyser, with one verdict policy (a preset of `musicspeech.core.verdict.VerdictPolicy`).

    `feed(samples)` runs the network on the windows due (with `network`); a caller batching many sources calls
    `take(samples)` for the windows and hands their probabilities back in order with `give(probs)`. `finish()`
    gives the `Prediction`. The file preset decides over the whole signal (Viterbi, at `finish`); a causal
    (live) preset makes a `Verdict` every hop as the probabilities arrive, and a `Segment` at each change, told
    to `listener`. With `record=False` (a microphone for hours) the windows are not kept: no `Prediction`."""

    def __init__(
        self,
        spec: FeatureSpec,
        labels: Sequence[str],
        policy: VerdictPolicy = FILE_POLICY,
        network: Network | None = None,
        listener: Listener | None = None,
        record: bool = True,
    ):
        self.spec, self.labels, self.policy = spec, tuple(labels), policy
        self.network, self.listener, self.record = network, listener or Listener(), record
        fpw = spec.frames_per_window
        if policy.causal:
            hop = spec.steps_in(policy.hop_s or spec.hop_s)
            wanted = spec.frames_in(policy.window_s or spec.window_s)
            if wanted < fpw:
                raise ValueError(f"the live window must be at least the model's window ({spec.window_s:g} s)")
            if hop > wanted:
                raise ValueError("the hop must be positive and no longer than the window")
            self.per_verdict = 1 + (wanted - fpw) // hop  # model windows a verdict averages
            self.verdict_frames = fpw + (self.per_verdict - 1) * hop
            hop_s = hop * spec.frame_step / spec.rate_hz
            self._hold = max(1, math.ceil(policy.min_segment_s / hop_s - 1e-9))  # verdicts a change must last
            self._silence_hold = max(self._hold, math.ceil(policy.silence_hold_s / hop_s - 1e-9))  # one to silence
        else:
            hop, self.per_verdict, self.verdict_frames = spec.hop_frames, 1, fpw
        self.hop_frames = hop
        self.stream = WindowStream(spec, hop, frame_levels=policy.causal)
        self.verdicts = 0
        self._waiting: list[np.ndarray] = []  # levels of windows taken, their probabilities not yet given
        self._given = 0  # windows whose probabilities were given
        self._probs: list[np.ndarray] = []
        self._levels: list[np.ndarray] = []
        # causal state
        self._states: list[int] = []  # each verdict's state (index into verdict_labels), recorded
        self._recent = np.zeros((0, len(self.labels)))  # the last windows' probabilities and powers
        self._recent_power = np.zeros(0)
        self._power = np.zeros(0, np.float32)  # frame levels from frame `_power_first` on
        self._power_first = 0
        self._decided: str | None = None  # the last verdict as decided (`core.verdict.decide`)
        self._label: str | None = None  # the current segment's label: the verdicts' label
        self._segment: tuple[float, np.ndarray, int] | None = None  # (start_s, sum of probabilities, verdicts)
        # a change of label waiting for min_segment_s: (label, boundary_s, sum of probabilities, verdicts)
        self._pending: tuple[str, float, np.ndarray, int] | None = None
        self._last_end_s = 0.0
        self._segments: list[Segment] = []

    @property
    def window_starts_s(self) -> np.ndarray:
        return self.spec.window_starts_s(self._given, self.hop_frames)

    def take(self, samples: np.ndarray) -> np.ndarray:
        """The next samples (mono float32 at the model's rate); returns the windows due, for the network."""
        return self._taken(self.stream.feed(samples))

    def take_end(self) -> np.ndarray:
        """After the last samples: the window of a signal shorter than one window (file preset), if any."""
        if self.policy.causal:
            return np.zeros((0, *self.spec.window_shape), np.float32)
        return self._taken(self.stream.end())

    def _taken(self, w: Windows) -> np.ndarray:
        if w.frame_levels_dbfs is not None and len(w.frames):
            self.listener.frames(w.frames, w.frame_levels_dbfs)
            if self.policy.causal:  # frames from the next verdict's window on
                needed = self._given * self.hop_frames + self.spec.frames_per_window - self.verdict_frames
                cut = min(max(0, needed - self._power_first), len(self._power))
                self._power = np.concatenate([self._power[cut:], w.frame_levels_dbfs])
                self._power_first += cut
        if len(w.feats):
            self._waiting.append(w.levels_dbfs)
        return w.feats

    def give(self, probs: np.ndarray) -> None:
        """The network's probabilities for the next windows taken, in order (any number of them)."""
        probs = np.asarray(probs, np.float32)
        while len(probs):
            levels = self._waiting[0]
            n = min(len(levels), len(probs))
            part, probs = probs[:n], probs[n:]
            self._waiting[0] = levels[n:]
            if not len(self._waiting[0]):
                self._waiting.pop(0)
            if self.record:
                self._probs.append(part)
                self._levels.append(levels[:n])
            if self.policy.causal:
                self._verdicts(part, levels[:n])
            self._given += n

    def feed(self, samples: np.ndarray) -> None:
        """`take` and `give` with this analysis's own network."""
        feats = self.take(samples)
        if len(feats):
            self.give(self.network(feats))

    @property
    def pending(self) -> int:
        """Windows taken whose probabilities have not been given yet."""
        return sum(len(levels) for levels in self._waiting)

    # causal verdicts ------------------------------------------------------------------------------------------
    def _verdicts(self, probs: np.ndarray, levels: np.ndarray) -> None:
        spec, k = self.spec, self.per_verdict
        first = self._given
        self._recent = np.concatenate([self._recent, probs])
        self._recent_power = np.concatenate([self._recent_power, 10.0 ** (levels.astype(np.float64) / 10)])
        for j in range(len(probs)):
            i = first + j  # window index
            if i + 1 < k:
                continue
            r = len(self._recent) - len(probs) + j
            mean = self._recent[r - k + 1 : r + 1].mean(axis=0)
            level = float(_dbfs(np.array([self._recent_power[r - k + 1 : r + 1].mean()]))[0])
            end = i * self.hop_frames + spec.frames_per_window  # frame count at the verdict window's end
            a = end - self.verdict_frames - self._power_first
            silent = self._power[a : end - self._power_first] < self.policy.silence_dbfs
            edge_s = _silent_edge(silent) * spec.frame_step / spec.rate_hz
            self._decided = decide(mean, level, edge_s, self._decided, self.labels, self.policy)
            start_s, end_s = (end - self.verdict_frames) * spec.frame_step / spec.rate_hz, spec.frames_end_s(end)
            ended, changed_back = self._track(self._decided, start_s, end_s, mean)
            verdict = Verdict(
                start_s,
                end_s,
                self._label,
                {name: float(p) for name, p in zip(self.labels, mean, strict=True)},
                level,
            )
            self.verdicts += 1
            if self.record:
                state = verdict_labels(self.labels).index(self._label)
                if changed_back:  # the verdicts of the run that made the change have its label too
                    self._states[len(self._states) - changed_back :] = [state] * changed_back
                self._states.append(state)
            self.listener.verdict(verdict)
            if ended is not None:
                self._tell(ended)
        self._recent, self._recent_power = self._recent[-k:], self._recent_power[-k:]

    def _track(self, decided: str, start_s: float, end_s: float, probs: np.ndarray) -> tuple[Segment | None, int]:
        """Follow the decided labels into segments: a change is made once the new label has been decided for
        `min_segment_s` of verdicts in a row, with the boundary where that run began. Returns the segment that
        ended (to tell after the verdict) and how many verdicts before this one the change reaches back."""
        probs = probs.astype(np.float64)
        self._last_end_s = end_s
        if self._segment is None:
            self._segment, self._label = (start_s, probs, 1), decided
            return None, 0
        if decided == self._label:
            self._drop_pending()
            start, total, count = self._segment
            self._segment = (start, total + probs, count + 1)  # a running sum: hours of one label cost nothing
            return None, 0
        if self._pending is not None and self._pending[0] != decided:
            self._drop_pending()  # a run of another label began: the one before it was too short
        if self._pending is None:
            boundary = max(self._segment[0], (start_s + end_s) / 2)
            self._pending = (decided, boundary, probs, 1)
        else:
            label, boundary, total, count = self._pending
            self._pending = (label, boundary, total + probs, count + 1)
        label, boundary, total, count = self._pending
        if count < (self._silence_hold if label == SILENCE else self._hold):
            return None, 0
        ended = self._ended(boundary)
        self._pending, self._segment, self._label = None, (boundary, total, count), label
        return ended, count - 1

    def _drop_pending(self) -> None:
        """A change that did not last: its verdicts stay in the current segment."""
        if self._pending is not None:
            _, _, total, count = self._pending
            start, seg_total, seg_count = self._segment
            self._segment = (start, seg_total + total, seg_count + count)
            self._pending = None

    def _ended(self, end_s: float) -> Segment:
        start, total, count = self._segment
        mean = total / count
        return Segment(start, end_s, self._label, {k: float(v) for k, v in zip(self.labels, mean, strict=True)})

    def _tell(self, segment: Segment) -> None:
        if self.record:
            self._segments.append(segment)
        self.listener.segment(segment)

    def close_segment(self) -> None:
        """End the current causal segment at the last verdict (a microphone stopped); a change still waiting
        for `min_segment_s` stays in it."""
        if self._segment is not None:
            self._drop_pending()
            self._tell(self._ended(self._last_end_s))
            self._segment = None
            self._label = self._decided = None

    # the result -----------------------------------------------------------------------------------------------
    def finish(self, duration_s: float | None = None) -> Prediction:
        """The prediction for everything fed (every window's probabilities given). `duration_s` defaults to the
        samples fed."""
        if self.pending:
            raise RuntimeError("finish() with windows whose probabilities were not given")
        if not self.record:
            raise RuntimeError("an analysis with record=False keeps no windows to predict from")
        self.close_segment()
        spec, labels = self.spec, self.labels
        if duration_s is None:
            duration_s = self.stream.n_samples / spec.rate_hz
        n = self._given
        probs = np.concatenate(self._probs) if self._probs else np.zeros((0, len(labels)), np.float32)
        levels = np.concatenate(self._levels) if self._levels else np.zeros(0, np.float32)
        starts = self.window_starts_s
        if self.policy.causal:
            states = verdict_labels(labels)
            silent = len(states) - 1
            path = np.asarray(self._states, np.int64)
            head = path[0] if len(path) else silent  # windows before the first verdict: its verdict
            path = np.concatenate([np.full(n - len(path), head, np.int64), path])
            found = tuple(self._segments)
        else:
            edges = window_edges(starts, spec.window_s, duration_s)
            path, states = window_states(probs, levels, labels, self.policy, edges)
            found = segments(probs, path, states, starts, spec.window_s, duration_s, labels)
        label, confidence, mean = clip_verdict(probs, levels, path, labels, self.policy)
        return Prediction(
            labels=labels,
            label=label,
            confidence=confidence,
            probabilities=mean.astype(np.float32),
            window_starts_s=starts,
            window_probabilities=probs,
            window_levels_dbfs=levels,
            window_s=spec.window_s,
            duration_s=duration_s,
            segments=found,
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
    edges = window_edges(starts_s, window_s, duration_s)
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


def _silent_edge(silent: np.ndarray) -> int:
    """The longer run of silent frames at either end of a window (pauses inside it do not count)."""
    if silent.all():
        return len(silent)
    return max(int(np.argmin(silent)), int(np.argmin(silent[::-1])))


def _dbfs(power: np.ndarray) -> np.ndarray:
    return (10 * np.log10(np.maximum(power, 1e-12))).astype(np.float32)


__all__ = ["SILENCE", "Analysis", "Listener", "Prediction", "Segment", "Verdict", "WindowStream", "Windows"]
