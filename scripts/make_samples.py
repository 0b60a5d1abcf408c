"""Make the short audio samples the app ships for `musicspeech --self-test`, from sources free to redistribute:
speech read by espeak-ng from sentences written here, music played by the small synthesizer below.

    .venv/bin/python scripts/make_samples.py        # writes resources/samples/{music,speech}/*.ogg

Needs espeak-ng (Debian package; ./test.sh installs it). The output is deterministic for given versions of
espeak-ng and libvorbis. GTZAN clips are never used here: they were collected without copyright clearance.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
RATE_HZ = 16_000  # the shipped model's rate: nothing is lost by storing the samples at it
PEAK = 0.8

SPEECH = {
    "weather-en-us": (
        "en-us",
        "Good morning. The weather today will be mostly sunny, with a light breeze from the west, "
        "and a few clouds later in the afternoon.",
    ),
    "station-en-gb": (
        "en-gb+f3",
        "The next train to leave from platform four will call at every station to the coast. "
        "Please mind the gap, and keep your bags with you.",
    ),
}


# music ---------------------------------------------------------------------------------------------------


def note_hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def envelope(n: int, attack_s: float, decay_s: float, sustain: float = 0.0, release_s: float = 0.05) -> np.ndarray:
    """Attack, exponential decay towards `sustain`, and a short release at the end of the note."""
    t = np.arange(n) / RATE_HZ
    env = sustain + (1 - sustain) * np.exp(-np.maximum(t - attack_s, 0) / max(decay_s, 1e-3))
    env *= np.minimum(t / max(attack_s, 1e-3), 1)
    release = int(release_s * RATE_HZ)
    if 0 < release < n:
        env[-release:] *= np.linspace(1, 0, release)
    return env


def tone(freq_hz: float, dur_s: float, harmonics: list[float], vibrato_hz: float = 0.0, **env) -> np.ndarray:
    """A note with the given harmonic amplitudes (1st = fundamental), higher partials fading faster."""
    n = int(dur_s * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    phase = 2 * np.pi * freq_hz * t
    if vibrato_hz:
        phase += 0.004 * freq_hz / vibrato_hz * np.sin(2 * np.pi * vibrato_hz * t) * 2 * np.pi
    out = np.zeros(n)
    for k, amp in enumerate(harmonics, start=1):
        if freq_hz * k < RATE_HZ / 2:
            out += amp * np.sin(k * phase) * np.exp(-t * 0.6 * (k - 1))
    return out * envelope(n, **env)


def pluck(freq_hz: float, dur_s: float, rng: np.random.Generator) -> np.ndarray:
    """A plucked string (Karplus-Strong): a burst of noise through a damped delay line."""
    n = int(dur_s * RATE_HZ)
    period = max(2, int(round(RATE_HZ / freq_hz)))
    buf = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for i in range(n):
        out[i] = buf[i % period]
        buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    return out * envelope(n, 0.002, 10.0, 1.0, 0.03)


def kick(rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    freq = 45 + 90 * np.exp(-t / 0.04)
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE_HZ) * np.exp(-t / 0.12)


def snare(rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    return (0.6 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.06)


def hihat(rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * RATE_HZ)
    noise = np.diff(rng.standard_normal(n + 1))  # a first difference: mostly high frequencies
    return 0.35 * noise * np.exp(-np.arange(n) / RATE_HZ / 0.02)


def mix_in(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
    start = int(at_s * RATE_HZ)
    end = min(len(track), start + len(sound))
    if start < end:
        track[start:end] += gain * sound[: end - start]


def band(beats_per_min: float, bars: int, chords: list[list[int]], melody: list[int | None], seed: int) -> np.ndarray:
    """A small band in 4/4: drums, a bass line, piano-like chords and a reedy melody in eighth notes."""
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / beats_per_min
    out = np.zeros(int(bars * 4 * beat_s * RATE_HZ) + RATE_HZ // 2)
    piano = [1.0, 0.5, 0.3, 0.2, 0.1, 0.05]
    reed = [1.0, 0.05, 0.5, 0.05, 0.3, 0.03, 0.15]
    bass = [1.0, 0.5, 0.33, 0.25]
    for bar in range(bars):
        chord = chords[bar % len(chords)]
        bar_s = bar * 4 * beat_s
        for beat in range(4):
            at = bar_s + beat * beat_s
            mix_in(out, kick(rng) if beat % 2 == 0 else snare(rng), at, 0.9 if beat % 2 == 0 else 0.6)
            mix_in(out, hihat(rng), at)
            mix_in(out, hihat(rng), at + beat_s / 2, 0.6)
            root = chord[0] - 12 if beat != 3 else chord[1] - 12
            mix_in(out, tone(note_hz(root), beat_s, bass, attack_s=0.005, decay_s=0.3, sustain=0.4), at, 0.5)
        for half in range(2):
            for midi in chord:
                chord_note = tone(note_hz(midi), 2 * beat_s, piano, attack_s=0.005, decay_s=0.5, sustain=0.1)
                mix_in(out, chord_note, bar_s + half * 2 * beat_s, 0.18)
        for eighth in range(8):
            midi = melody[(bar * 8 + eighth) % len(melody)]
            if midi is not None:
                note = tone(note_hz(midi), beat_s / 2, reed, vibrato_hz=5.5, attack_s=0.02, decay_s=0.4, sustain=0.6)
                mix_in(out, note, bar_s + eighth * beat_s / 2, 0.3)
    return out


def strings_and_guitar(beats_per_min: float, bars: int, chords: list[list[int]], seed: int) -> np.ndarray:
    """A waltz in 3/4: plucked-string arpeggios over a bowed-string pad and a bass note on each downbeat."""
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / beats_per_min
    out = np.zeros(int(bars * 3 * beat_s * RATE_HZ) + RATE_HZ // 2)
    strings = [1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1]
    for bar in range(bars):
        chord = chords[bar % len(chords)]
        bar_s = bar * 3 * beat_s
        mix_in(out, tone(note_hz(chord[0] - 24), 3 * beat_s, [1, 0.6, 0.3], attack_s=0.01, decay_s=1.0), bar_s, 0.5)
        for midi in chord:
            pad = tone(note_hz(midi), 3 * beat_s, strings, vibrato_hz=6.0, attack_s=0.3, decay_s=2.0, sustain=0.7)
            mix_in(out, pad, bar_s, 0.08)
        arpeggio = [chord[0], chord[1], chord[2], chord[0] + 12, chord[2], chord[1]]
        for i, midi in enumerate(arpeggio):
            mix_in(out, pluck(note_hz(midi), 1.2, rng), bar_s + i * beat_s / 2, 0.45)
    return out


def music_samples() -> dict[str, np.ndarray]:
    c, am, f, g = [60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62]
    melody = [72, None, 76, 74, 72, 69, None, 67, 69, 72, 74, None, 76, 79, 76, 74]
    d, bm, em, a = [62, 66, 69], [59, 62, 66], [64, 67, 71], [57, 61, 64]
    return {
        "band-120bpm": band(120, 3, [c, am, f, g], melody, seed=1),
        "waltz-strings": strings_and_guitar(132, 5, [d, bm, em, a], seed=2),
    }


# speech --------------------------------------------------------------------------------------------------


def speak(voice: str, text: str) -> np.ndarray:
    """`text` read by espeak-ng with `voice`, at RATE_HZ."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is needed (apt-get install espeak-ng; ./test.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run([espeak, "-v", voice, "-s", "160", "-w", str(wav), text], check=True, capture_output=True)
        samples, rate_hz = sf.read(wav, dtype="float32")
    return soxr.resample(samples, rate_hz, RATE_HZ)


# output --------------------------------------------------------------------------------------------------


def save(path: Path, samples: np.ndarray, seconds: float) -> None:
    """Cut to `seconds` with short fades, scale to PEAK, and write OGG/Vorbis (written whole, then renamed)."""
    samples = np.asarray(samples[: int(seconds * RATE_HZ)], dtype=np.float64)
    fade = int(0.02 * RATE_HZ)
    samples[:fade] *= np.linspace(0, 1, fade)
    samples[-fade:] *= np.linspace(1, 0, fade)
    samples *= PEAK / max(np.max(np.abs(samples)), 1e-9)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    sf.write(tmp, samples.astype(np.float32), RATE_HZ, format="OGG", subtype="VORBIS")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "samples")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each sample (default 6)")
    args = parser.parse_args(argv)
    for name, samples in music_samples().items():
        save(args.out / "music" / f"{name}.ogg", samples, args.seconds)
    for name, (voice, text) in SPEECH.items():
        save(args.out / "speech" / f"{name}.ogg", speak(voice, text), args.seconds)
    for path in sorted(args.out.rglob("*.ogg")):
        info = sf.info(path)
        print(f"{path.relative_to(args.out)}: {info.duration:.1f} s, {path.stat().st_size / 1000:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
