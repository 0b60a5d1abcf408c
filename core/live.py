"""Live classification of a microphone: blocks of audio in, feature frames, verdicts and segments out.

    microphone ─> (audio thread: copy the block) ─> queue ─> worker thread: resample to the model's rate
      ─> rolling buffer (the last minutes, for "save the last N seconds")
      ─> LiveAnalyzer: frames (the one feature implementation) ─> a verdict every hop ─> segments ─> listener

`LiveAnalyzer` has no devices and no threads: `LiveSession` drives it from a microphone, tests and benchmarks
drive it from files. It is the one analyser (`musicspeech.core.analysis`) with the model's live preset: the same frames,
windows and levels as for files (the windows file inference would cut at those positions, to float32 rounding),
a verdict every hop by the same policy class (`musicspeech.core.verdict`).
"""

from __future__ import annotations

import csv
import io
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soxr

from musicspeech.core.analysis import Listener, Segment, Verdict
from musicspeech.core.atomic import append_whole
from musicspeech.core.audio import Waveform
from musicspeech.core.devices import DeviceError, Microphone, rescan
from musicspeech.core.errors import MusicSpeechError, save_error
from musicspeech.core.verdict import LIVE_POLICY, SILENCE, VerdictPolicy

if TYPE_CHECKING:
    from musicspeech.core.inference import Classifier


@dataclass(frozen=True)
class LiveSettings:
    """How the microphone is listened to. A verdict looks at the last `window_s` of audio (the mean of the model's
    windows inside it, one every hop) and is made every `hop_s`; how it decides (switch margin, silence gate,
    silent edges) is the model's live preset (`core.verdict.LIVE_POLICY` unless the model carries its own)."""

    window_s: float = LIVE_POLICY.window_s
    hop_s: float = LIVE_POLICY.hop_s
    keep_s: float = 120.0  # rolling buffer for "save the last N seconds"

    @property
    def delay_s(self) -> float:
        """The longest a change in the audio takes to show in the verdict, when the model is right about audio
        of one kind: one window after the change the window holds only the new sound, and the next verdict is
        at most a hop later. (Speech shows sooner: a window with some speech in it is usually called speech.)"""
        return self.window_s + self.hop_s

    def check(self, model_window_s: float) -> None:
        if self.window_s + 1e-9 < model_window_s:
            raise ValueError(f"the live window must be at least the model's window ({model_window_s:g} s)")
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError("the hop must be positive and no longer than the window")

    def policy(self, preset: VerdictPolicy = LIVE_POLICY) -> VerdictPolicy:
        """The live preset with this window and hop."""
        return replace(preset, causal=True, window_s=self.window_s, hop_s=self.hop_s)


class LiveListener(Listener):
    """Receives what the live loop finds (`core.analysis.Listener`: frames, verdicts, segments) and the device's
    problems. Every method is optional; all are called on the live worker thread (`LiveSession`) or the caller's
    thread (`LiveAnalyzer.feed`), so a GUI must hand them over to its own."""

    def problem(self, message: str) -> None:
        """The device went away; the session keeps trying to reopen it."""

    def recovered(self, message: str) -> None:
        """Audio flows again after a problem."""


class LiveAnalyzer:
    """Samples at the model's rate in, frames, verdicts and segments out (through `listener`): the analyser
    (`musicspeech.core.analysis.Analysis`) with the model's live preset, keeping no history (it may run for hours)."""

    def __init__(self, classifier: Classifier, settings: LiveSettings, listener: LiveListener | None = None):
        settings.check(classifier.spec.window_s)
        self.classifier, self.settings, self.spec = classifier, settings, classifier.spec
        self.listener = listener or LiveListener()
        self.analysis = classifier.analysis(settings.policy(classifier.live_policy), self.listener, record=False)

    @property
    def verdicts(self) -> int:
        return self.analysis.verdicts

    @property
    def frames_done(self) -> int:
        """Frames computed since the start: the analyzer's clock."""
        return self.analysis.stream.n_frames

    def feed(self, samples: np.ndarray) -> None:
        """Take the next samples (mono float32 at the model's rate), of any length."""
        self.analysis.feed(samples)

    def finish(self) -> None:
        """End the current segment at the last verdict (when the session stops)."""
        self.analysis.close_segment()


class RingBuffer:
    """The last `capacity` samples of a stream, written by one thread and read by others."""

    def __init__(self, capacity: int):
        self._data = np.zeros(max(1, capacity), np.float32)
        self.written = 0  # samples written since the start
        self._lock = threading.Lock()

    def write(self, x: np.ndarray) -> None:
        cap = len(self._data)
        with self._lock:
            total = self.written + len(x)
            x = x[-cap:]
            start = (total - len(x)) % cap
            first = min(len(x), cap - start)
            self._data[start : start + first] = x[:first]
            self._data[: len(x) - first] = x[first:]
            self.written = total

    def latest(self, n: int) -> np.ndarray:
        """A copy of the last `n` samples (fewer if fewer were kept)."""
        cap = len(self._data)
        with self._lock:
            n = min(n, self.written, cap)
            end = self.written % cap
            return np.roll(self._data, -end)[cap - n :] if n else np.zeros(0, np.float32)


class SegmentLog:
    """Appends each segment to a CSV file (with a header when the file is new), a whole row at a time.

    An append-only log cannot be saved by a rename, so it is kept whole this way: each row goes to the file in
    one `write` call (a process killed outright leaves whole rows only); a row that fails (the disk is full) is
    cut off again, so the file holds what it held before; and a torn last row (a power cut: no newline at the
    end) is cut off when the log is opened again, so the next rows do not run on from it. Failures raise
    `SaveError` ("cannot save segments.csv: the disk is full")."""

    FIELDS = ("time", "start_s", "end_s", "label", "probabilities")

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            if self._cut_torn_row() == 0:
                self._write(self.FIELDS)
        except (OSError, MusicSpeechError) as e:
            self.close()
            if isinstance(e, OSError):
                raise save_error(self.path, e) from e
            raise

    def write(self, segment: Segment) -> None:
        d = segment.to_dict()
        probs = " ".join(f"{k}={v:.4f}" for k, v in d["probabilities"].items())
        self._write((time.strftime("%Y-%m-%dT%H:%M:%S"), d["start_s"], d["end_s"], d["label"], probs))

    def _write(self, row) -> None:
        out = io.StringIO()
        csv.writer(out).writerow(row)
        append_whole(self._fd, out.getvalue().encode("utf-8"), self.path)

    def _cut_torn_row(self) -> int:
        """Cut a last row without its newline back to the row before it; returns the size."""
        size = os.lseek(self._fd, 0, os.SEEK_END)
        if size == 0 or self._read(size - 1, 1) == b"\n":
            return size
        header, head = ",".join(self.FIELDS).encode(), self._read(0, 64)
        if head[: len(header)] != header[: len(head)]:  # not a log of ours: leave its last line be
            os.write(self._fd, b"\n")
            return size + 1
        end = size
        while end > 0:
            start = max(0, end - 4096)
            newline = self._read(start, end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        os.ftruncate(self._fd, end)
        return end

    def _read(self, offset: int, n: int) -> bytes:
        os.lseek(self._fd, offset, os.SEEK_SET)  # writes go to the end all the same (O_APPEND)
        return os.read(self._fd, n)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_LOST = object()  # put on the queue by the audio thread when the device goes away


class LiveSession:
    """The microphone, classified continuously on a worker thread, with a rolling buffer of the last
    `settings.keep_s` seconds. If the device goes away, the listener hears about it, the session keeps trying
    to reopen it, and says when audio flows again."""

    RETRY_S = 1.0  # between attempts to reopen a lost device
    STALL_S = 3.0  # no audio for this long from a running stream: the device is treated as lost
    FIRST_AUDIO_S = 6.0  # a freshly opened stream may take a while to deliver (sound servers buffer)

    def __init__(
        self,
        classifier: Classifier,
        settings: LiveSettings | None = None,
        device: str | None = None,
        listener: LiveListener | None = None,
    ):
        self.settings = settings or LiveSettings()
        self.device = device
        self.listener = listener or LiveListener()
        self.rate_hz = classifier.spec.rate_hz
        self.analyzer = LiveAnalyzer(classifier, self.settings, _Forward(self))
        self.audio = RingBuffer(int(self.settings.keep_s * self.rate_hz))
        self.mic: Microphone | None = None
        self.problem: str | None = None  # set while the device is lost
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resampler = None
        self._log: SegmentLog | None = None
        self._log_lock = threading.Lock()
        self.log_error: str | None = None  # why the segment log stopped, if it did

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the device and start listening. Raises `DeviceError` if it cannot be opened."""
        if self.running:
            return
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="musicspeech-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; the last segment is reported."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close_mic()
        self.analyzer.finish()
        self.log_segments(None)

    def last_audio(self, seconds: float) -> Waveform:
        """The last `seconds` heard (fewer at the start), at the model's rate."""
        return Waveform(self.audio.latest(int(seconds * self.rate_hz)), self.rate_hz, "live")

    def log_segments(self, path: str | Path | None) -> None:
        """Append every segment from now on to a CSV file (None: stop logging). Raises `SaveError` if the file
        cannot be written (the session goes on without a log)."""
        new = SegmentLog(path) if path is not None else None
        with self._log_lock:
            old, self._log = self._log, new
            if new is not None:
                self.log_error = None
        if old is not None:
            old.close()

    # worker ----------------------------------------------------------------------------------------------
    def _open(self) -> None:
        mic = Microphone(self.device, self._queue.put, lambda _message: self._queue.put(_LOST))
        mic.start()
        self.mic = mic
        self._resampler = (
            soxr.ResampleStream(mic.rate_hz, self.rate_hz, 1, dtype="float32", quality="HQ")
            if mic.rate_hz != self.rate_hz
            else None
        )

    def _close_mic(self) -> None:
        mic, self.mic = self.mic, None
        if mic is not None:
            mic.close()

    def _run(self) -> None:
        last_audio = time.monotonic()
        waited_s = self.FIRST_AUDIO_S
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if time.monotonic() - last_audio > waited_s:
                    item = _LOST
                else:
                    continue
            if item is None:
                break
            if item is _LOST:
                self._recover()
                last_audio, waited_s = time.monotonic(), self.FIRST_AUDIO_S
                continue
            blocks = [item]
            while True:  # take whatever else is waiting: one pass per batch, not per block
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None or more is _LOST:
                    self._queue.put(more)
                    break
                blocks.append(more)
            x = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
            if self._resampler is not None:
                x = self._resampler.resample_chunk(x)
            last_audio, waited_s = time.monotonic(), self.STALL_S
            if self.problem is not None:
                self.problem = None
                self.listener.recovered(f"audio is back from {self.mic.device.name if self.mic else 'the input'}")
            self.audio.write(x)
            self.analyzer.feed(x)

    def _recover(self) -> None:
        """The device went away: say so, then try to reopen it until it is back or the session stops."""
        name = self.mic.device.name if self.mic else (self.device or "the input device")
        self._close_mic()
        self.problem = f"the input device {name} stopped delivering audio; retrying every {self.RETRY_S:g} s"
        self.listener.problem(self.problem)
        while not self._stop.wait(self.RETRY_S):
            try:
                self._open()
                return  # "recovered" is reported when audio actually arrives
            except DeviceError as e:
                if "not connected" in str(e):
                    rescan()  # a device plugged in again is only listed after PortAudio scans again

    def _segment(self, segment: Segment) -> None:
        with self._log_lock:
            if self._log is not None:
                try:
                    self._log.write(segment)
                except MusicSpeechError as e:  # the disk is full, the folder went away: the rows so far stay
                    self._log.close()
                    self._log = None
                    self.log_error = str(e)
                    self.listener.problem(f"segments are no longer logged: {e}")
        self.listener.segment(segment)


class _Forward(LiveListener):
    """The analyzer's listener inside a session: segments are logged, everything goes on to the user's."""

    def __init__(self, session: LiveSession):
        self.session = session

    def frames(self, feats, levels_dbfs):
        self.session.listener.frames(feats, levels_dbfs)

    def verdict(self, verdict):
        self.session.listener.verdict(verdict)

    def segment(self, segment):
        self.session._segment(segment)


__all__ = [
    "SILENCE",
    "LiveAnalyzer",
    "LiveListener",
    "LiveSession",
    "LiveSettings",
    "RingBuffer",
    "Segment",
    "SegmentLog",
    "Verdict",
]
