"""Samples -> model input. The ONE implementation of the features, for training, files and live audio alike.

A `FeatureSpec` says everything about it and is saved with the model. The spectrogram is computed once per
signal as a sequence of frames; model windows are views of `frames_per_window` consecutive frames, taken every
`hop_frames`. Because window starts fall on frame boundaries, a window's features are the same whether they
were cut from a whole file or computed from a live buffer holding just that window: the same frames through
the same code. (The same to float32 rounding, not always bit for bit: OpenBLAS computes the mel product of a
frame with other instructions depending on where the frame sits in the matrix; seen up to 6e-7 apart.)

Importing this module sets numpy's BLAS (OpenBLAS) to one thread for the process: the only product here is the
small mel projection of each chunk, the features already run on several worker threads, and OpenBLAS's own
threads spin after every product, taking the cores from the decoding workers and the network (measured on
2 cores: classify_files on GTZAN used 2.1x the CPU time with them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits

threadpool_limits(1, user_api="blas")

FeatureKind = Literal["stft", "logmel", "yamnet"]

YAMNET_PATCH_SAMPLES = 15600  # YAMNet's input: 0.975 s at 16 kHz
YAMNET_EMBEDDING_SIZE = 1024  # what its head (the trained network) takes

_CHUNK_FRAMES = 512  # frames transformed at once: the intermediates stay in the CPU cache (4096: 2.4x slower)


@dataclass(frozen=True)
class FeatureSpec:
    """How samples become features. Saved in every model bundle; units are in the names."""

    kind: FeatureKind = "logmel"
    rate_hz: int = 16000
    frame_length: int = 400  # samples per STFT frame (25 ms at 16 kHz)
    frame_step: int = 160  # samples between frames (10 ms)
    fft_length: int = 512
    n_mels: int = 64  # logmel only
    fmin_hz: float = 60.0  # logmel only
    fmax_hz: float = 7800.0  # logmel only
    log_offset: float = 1e-6  # logmel only: log(mel + offset)
    window_s: float = 1.0  # model input length
    hop_s: float = 0.5  # distance between consecutive windows in files and live audio
    window_norm: bool = False  # subtract each window's mean (logmel: makes the input independent of gain)

    def __post_init__(self) -> None:
        if self.kind not in ("stft", "logmel", "yamnet"):
            raise ValueError(f"unknown feature kind {self.kind!r} (expected 'stft', 'logmel' or 'yamnet')")
        if self.kind == "yamnet" and not (
            self.rate_hz == 16000
            and self.frame_length == self.frame_step
            and self.window_samples == YAMNET_PATCH_SAMPLES
            and YAMNET_PATCH_SAMPLES % self.frame_step == 0
        ):
            raise ValueError("yamnet features need 16 kHz, window_s 0.975 and frame_length = frame_step dividing 15600")
        if not (0 < self.frame_length <= self.fft_length and self.frame_step > 0):
            raise ValueError("need 0 < frame_length <= fft_length and frame_step > 0")
        if self.window_samples < self.frame_length:
            raise ValueError("the window must hold at least one frame and the hop at least one frame step")
        if self.kind == "logmel" and not (0 <= self.fmin_hz < self.fmax_hz <= self.rate_hz / 2):
            raise ValueError("need 0 <= fmin_hz < fmax_hz <= rate_hz / 2")

    # Derived sizes ---------------------------------------------------------------------------------------
    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def frames_per_window(self) -> int:
        return self.frame_count(self.window_samples)

    @property
    def hop_frames(self) -> int:
        """Window hop in frames: `hop_s` rounded to whole frame steps, so windows align with frames."""
        return self.steps_in(self.hop_s)

    @property
    def hop_samples(self) -> int:
        return self.hop_frames * self.frame_step

    @property
    def window_span_samples(self) -> int:
        """Samples that one window's frames cover (a little less than `window_samples` when frames do not tile
        it)."""
        return (self.frames_per_window - 1) * self.frame_step + self.frame_length

    # The frame arithmetic, written once ---------------------------------------------------------------------
    def frame_count(self, n_samples: int) -> int:
        """How many whole frames `n_samples` samples hold."""
        return 0 if n_samples < self.frame_length else 1 + (n_samples - self.frame_length) // self.frame_step

    def frames_in(self, seconds: float) -> int:
        """Whole frames in `seconds` of audio (at least one when `seconds` holds a frame)."""
        return self.frame_count(int(round(seconds * self.rate_hz)))

    def steps_in(self, seconds: float) -> int:
        """`seconds` rounded to whole frame steps (at least one): a hop that keeps windows on frame boundaries."""
        return max(1, int(round(seconds * self.rate_hz / self.frame_step)))

    def window_count(self, n_samples: int, hop_frames: int | None = None) -> int:
        """How many whole windows `n_samples` samples hold, one every `hop_frames` (default: the spec's hop)."""
        n_frames = self.frame_count(n_samples)
        if n_frames < self.frames_per_window:
            return 0
        return 1 + (n_frames - self.frames_per_window) // (hop_frames or self.hop_frames)

    def frames_end_s(self, n_frames: int) -> float:
        """Audio time at the end of frame `n_frames - 1` (0 for no frame)."""
        return 0.0 if n_frames <= 0 else ((n_frames - 1) * self.frame_step + self.frame_length) / self.rate_hz

    def window_starts_s(self, n_windows: int, hop_frames: int | None = None) -> np.ndarray:
        """Start time of each of the first `n_windows` windows, in seconds."""
        hop = (hop_frames or self.hop_frames) * self.frame_step
        return np.arange(n_windows, dtype=np.float64) * hop / self.rate_hz

    @property
    def n_bins(self) -> int:
        if self.kind == "yamnet":
            return self.frame_length  # samples: a "frame" is a block of the waveform itself
        return self.n_mels if self.kind == "logmel" else self.fft_length // 2 + 1

    @property
    def model_input_shape(self) -> tuple[int, ...]:
        """Shape of one input of the bundle's own network: a window, or for yamnet YAMNet's embedding of it
        (YAMNet itself runs before the network: `musicspeech.core.yamnet`)."""
        return (YAMNET_EMBEDDING_SIZE,) if self.kind == "yamnet" else self.window_shape

    @property
    def window_shape(self) -> tuple[int, int]:
        """Shape of one model input (time frames, frequency bins)."""
        return (self.frames_per_window, self.n_bins)

    def bin_frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each feature bin, for axes in Hz."""
        if self.kind == "stft":
            return np.fft.rfftfreq(self.fft_length, 1.0 / self.rate_hz).astype(np.float32)
        edges = _mel_to_hz(np.linspace(_hz_to_mel(self.fmin_hz), _hz_to_mel(self.fmax_hz), self.n_mels + 2))
        return edges[1:-1].astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown feature settings: {', '.join(sorted(unknown))}")
        return cls(**data)


def frame_features(samples: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Mono float32 samples at `spec.rate_hz` -> (n_frames, n_bins) float32 features.

    stft: |STFT| with a periodic Hann window, as `tf.signal.stft` (the seed's features).
    logmel: log(mel(|STFT|) + log_offset), with the HTK mel scale of `tf.signal.linear_to_mel_weight_matrix`.
    yamnet: the samples themselves in blocks of `frame_step` (a window of them is one YAMNet patch, which
    `musicspeech.core.yamnet` turns into an embedding: YAMNet computes its own log-mel spectrogram).
    """
    samples = np.asarray(samples, dtype=np.float32)
    n_frames = spec.frame_count(len(samples))
    out = np.empty((n_frames, spec.n_bins), dtype=np.float32)
    if n_frames == 0:
        return out
    if spec.kind == "yamnet":
        out[:] = samples[: n_frames * spec.frame_step].reshape(n_frames, spec.frame_step)
        return out
    frames = np.lib.stride_tricks.sliding_window_view(samples, spec.frame_length)[:: spec.frame_step]
    window = _hann(spec.frame_length)
    mel = _mel_matrix(spec) if spec.kind == "logmel" else None
    for a in range(0, n_frames, _CHUNK_FRAMES):
        chunk = frames[a : a + _CHUNK_FRAMES] * window  # float64: NumPy 2's float32 FFT is 2.7x slower here
        magnitude = np.abs(np.fft.rfft(chunk, n=spec.fft_length, axis=-1)).astype(np.float32)
        if mel is None:
            out[a : a + len(chunk)] = magnitude
        else:
            np.log(magnitude @ mel + np.float32(spec.log_offset), out=out[a : a + len(chunk)])
    return out


def windows(frame_feats: np.ndarray, spec: FeatureSpec, hop_frames: int | None = None) -> np.ndarray:
    """(n_frames, n_bins) -> (n_windows, frames_per_window, n_bins), every `hop_frames` (default: the spec's).

    Without `window_norm` this is a read-only view (no copy); with it, each window minus its mean.
    """
    if len(frame_feats) < spec.frames_per_window:
        return np.empty((0, *spec.window_shape), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(frame_feats, spec.frames_per_window, axis=0)
    view = view[:: hop_frames or spec.hop_frames].transpose(0, 2, 1)
    if spec.window_norm:
        return view - view.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
    return view


def waveform_windows(samples: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Samples -> (window features (n, frames, bins), window start times in s).

    A signal shorter than one window is zero-padded to one window, so every non-empty signal has a verdict.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if 0 < len(samples) < spec.window_samples:
        samples = np.pad(samples, (0, spec.window_samples - len(samples)))
    feats = windows(frame_features(samples, spec), spec)
    return feats, spec.window_starts_s(len(feats))


def mel_matrix(spec: FeatureSpec) -> np.ndarray:
    """(fft_length // 2 + 1, n_mels) triangular mel filters, as `tf.signal.linear_to_mel_weight_matrix`."""
    n_spec = spec.fft_length // 2 + 1
    linear_hz = np.linspace(0.0, spec.rate_hz / 2, n_spec)[1:]  # the DC bin gets no weight
    linear_mel = _hz_to_mel(linear_hz)[:, None]
    edges = np.linspace(_hz_to_mel(spec.fmin_hz), _hz_to_mel(spec.fmax_hz), spec.n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (linear_mel - lower) / (centre - lower)
    falling = (upper - linear_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * np.expm1(np.asarray(mel, dtype=np.float64) / 1127.0)


@lru_cache(maxsize=16)
def _mel_matrix(spec: FeatureSpec) -> np.ndarray:
    """`mel_matrix`, computed once per spec (it took 0.6 ms, as much as the features of 3 s of audio), read-only."""
    out = mel_matrix(spec)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window, as `tf.signal.hann_window(periodic=True)` (computed once per length, read-only), in
    float64: the frames are transformed in float64 (NumPy 2's float32 FFT is slower than its float64 one)."""
    out = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    out.flags.writeable = False
    return out
