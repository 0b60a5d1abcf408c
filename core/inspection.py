"""One clip looked at closely (the app's Inspect tab, no Qt here): decoded once, its waveform envelope, a pooled
spectrogram, the copy to listen to, and the model's prediction through the analyser (`musicspeech.core.inference`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musicspeech.core.audio import MAX_DURATION_S, Waveform, load_audio, native_info, resample
from musicspeech.core.errors import AudioError
from musicspeech.core.features import FeatureSpec, frame_features

if TYPE_CHECKING:
    from musicspeech.core.inference import Classifier, Prediction

DISPLAY_RATE_HZ = 16000
PLAYBACK_MAX_RATE_HZ = 48000
PLAYBACK_FALLBACK_RATE_HZ = 44100  # a file only ffmpeg reads: its rate is not known before decoding
PLAYBACK_BUDGET_BYTES = 256 << 20
"""A file plays at its own rate (up to 48 kHz) while that copy fits in this; a longer one plays the 16 kHz copy
the tab analyses (about 20 minutes at 48 kHz, 4 hours at 16 kHz)."""
ENVELOPE_POINTS = 4000
SPECTROGRAM_COLUMNS = 3000
"""The spectrogram has at most this many columns (a 30 s clip has 2,998 frames, each its own column); a longer
clip's frames are pooled, each column the loudest of its frames: an hour in full took 750 MB to compute and
half a second of the GUI thread to show."""


@dataclass(frozen=True)
class Inspection:
    """Everything Inspect shows for one clip."""

    waveform: Waveform  # the analysed copy, at DISPLAY_RATE_HZ
    envelope_t: np.ndarray
    envelope: np.ndarray  # (points, 2): min and max per bucket
    spectrogram_db: np.ndarray  # (columns, bins)
    column_s: float  # the time one spectrogram column spans (a frame step, or several frames pooled)
    spec: FeatureSpec
    prediction: Prediction | None
    playback: Waveform  # what Play plays: the file at its own rate where that is affordable (`read_clip`)

    def for_model(self, rate_hz: int) -> Waveform:
        """The clip at a model's rate: a copy already at that rate, else resampled from the best copy there is."""
        return model_copy(self.waveform, self.playback, rate_hz)


def read_clip(path: str | Path) -> tuple[Waveform, Waveform]:
    """Decode a file ONCE: (the copy to analyse, at DISPLAY_RATE_HZ; the copy to listen to). The file is decoded
    at its own rate (up to 48 kHz) when that copy fits in `PLAYBACK_BUDGET_BYTES`, and the analysed copy is
    resampled from it in memory; otherwise it is decoded at DISPLAY_RATE_HZ and that one copy serves both. (A
    file only ffmpeg reads has no length known before decoding: it is decoded at 44.1 kHz up to the budget, and
    only one longer than that is decoded a second time, at 16 kHz.)"""
    path = Path(path)
    info = native_info(path)
    rate = min(info[0] if info else PLAYBACK_FALLBACK_RATE_HZ, PLAYBACK_MAX_RATE_HZ)
    budget_s = PLAYBACK_BUDGET_BYTES / (4 * rate)
    if rate <= DISPLAY_RATE_HZ or (info is not None and info[1] > budget_s):
        analysed = load_audio(path, DISPLAY_RATE_HZ)
        return analysed, analysed
    try:
        played = load_audio(path, rate, max_duration_s=MAX_DURATION_S if info else budget_s)
    except AudioError as e:
        if info is None and "too long" in str(e):  # longer than the budget: the 16 kHz copy only
            analysed = load_audio(path, DISPLAY_RATE_HZ)
            return analysed, analysed
        raise
    return Waveform(resample(played.samples, rate, DISPLAY_RATE_HZ), DISPLAY_RATE_HZ, played.source), played


def model_copy(analysed: Waveform, playback: Waveform, rate_hz: int) -> Waveform:
    """The clip at `rate_hz` for a model: whichever copy is at that rate, else the best one resampled."""
    for w in (analysed, playback):
        if w.rate_hz == rate_hz:
            return w
    source = playback if playback.rate_hz > analysed.rate_hz else analysed
    return Waveform(resample(source.samples, source.rate_hz, rate_hz), rate_hz, source.source)


def inspect_audio(
    waveform: Waveform,
    spec: FeatureSpec,
    classifier: Classifier | None = None,
    playback: Waveform | None = None,
) -> Inspection:
    """The envelope, spectrogram (in the display features `spec`) and, with a model, the prediction."""
    playback = playback or waveform
    t, env = envelope(waveform)
    db, frames_per_column = spectrogram_db(waveform.samples, spec)
    prediction = classifier.classify(model_copy(waveform, playback, classifier.spec.rate_hz)) if classifier else None
    column_s = frames_per_column * spec.frame_step / spec.rate_hz
    return Inspection(waveform, t, env, db, column_s, spec, prediction, playback)


def envelope(waveform: Waveform, points: int = ENVELOPE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(times, (n, 2) min and max) of the samples in about `points` buckets."""
    x = waveform.samples
    buckets = max(1, len(x) // points)
    n = len(x) // buckets
    shaped = x[: n * buckets].reshape(n, buckets) if n else np.zeros((1, 1), np.float32)
    env = np.stack([shaped.min(axis=1), shaped.max(axis=1)], axis=1)
    return (np.arange(len(env)) * buckets) / waveform.rate_hz, env


def spectrogram_db(x: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, int]:
    """(columns, bins) dB of at most `SPECTROGRAM_COLUMNS` columns, and the frames pooled into each (their
    maximum), computed a piece at a time: the memory of one piece of frames, not of every frame of a long clip."""
    if len(x) < spec.frame_length:  # a clip shorter than a frame (one sample) still has a column to draw
        x = np.pad(x, (0, spec.frame_length - len(x)))
    n_frames = spec.frame_count(len(x))
    per_column = max(1, -(-n_frames // SPECTROGRAM_COLUMNS))
    piece = per_column * max(1, 4096 // per_column)  # frames computed at once, whole columns
    columns = []
    for a in range(0, n_frames, piece):
        b = min(a + piece, n_frames)
        feats = frame_features(x[a * spec.frame_step : (b - 1) * spec.frame_step + spec.frame_length], spec)
        columns.append(np.maximum.reduceat(feats, np.arange(0, len(feats), per_column), axis=0))
    feats = np.concatenate(columns)
    db = (20 / np.log(10)) * feats if spec.kind == "logmel" else 20 * np.log10(feats + 1e-6)
    return db.astype(np.float32), per_column
