"""A corpus of bad and odd input, made by the tests from real GTZAN audio: every case of the robustness issue.

Empty, truncated and header-only files, text and image bytes with audio names, unknown formats, a folder named
like a file, one sample, silence, NaN/inf and far-beyond-full-scale floats, 8 to 64 bits, 1 to 8 channels,
8 to 192 kHz, non-ASCII names (and a name that is not UTF-8), MP3 and OGG with junk or cut short, names of
files that are not there or cannot be, and (on request, it is 58 MB) an hour-long file. Each `Case` is named
for what it is and says what must come of it: a verdict ("result"; where the content survives the format,
which verdict) or one line of error naming it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicspeech.core.datasets import AUDIO_EXTENSIONS

RESULT, ERROR = "result", "error"
EXCERPT_S = 8  # seconds of the real clip in each file where the content matters
HOUR_S = 3600


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str  # RESULT: a verdict; ERROR: one line of error that names the file
    label: str | None = None  # the verdict the shipped model must give (sound content in an odd format)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def listed(self) -> bool:
        """Whether a folder scan (`expand_paths`) lists it: files with an audio name only."""
        return os.path.isfile(self.path) and self.path.suffix.lower() in AUDIO_EXTENSIONS


def excerpt(path: Path, seconds: float = EXCERPT_S) -> tuple[np.ndarray, int]:
    """The first `seconds` of a clip, float32 mono, at its own rate (GTZAN: 22,050 Hz)."""
    x, rate = sf.read(path, dtype="float32", frames=int(seconds * sf.info(path).samplerate))
    return x, rate


def ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True, timeout=120
    )
    return dst


def build_corpus(folder: Path, speech: Path, music: Path) -> list[Case]:
    """Every case but the hour-long file, written into `folder` (about 15 MB)."""
    folder.mkdir(parents=True, exist_ok=True)
    x, rate = excerpt(speech)
    m, m_rate = excerpt(music)
    rng = np.random.default_rng(7)
    cases: list[Case] = []

    def wav(name: str, samples: np.ndarray, rate_hz: int, subtype: str = "PCM_16", label: str | None = "speech"):
        sf.write(folder / "writing.wav", samples, rate_hz, subtype=subtype, format="WAV")
        os.replace(folder / "writing.wav", folder / name)  # soundfile cannot open a name that is not UTF-8
        cases.append(Case(folder / name, RESULT, label))

    def raw(name: str, data: bytes, expect: str = ERROR, label: str | None = None):
        (folder / name).write_bytes(data)
        cases.append(Case(folder / name, expect, label))

    # sound content in every bit depth, channel count and rate: still speech
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"):
        wav(f"speech {subtype.lower()}.wav", x, rate, subtype)
    for channels in range(1, 9):
        gains = np.linspace(1.0, 0.3, channels, dtype=np.float32)  # every channel the speech, at its own level
        wav(f"speech {channels} ch.wav", 0.8 * x[:, None] * gains, rate)
    for rate_hz in (8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000, 192000):
        wav(f"speech {rate_hz} hz.wav", soxr.resample(x, rate, rate_hz), rate_hz)
    wav("Musik für Straßen – 日本 .wav", m, m_rate, label="music")
    latin1 = os.fsdecode("Chanson d'\xe9t\xe9 (latin-1 name).wav".encode("latin-1"))  # not UTF-8: surrogates
    wav(latin1, m, m_rate, label="music")

    # odd values: speech where the numbers are sound, no particular verdict where nothing is left of it
    broken = x.copy()
    broken[rate : 2 * rate] = np.nan  # a second of NaN, and infinities here and there
    broken[3 * rate :: 997] = np.inf
    broken[3 * rate + 500 :: 991] = -np.inf
    wav("nan and inf float.wav", broken, rate, "FLOAT")
    wav("all nan float.wav", np.full(rate, np.nan, np.float32), rate, "FLOAT", label="silence")
    wav("far beyond full scale 1e6 float.wav", x * 1e6, rate, "FLOAT")
    wav("one sample.wav", np.array([0.25], np.float32), rate, "FLOAT", label=None)
    wav("one sample 16 bit.wav", np.array([0.25], np.float32), rate, label=None)
    wav("silence.wav", np.zeros(5 * rate, np.float32), rate, label="silence")

    # compressed formats, sound, damaged and junk
    good = folder.parent / f".{folder.name}-source.wav"  # outside the corpus
    sf.write(good, x, rate, subtype="PCM_16")
    for suffix in (".flac", ".ogg", ".mp3", ".m4a", ".opus"):
        ffmpeg(good, folder / f"speech{suffix}")
        cases.append(Case(folder / f"speech{suffix}", RESULT, "speech"))
    sf.write(folder / "speech.aiff", x, rate, subtype="PCM_16", format="AIFF")
    cases.append(Case(folder / "speech.aiff", RESULT, "speech"))
    mp3, ogg = (folder / "speech.mp3").read_bytes(), (folder / "speech.ogg").read_bytes()
    junk = rng.bytes(20_000)
    raw("mp3 cut short.mp3", mp3[: len(mp3) * 6 // 10], RESULT, "speech")
    raw("mp3 with junk appended.mp3", mp3 + junk, RESULT, "speech")
    raw("mp3 cut short with junk appended.mp3", mp3[: len(mp3) * 6 // 10] + junk, RESULT, "speech")
    raw("mp3 with junk in front.mp3", rng.bytes(3000) + mp3, RESULT, "speech")
    raw("ogg cut short.ogg", ogg[: len(ogg) * 6 // 10], RESULT, "speech")
    raw("ogg with junk appended.ogg", ogg + junk, RESULT, "speech")
    raw("ogg cut short with junk appended.ogg", ogg[: len(ogg) * 6 // 10] + junk, RESULT, "speech")
    raw("ogg pages of junk.ogg", b"OggS" + rng.bytes(6000))
    raw("mp3 of junk.mp3", b"\xff\xfb\x90\x00" + rng.bytes(6000))

    # not audio, or nothing of it left
    raw("empty.wav", b"")
    raw("empty.flac", b"")
    wav_bytes = good.read_bytes()
    raw("header only.wav", wav_bytes[:44])  # says 8 s of samples follow; none do
    sf.write(folder / "no frames.wav", np.zeros(0, np.float32), rate)  # a whole header for zero samples
    cases.append(Case(folder / "no frames.wav", ERROR))
    raw("header cut short.wav", wav_bytes[:30])
    raw("wav cut mid-sample.wav", wav_bytes[: 44 + 2 * rate * 3 + 1], RESULT, "speech")  # 3 s and half a sample
    raw("text.mp3", b"Minutes of the meeting, not audio.\n" * 40)
    raw("text.wav", "Ein Text, kein Ton. テキスト\n".encode() * 40)
    raw("image.wav", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.bytes(5000))
    raw("random bytes.flac", rng.bytes(8000))
    raw("unknown format.xyz", rng.bytes(8000))
    (folder / "song.wav").mkdir()
    cases.append(Case(folder / "song.wav", ERROR))
    cases.append(Case(folder / "not there.wav", ERROR))  # named, never made
    cases.append(Case(folder / f"a name too long {'x' * 260}.wav", ERROR))  # the file system refuses the name
    good.unlink()
    return cases


def build_hour_long(folder: Path, speech: Path) -> Case:
    """An hour of a real speech clip looped, 16-bit 8 kHz mono (58 MB), written block by block."""
    folder.mkdir(parents=True, exist_ok=True)
    x, rate = sf.read(speech, dtype="float32")
    clip = soxr.resample(x, rate, 8000)
    path = folder / "an hour of speech.wav"
    with sf.SoundFile(path, "w", 8000, 1, "PCM_16", format="WAV") as f:
        left = HOUR_S * 8000
        while left > 0:
            f.write(clip[:left])
            left -= min(left, len(clip))
    return Case(path, RESULT, "speech")
