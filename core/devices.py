"""The only module that talks to sound devices (sounddevice / PortAudio): device lists and a player.

sounddevice is imported on first use, not with this module: PortAudio scans the devices when it loads, which
costs start-up time and must happen after a sound server (or the tests' virtual device) is up. The audio
callback only copies samples and returns; positions are read from the frames it has handed over.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from core.errors import MusicSpeechError


class DeviceError(MusicSpeechError):
    """No device, a device that vanished, or one that is busy."""


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    default_rate_hz: float
    inputs: int
    outputs: int


def _sd():
    try:
        import sounddevice
    except OSError as e:  # PortAudio itself is missing
        raise DeviceError(f"no audio devices: PortAudio cannot be loaded ({e})") from None
    return sounddevice


def output_devices() -> list[Device]:
    return [d for d in _devices() if d.outputs > 0]


def input_devices() -> list[Device]:
    return [d for d in _devices() if d.inputs > 0]


def _devices() -> list[Device]:
    sd = _sd()
    return [
        Device(i, d["name"], float(d["default_samplerate"]), d["max_input_channels"], d["max_output_channels"])
        for i, d in enumerate(sd.query_devices())
    ]


class Player:
    """Plays mono float32 samples: play, pause, stop, seek; `position_s` follows what was handed to the device."""

    def __init__(self, samples: np.ndarray, rate_hz: int, device: int | str | None = None):
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.rate_hz = rate_hz
        self.device = device
        self._frame = 0
        self._heard: tuple[int, float | None] = (0, None)  # (frame this play started at, when its first buffer left)
        self._lock = threading.Lock()
        self._stream = None

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
        if self._stream is None or started is None:
            return handed / self.rate_hz
        latency = self._stream.latency if self._stream.active else 0.0
        heard = start_frame / self.rate_hz + max(0.0, time.monotonic() - started - latency)
        return float(min(heard, handed / self.rate_hz, self.duration_s))

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def play(self) -> None:
        if self.playing:
            return
        if self._frame >= len(self.samples):
            self._frame = 0
        sd = _sd()
        try:
            self._stream = sd.OutputStream(
                samplerate=self.rate_hz,
                channels=1,
                dtype="float32",
                device=self.device,
                latency=0.05,
                blocksize=512,
                callback=self._callback,
                finished_callback=None,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            self._stream = None
            raise DeviceError(f"cannot play: {_device_problem(e)}") from None

    def pause(self) -> None:
        here = self.position_s
        self._close()
        self.seek(here)  # resume from what was heard, not from what was buffered

    def stop(self) -> None:
        self._close()
        self.seek(0.0)

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._frame = int(np.clip(seconds * self.rate_hz, 0, len(self.samples)))
            self._heard = (self._frame, None)

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # a device that vanished cannot be stopped cleanly; it is gone either way
                pass

    def _callback(self, out, frames, _pa_time, _status) -> None:
        with self._lock:
            a = self._frame
            if self._heard[1] is None:  # the first buffer of this play: the clock starts
                self._heard = (a, time.monotonic())
            chunk = self.samples[a : a + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk) :, 0] = 0.0
            self._frame = a + len(chunk)
        if len(chunk) < frames:
            raise _sd().CallbackStop


def _device_problem(e: Exception) -> str:
    text = str(e)
    if "Device unavailable" in text or "busy" in text.lower():
        return "the output device is busy or unavailable"
    if "Invalid device" in text or "No Default" in text or "Error querying device -1" in text:
        return "there is no output device"
    return text.splitlines()[0] if text else type(e).__name__
