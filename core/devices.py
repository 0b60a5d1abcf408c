"""The only module that talks to sound devices (sounddevice / PortAudio): device lists, a player, a microphone
and a recorder.

sounddevice is imported on first use, not with this module: PortAudio scans the devices when it loads, which
costs start-up time and must happen after a sound server (or the tests' virtual device) is up. Audio callbacks
only copy samples and return; everything else happens on other threads. Devices are named by their PortAudio
name (indices change when the list is scanned again); `None` means the system's default device. Every
PortAudio failure becomes a `DeviceError` with a message a user can act on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from musicspeech.core.audio import Waveform, resample
from musicspeech.core.errors import MusicSpeechError
from musicspeech.core.quiet import filtered_stderr

Kind = Literal["input", "output"]


class DeviceError(MusicSpeechError):
    """No device, a device that vanished, or one that is busy."""


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    default_rate_hz: int
    inputs: int
    outputs: int
    is_default: bool = False  # the system's default for the kind it was listed as

    @property
    def label(self) -> str:
        """How the device is shown to a user: its name and the rate it runs at."""
        return f"{self.name} ({self.default_rate_hz} Hz)"


_portaudio = threading.RLock()  # PortAudio's global calls (scan, query, open, close) are not thread-safe
_open_streams = 0  # and it may only be re-initialised (to see new devices) with no stream open


# What ALSA, JACK and PortAudio print while probing devices that are not there (fd 2, not Python's logging).
_PROBE_NOISE = re.compile(
    r"^ALSA lib |^Cannot connect to server|jack server is not running|JackShmReadWritePtr|"
    r"^Expression '.*' failed in 'src/hostapi|^\s*$"
)


def _sd():
    try:
        with filtered_stderr(_PROBE_NOISE):  # PortAudio scans the devices when it is first imported
            import sounddevice
    except OSError as e:  # PortAudio itself is missing
        raise DeviceError(f"no audio devices: PortAudio cannot be loaded ({e})") from None
    return sounddevice


def devices(kind: Kind) -> list[Device]:
    """The devices that can record (`input`) or play (`output`), the default one first."""
    sd = _sd()
    try:
        with _portaudio:
            listed = sd.query_devices()
            default = sd.default.device[0 if kind == "input" else 1]
    except sd.PortAudioError as e:
        raise DeviceError(f"cannot list the audio devices: {_problem(e, kind)}") from None
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    found = [
        Device(
            i,
            d["name"],
            int(d["default_samplerate"]),
            d["max_input_channels"],
            d["max_output_channels"],
            i == default,
        )
        for i, d in enumerate(listed)
        if d[key] > 0
    ]
    return sorted(found, key=lambda d: not d.is_default)


def input_devices() -> list[Device]:
    return devices("input")


def output_devices() -> list[Device]:
    return devices("output")


def find_device(name: str | None, kind: Kind) -> Device:
    """The device called `name` (None: the default one). Raises `DeviceError` if there is none such."""
    listed = devices(kind)
    if not listed:
        what = "microphone or other input" if kind == "input" else "speaker or other output"
        raise DeviceError(f"there is no {kind} device: connect a {what} and try again")
    if name is None:
        return listed[0]
    for d in listed:
        if d.name == name:
            return d
    raise DeviceError(f"the {kind} device {name!r} is not connected (choose another one, or reconnect it)")


def rescan() -> bool:
    """Scan the devices again (a device plugged in since start-up appears). PortAudio can only do this with
    no stream open; returns False (and keeps the old list) otherwise."""
    sd = _sd()
    with _portaudio:
        if _open_streams:
            return False
        with filtered_stderr(_PROBE_NOISE):
            sd._terminate()  # sounddevice's documented way to refresh the device list
            sd._initialize()
        return True


def _opened(delta: int) -> None:
    global _open_streams
    with _portaudio:
        _open_streams += delta


SHUT_TIMEOUT_S = 3.0


def _shut(stream, timeout_s: float = SHUT_TIMEOUT_S) -> bool:
    """Stop and close a PortAudio stream, waiting for it at most `timeout_s`; True if it closed in time.

    With its sound server gone wrong, PortAudio's stop can block for ever (seen once in CI: a window closed after a
    failed test hung in `stream.stop()` on PulseAudio's ALSA plugin); the window and the live loop must not. The
    work runs on a thread of its own: a stream that does not close in time is left to it, and stays counted as
    open (PortAudio is not re-initialised under it) until it does."""
    done = threading.Event()

    def shut() -> None:
        try:
            stream.stop()
            stream.close()
        except Exception:  # a device that vanished cannot be stopped cleanly; it is gone either way
            pass
        finally:
            _opened(-1)
            done.set()

    threading.Thread(target=shut, name="musicspeech-close-stream", daemon=True).start()
    return done.wait(timeout_s)


def _problem(e: Exception, kind: Kind) -> str:
    """A PortAudio error as a user would say it."""
    text = str(e)
    low = text.lower()
    if "device unavailable" in low or "busy" in low:
        return f"the {kind} device is busy (another program may be using it)"
    if "illegal combination of i/o devices" in low or "unanticipated host error" in low or "-9993" in low:
        return f"the {kind} device is not available (unplugged, or the sound server is not running)"
    if "invalid device" in low or "no default" in low or "error querying device -1" in low:
        return f"there is no {kind} device"
    if "invalid sample rate" in low:
        return f"the {kind} device does not support this sample rate"
    return text.splitlines()[0] if text else type(e).__name__


# Playback ------------------------------------------------------------------------------------------------


class Player:
    """Plays mono float32 samples: play, pause, stop, seek; `position_s` follows what is heard.

    If the device goes away while playing, playback stops where it was and `error` says why.
    """

    def __init__(self, samples: np.ndarray, rate_hz: int, device: str | None = None):
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.rate_hz = rate_hz
        self.device = device  # takes effect at the next play()
        self.error: str | None = None
        self._out = self.samples  # what the stream plays: the samples, resampled if the device needs it
        self._out_rate = rate_hz
        self._frame = 0  # next frame of `_out` to hand over
        self._heard: tuple[int, float | None] = (0, None)  # (frame this play started at, when its first buffer left)
        self._lock = threading.Lock()
        self._stream = None
        self._closing = False

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    @property
    def position_s(self) -> float:
        """Where playback is, as heard: the clock since the first buffer left, minus the output latency, never
        ahead of what was handed to the device (sound servers take buffers faster than they play them)."""
        with self._lock:
            start_frame, started = self._heard
            handed = self._frame
        stream = self._stream
        if stream is None or started is None:
            return handed / self._out_rate
        latency = stream.latency if stream.active else 0.0
        heard = start_frame / self._out_rate + max(0.0, time.monotonic() - started - latency)
        return float(min(heard, handed / self._out_rate, self.duration_s))

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def play(self) -> None:
        """Start (or resume) playing. Raises `DeviceError` if the output device cannot be opened."""
        if self.playing:
            return
        self._close()
        self.error = None
        sd = _sd()
        device = find_device(self.device, "output")
        position = self.position_s
        try:
            sd.check_output_settings(device.index, channels=1, dtype="float32", samplerate=self.rate_hz)
            out, out_rate = self.samples, self.rate_hz
        except (sd.PortAudioError, ValueError):  # the device cannot play this rate: resample for it
            out, out_rate = resample(self.samples, self.rate_hz, device.default_rate_hz), device.default_rate_hz
        with self._lock:
            self._out, self._out_rate = out, out_rate
            self._frame = min(int(round(position * out_rate)), len(out))
            if self._frame >= len(out):
                self._frame = 0
            self._heard = (self._frame, None)
        try:
            with _portaudio, filtered_stderr(_PROBE_NOISE):  # a failed open prints PortAudio's internals
                stream = sd.OutputStream(
                    samplerate=out_rate,
                    channels=1,
                    dtype="float32",
                    device=device.index,
                    latency=0.05,
                    blocksize=512,
                    callback=self._callback,
                    finished_callback=self._finished,
                )
        except (sd.PortAudioError, ValueError) as e:
            raise DeviceError(f"cannot play: {_problem(e, 'output')}") from None
        _opened(+1)
        self._stream, self._closing = stream, False
        try:
            stream.start()
        except sd.PortAudioError as e:
            self._close()
            raise DeviceError(f"cannot play: {_problem(e, 'output')}") from None

    def pause(self) -> None:
        here = self.position_s
        self._close()
        self.seek(here)  # resume from what was heard, not from what was buffered

    def stop(self) -> None:
        self._close()
        self.seek(0.0)

    def seek(self, seconds: float) -> None:
        """Go to `seconds`; while playing, playback goes on from there."""
        with self._lock:
            self._frame = int(np.clip(seconds * self._out_rate, 0, len(self._out)))
            self._heard = (self._frame, None)

    def close(self) -> None:
        self._close()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._closing = True
            if _shut(stream):
                self._closing = False

    def _callback(self, out, frames, _pa_time, _status) -> None:
        with self._lock:
            a = self._frame
            if self._heard[1] is None:  # the first buffer of this play (or since a seek): the clock starts
                self._heard = (a, time.monotonic())
            chunk = self._out[a : a + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk) :, 0] = 0.0
            self._frame = a + len(chunk)
        if len(chunk) < frames:
            raise _sd().CallbackStop

    def _finished(self) -> None:
        """The stream ended: the clip's end, a pause/stop, or the device going away (the only case kept)."""
        if not self._closing and self._frame < len(self._out):
            self.error = "playback stopped: the output device is no longer available"


# Recording -----------------------------------------------------------------------------------------------


class Microphone:
    """An input stream from one device. Each block, mixed to mono float32, goes to `on_block(samples)` on the
    audio thread, which must only store it; `on_lost(message)` is called if the stream ends by itself (the
    device was unplugged or the sound server went away). Runs at the device's own rate (`rate_hz`)."""

    def __init__(
        self,
        device: str | None,
        on_block: Callable[[np.ndarray], None],
        on_lost: Callable[[str], None] | None = None,
        block_s: float = 0.025,
    ):
        self.device = find_device(device, "input")
        self.rate_hz = self.device.default_rate_hz
        self.on_block, self.on_lost = on_block, on_lost
        self.block_frames = max(64, int(round(block_s * self.rate_hz)))
        self.overflows = 0  # blocks the device dropped because they were not taken in time
        self._stream = None
        self._closing = False

    def start(self) -> None:
        """Open and start the stream. Raises `DeviceError` if the device cannot be opened."""
        sd = _sd()
        channels = min(2, self.device.inputs)
        try:
            with _portaudio, filtered_stderr(_PROBE_NOISE):  # a failed open prints PortAudio's internals
                stream = sd.InputStream(
                    samplerate=self.rate_hz,
                    channels=channels,
                    dtype="float32",
                    device=self.device.index,
                    blocksize=self.block_frames,
                    latency="low",
                    callback=self._callback,
                    finished_callback=self._finished,
                )
        except (sd.PortAudioError, ValueError) as e:
            raise DeviceError(f"cannot record from {self.device.name}: {_problem(e, 'input')}") from None
        _opened(+1)
        self._stream, self._closing = stream, False
        try:
            stream.start()
        except sd.PortAudioError as e:
            self.close()
            raise DeviceError(f"cannot record from {self.device.name}: {_problem(e, 'input')}") from None

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    @property
    def latency_s(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._closing = True
            if _shut(stream):
                self._closing = False

    def _callback(self, indata, _frames, _pa_time, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self.on_block(indata[:, 0].copy() if indata.shape[1] == 1 else indata.mean(axis=1, dtype=np.float32))

    def _finished(self) -> None:
        if not self._closing and self.on_lost is not None:
            self.on_lost(f"the input device {self.device.name} is no longer available")


class Recorder:
    """Records from an input device until stopped (or `max_s`); the level of the latest audio for a meter.

    If the device goes away, what was recorded so far is kept and `error` says what happened.
    """

    def __init__(self, device: str | None = None, max_s: float = 3600.0):
        self._blocks: list[np.ndarray] = []  # appended by the audio thread (list.append is atomic)
        self._frames = 0
        self.error: str | None = None
        self.mic = Microphone(device, self._add, self._lost)
        self.rate_hz = self.mic.rate_hz
        self.max_frames = int(max_s * self.rate_hz)

    def _add(self, block: np.ndarray) -> None:  # on the audio thread: store and return
        if self._frames < self.max_frames:
            self._blocks.append(block)
            self._frames += len(block)
        elif self.error is None:
            limit_s = self.max_frames / self.rate_hz
            limit = f"{limit_s / 60:g} min" if limit_s >= 60 else f"{limit_s:g} s"
            self.error = f"recording stopped at its limit of {limit}"

    def start(self) -> None:
        self.mic.start()

    def _lost(self, message: str) -> None:
        self.error = f"recording stopped: {message}; the audio recorded until then is kept"

    @property
    def recording(self) -> bool:
        return self.mic.active

    @property
    def seconds(self) -> float:
        return self._frames / self.rate_hz

    def level_dbfs(self, window_s: float = 0.1) -> float:
        """Peak level of the last `window_s` seconds, in dB relative to full scale (-inf for silence)."""
        blocks, need, peak = list(self._blocks), int(window_s * self.rate_hz), 0.0
        for block in reversed(blocks):
            peak = max(peak, float(np.max(np.abs(block), initial=0.0)))
            need -= len(block)
            if need <= 0:
                break
        return 20 * np.log10(peak) if peak > 0 else -np.inf

    def stop(self) -> Waveform:
        """Stop and return the take (mono, at the device's rate)."""
        self.mic.close()
        blocks = list(self._blocks)
        samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
        return Waveform(samples, self.rate_hz, "recording")
