"""Training-time changes to waveforms that a recording chain makes: gain, noise, band limits (telephone,
radio), room reverberation, 8-bit mu-law and lossy codecs (MP3, Opus, Vorbis, GSM through ffmpeg), time shift; and
mixtures: speech over a music bed (still speech), any clip over background noise or ambience. They teach the
network what speech and music are whatever the recording chain, rather than the quirks of its sources (clean =
music, noisy = speech). Applied only to training clips; never at inference.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    copies: int = 0  # augmented copies of every training clip, added to the clean one
    gain_db: tuple[float, float] = (-24.0, 6.0)
    noise_probability: float = 0.5
    snr_db: tuple[float, float] = (5.0, 40.0)
    bandlimit_probability: float = 0.4
    reverb_probability: float = 0.3
    mulaw_probability: float = 0.2
    bed_probability: float = 0.0  # a speech copy gets a music clip under it (labelled speech)
    bed_snr_db: tuple[float, float] = (0.0, 20.0)  # speech power over the bed's
    ambience_probability: float = 0.0  # a copy gets a noise clip (crowd, weather, machines) under it
    ambience_snr_db: tuple[float, float] = (3.0, 25.0)
    codec_probability: float = 0.0  # a lossy codec round trip at a low bit rate (needs ffmpeg)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Beds:
    """What mixtures are made of: music clips to lay under speech, noise clips to lay under anything."""

    music: Sequence[np.ndarray] = field(default_factory=list)
    noise: Sequence[np.ndarray] = field(default_factory=list)


def augment(
    x: np.ndarray,
    rate_hz: int,
    settings: AugmentSettings,
    rng: np.random.Generator,
    label: str = "",
    beds: Beds | None = None,
) -> np.ndarray:
    """One random recording chain applied to mono float32 samples of a clip labelled `label` (a new array)."""
    y = np.roll(x, int(rng.integers(0, rate_hz)))  # time shift: windows fall elsewhere in the clip
    if beds and beds.music and label == "speech" and rng.random() < settings.bed_probability:
        y = mix(y, _pick(beds.music, len(y), rng), float(rng.uniform(*settings.bed_snr_db)))
    if beds and beds.noise and label != "noise" and rng.random() < settings.ambience_probability:
        y = mix(y, _pick(beds.noise, len(y), rng), float(rng.uniform(*settings.ambience_snr_db)))
    if rng.random() < settings.bandlimit_probability:
        y = bandlimit(y, rate_hz, rng)
    if rng.random() < settings.reverb_probability:
        y = reverberate(y, rate_hz, rng)
    if rng.random() < settings.noise_probability:
        y = add_noise(y, float(rng.uniform(*settings.snr_db)), rng)
    if rng.random() < settings.mulaw_probability:
        y = mulaw_8bit(y)
    if rng.random() < settings.codec_probability:
        y = lossy_codec(y, rate_hz, rng)
    y = y * np.float32(10 ** (rng.uniform(*settings.gain_db) / 20))
    return y.astype(np.float32, copy=False)


def mix(x: np.ndarray, bed: np.ndarray, snr_db: float) -> np.ndarray:
    """`x` with `bed` under it, `snr_db` quieter (mean power); the mixture keeps `x`'s loudest level."""
    px = float(np.mean(x.astype(np.float64) ** 2))
    pb = float(np.mean(bed.astype(np.float64) ** 2))
    if px < 1e-10 or pb < 1e-10:
        return x
    y = x + bed * np.float32(np.sqrt(px / pb / 10 ** (snr_db / 10)))
    peak = float(np.max(np.abs(y))) or 1.0
    return (y * min(1.0, 0.99 / peak)).astype(np.float32)


def _pick(clips: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples from a random clip at a random offset, looped when the clip is shorter."""
    clip = clips[int(rng.integers(len(clips)))]
    if len(clip) == 0:
        return np.zeros(n, np.float32)
    reps = -(-n // len(clip)) + 1
    start = int(rng.integers(len(clip)))
    return np.tile(clip, reps)[start : start + n]


_CODECS = (  # (ffmpeg encoder arguments, container): low bit rates, as streams, podcasts, games and phones use
    (["-c:a", "libmp3lame", "-b:a", "32k"], "mp3"),
    (["-c:a", "libopus", "-b:a", "12k"], "ogg"),
    (["-c:a", "libvorbis", "-q:a", "0"], "ogg"),
    (["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    (["-ar", "8000", "-c:a", "libgsm"], "gsm"),  # GSM 06.10 at 8 kHz: mobile phone calls, voice mail
)


def lossy_codec(x: np.ndarray, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """A round trip through a lossy codec (ffmpeg); the samples unchanged if ffmpeg is missing or fails."""
    args, container = _CODECS[int(rng.integers(len(_CODECS)))]
    raw = ["-f", "f32le", "-ar", str(rate_hz), "-ac", "1"]
    try:
        encoded = subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", *raw, "-i", "-", *args, "-f", container, "-"],
            input=np.ascontiguousarray(x, np.float32).tobytes(),
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        decoded = subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", "-", *raw, "-"],
            input=encoded,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return x
    y = np.frombuffer(decoded, np.float32)
    out = np.zeros(len(x), np.float32)
    out[: min(len(x), len(y))] = y[: len(x)]
    return out


def bandlimit(x: np.ndarray, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """Telephone band (300-3400 Hz) or a random low-pass (2.5-7 kHz) with a high-pass (50-300 Hz)."""
    if rng.random() < 0.5:
        low, high = 300.0, 3400.0
    else:
        low, high = float(rng.uniform(50, 300)), float(rng.uniform(2500, 7000))
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / rate_hz)
    gain = 1 / np.sqrt(1 + (freqs / high) ** 8) * (1 / np.sqrt(1 + (low / np.maximum(freqs, 1e-3)) ** 4))
    return np.fft.irfft(spectrum * gain, n=len(x)).astype(np.float32)


def reverberate(x: np.ndarray, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """A room: exponentially decaying noise as impulse response (RT60 0.2-0.9 s), mixed with the dry sound."""
    rt60 = float(rng.uniform(0.2, 0.9))
    n = int(rt60 * rate_hz)
    t = np.arange(n) / rate_hz
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0
    ir /= np.sqrt(np.sum(ir**2))
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    mix = float(rng.uniform(0.3, 0.9))
    return (mix * wet + (1 - mix) * x).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White or pink noise at `snr_db` below the signal's power."""
    noise = rng.standard_normal(len(x))
    if rng.random() < 0.5:  # pink: 1/f power
        spectrum = np.fft.rfft(noise)
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        noise = np.fft.irfft(spectrum, n=len(x))
    power = float(np.mean(x.astype(np.float64) ** 2)) or 1e-8
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / max(float(np.mean(noise**2)), 1e-12))
    return (x + noise).astype(np.float32)


def mulaw_8bit(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """The quantisation of an 8-bit mu-law telephone codec."""
    peak = float(np.max(np.abs(x))) or 1.0
    y = np.clip(x / peak, -1, 1)
    compressed = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    quantised = np.round(compressed * 127) / 127
    return (np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu * peak).astype(np.float32)
