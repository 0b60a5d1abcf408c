"""Audio in and out: any file -> a mono float32 `Waveform` at the model's rate; WAV out, atomically.

Decoding goes through libsndfile (soundfile: WAV, FLAC, OGG/Vorbis/Opus, MP3 and more) and, for what it
cannot read (M4A/AAC, WMA, video containers, ...), through ffmpeg, located the way pydub locates it.
Long files are streamed: they are mixed down and resampled block by block into one preallocated array,
so a file is never held in memory at its original rate and channel count.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicspeech.core.atomic import atomic_path
from musicspeech.core.errors import AudioError, Cancelled
from musicspeech.core.quiet import DECODER_NOISE, filtered_stderr

MAX_DURATION_S = 4 * 3600.0
"""Longer files are refused with a message rather than exhausting memory (4 h at 16 kHz is 920 MB)."""

_BLOCK_FRAMES = 1 << 16
_SMALL_BLOCK_FRAMES = 1 << 10  # for reading up to damage in a file


@dataclass(frozen=True)
class Waveform:
    """Mono float32 samples at `rate_hz`, with where they came from."""

    samples: np.ndarray
    rate_hz: int
    source: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz


BlockCallback = Callable[[np.ndarray, int], None]
"""on_block(samples, filled): `samples[:filled]` are decoded for good (`samples` may be replaced by a longer
array later, with the same first `filled` values); for work that starts before the end of a long file."""


def load_audio(
    path: str | os.PathLike,
    rate_hz: int,
    max_duration_s: float = MAX_DURATION_S,
    on_block: BlockCallback | None = None,
) -> Waveform:
    """Read any audio file as mono float32 at `rate_hz`. Raises `AudioError` with one readable line.

    `on_block` is told as decoding goes (after every block of a file libsndfile reads; once at the end for
    ffmpeg); whatever it raises stops the decoding and comes out of this call."""
    path = Path(path)
    try:
        if not path.exists():
            raise AudioError(path, "no such file")
        if path.is_dir():
            raise AudioError(path, "is a folder, not an audio file")
        size = path.stat().st_size
    except OSError as e:  # a name too long for the file system, a folder that may not be looked into, ...
        raise AudioError(path, e.strerror or str(e)) from None
    if size == 0:
        raise AudioError(path, "the file is empty")
    with filtered_stderr(DECODER_NOISE):  # mpg123's notes on a damaged MP3: the file's line says what matters
        try:
            f = sf.SoundFile(os.fsencode(path))  # bytes: soundfile cannot encode a name that is not UTF-8 itself
        except sf.LibsndfileError as e:  # not a format libsndfile knows (or not audio): ffmpeg decides
            samples = _read_ffmpeg(path, rate_hz, max_duration_s, libsndfile_said=str(e))
        except OSError as e:
            raise AudioError(path, e.strerror or str(e)) from None
        else:
            try:
                with f:
                    samples = _read_soundfile(f, path, rate_hz, max_duration_s, on_block)
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:  # damage found while decoding
                raise AudioError(path, f"damaged audio ({_first_line(e)})") from None
    if len(samples) == 0:
        raise AudioError(path, "contains no audio samples")
    if on_block is not None:
        on_block(samples, len(samples))
    return Waveform(samples, rate_hz, str(path))


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample mono float32 samples (soxr, high quality)."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_hz == to_hz or len(samples) == 0:
        return samples
    return soxr.resample(samples, from_hz, to_hz, quality="HQ").astype(np.float32, copy=False)


def to_mono_float32(samples: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) of any numeric type -> (frames,) float32, non-finite values zeroed.

    Integer input is scaled to [-1, 1) by its type's full scale.
    """
    x = np.asarray(samples)
    if np.issubdtype(x.dtype, np.signedinteger):
        x = x.astype(np.float32) / (float(np.iinfo(x.dtype).max) + 1.0)
    elif np.issubdtype(x.dtype, np.unsignedinteger):
        half = (float(np.iinfo(x.dtype).max) + 1.0) / 2
        x = (x.astype(np.float32) - half) / half
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise ValueError(f"expected 1-D or 2-D samples, got shape {x.shape}")
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(x)


def write_wav(path: str | os.PathLike, waveform: Waveform, cancelled: Callable[[], bool] | None = None) -> Path:
    """Write `waveform` as a 16-bit PCM WAV file, atomically (`core.atomic`: a temporary file beside the target,
    then a rename), a block at a time; `cancelled()` is checked between blocks and raises `Cancelled`. Either way
    the previous file is left as it was. Samples are scaled by 32768 (16-bit audio read as float comes back
    exactly) and clipped.

    Python's `wave` writes here rather than libsndfile: a failed write is then the system's own `OSError` (the
    disk is full, ...), where libsndfile says only "System error" and soundfile may assert."""
    path = Path(path)
    samples = waveform.samples
    with atomic_path(path) as tmp, open(tmp, "wb") as f, wave.open(f, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(waveform.rate_hz))
        for start in range(0, len(samples), _BLOCK_FRAMES):
            if cancelled is not None and cancelled():
                raise Cancelled(f"saving {path.name} cancelled")
            block = np.nan_to_num(samples[start : start + _BLOCK_FRAMES], nan=0.0) * 32768.0
            out.writeframesraw(np.clip(np.rint(block), -32768, 32767).astype("<i2").tobytes())
    return path


def _read_soundfile(
    f: sf.SoundFile, path: Path, rate_hz: int, max_duration_s: float, on_block: BlockCallback | None = None
) -> np.ndarray:
    if f.samplerate <= 0 or f.channels <= 0:
        raise AudioError(path, "the header declares no samples")
    if f.frames > max_duration_s * f.samplerate:
        raise AudioError(
            path,
            f"too long ({f.frames / f.samplerate / 3600:.1f} h; the limit is "
            f"{max_duration_s / 3600:.0f} h): split it into shorter files",
        )
    expected = int(np.ceil(max(f.frames, 0) * rate_hz / f.samplerate)) + 64
    out = np.empty(expected, dtype=np.float32)
    filled = 0
    stream = (
        soxr.ResampleStream(f.samplerate, rate_hz, 1, dtype="float32", quality="HQ")
        if f.samplerate != rate_hz
        else None
    )

    def put(chunk: np.ndarray) -> None:
        nonlocal out, filled
        if filled + len(chunk) > len(out):  # a header that under-reports its length (some MP3s)
            out = np.concatenate([out[:filled], np.empty(max(len(chunk), len(out) // 2), np.float32)])
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)

    for block in _blocks(f):
        mono = to_mono_float32(block)
        put(stream.resample_chunk(mono, last=False) if stream else mono)
        if on_block is not None:
            on_block(out, filled)
    if stream:
        put(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return out[:filled]


def _blocks(f: sf.SoundFile) -> Iterator[np.ndarray]:
    """The file's frames, a block at a time, as far as they go: a cut file ends early, and damage partway (junk
    after a cut MP3) ends the audio there too. A block that fails is read again in small steps, so what comes
    before the damage is kept (and a block that then reads is passed); damage before any audio raises."""
    done, size, small_until = 0, _BLOCK_FRAMES, 0
    while True:
        if done >= small_until:  # past the block that failed (if one did): big blocks again
            size = _BLOCK_FRAMES
        try:
            block = f.read(size, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError):
            if size == _BLOCK_FRAMES and _seek(f, done):
                size, small_until = _SMALL_BLOCK_FRAMES, done + _BLOCK_FRAMES
                continue
            if done == 0:
                raise
            return
        if not len(block):
            return
        done += len(block)
        yield block


def _seek(f: sf.SoundFile, frame: int) -> bool:
    try:
        return f.seekable() and f.seek(frame) == frame
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return False


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0].rstrip(".") if text else type(e).__name__


def ffmpeg_path() -> str | None:
    """The ffmpeg executable, found the way pydub finds it (its `converter` setting, then PATH)."""
    from pydub import AudioSegment
    from pydub.utils import which

    converter = AudioSegment.converter
    return converter if os.path.isabs(converter) and os.path.exists(converter) else which(converter)


def _read_ffmpeg(path: Path, rate_hz: int, max_duration_s: float, libsndfile_said: str) -> np.ndarray:
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise AudioError(
            path, f"not a format soundfile reads ({libsndfile_said.strip()}); install ffmpeg to read more formats"
        )
    cmd = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(rate_hz),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]
    limit_bytes = int(max_duration_s * rate_hz) * 4
    buffer = bytearray()
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            buffer += chunk
            if len(buffer) > limit_bytes:
                proc.kill()
                raise AudioError(
                    path, f"too long (the limit is {max_duration_s / 3600:.0f} h): split it into shorter files"
                )
        code = proc.wait()
        err.seek(0)
        detail = err.read().decode(errors="replace").strip().splitlines()
    if code != 0 or not buffer:
        reason = _ffmpeg_reason([line.removeprefix(f"{path}: ") for line in detail])  # the name is said once
        raise AudioError(path, reason)
    usable = len(buffer) - len(buffer) % 4
    return np.frombuffer(buffer, dtype=np.float32, count=usable // 4)


_FFMPEG_GENERIC = ("invalid argument", "end of file", "error marking filters")
"""What ffmpeg says when it finds nothing it can decode: no more use to a reader than "not an audio file"."""


def _ffmpeg_reason(lines: list[str]) -> str:
    text = " ".join(lines).lower()
    if "invalid data found" in text or "could not find codec" in text or "unknown format" in text:
        return "not an audio file, or damaged"
    if "matches no streams" in text or "does not contain any stream" in text:
        return "contains no audio stream"
    if lines and not any(generic in text for generic in _FFMPEG_GENERIC):
        last = lines[-1]
        return f"not an audio file, or damaged ({last[:120]})"
    return "not an audio file, or damaged"


def native_rate_hz(path: str | os.PathLike) -> int | None:
    """The file's own sample rate where libsndfile reads the file (WAV, FLAC, OGG, MP3, ...); None otherwise."""
    info = native_info(path)
    return info[0] if info else None


def native_info(path: str | os.PathLike) -> tuple[int, float] | None:
    """(sample rate, duration in s) as the file's header says, where libsndfile reads the file; None otherwise."""
    try:
        info = sf.info(os.fsencode(path))
    except (sf.LibsndfileError, OSError, RuntimeError):
        return None
    rate = int(info.samplerate)
    return (rate, max(0, int(info.frames)) / rate) if rate > 0 else None
