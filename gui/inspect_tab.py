"""Inspect: one clip's waveform, spectrogram (Hz axis, dB colour bar) and the prediction over time, with linked
zoom and scroll; playback with a playhead (click or drag to seek); a recording from the microphone opens here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.audio import Waveform, load_audio, native_rate_hz, resample, write_wav
from core.features import FeatureSpec, frame_features
from core.paths import readable
from gui.active_model import ActiveModel
from gui.audio_devices import AudioDevices
from gui.tasks import run_task

if TYPE_CHECKING:
    from core.inference import Prediction

DISPLAY_RATE_HZ = 16000
PLAYBACK_MAX_RATE_HZ = 48000
PLAYBACK_FALLBACK_RATE_HZ = 44100  # a file only ffmpeg reads: its rate is not known before decoding
PLAYBACK_BUDGET_BYTES = 256 << 20
"""A file plays at its own rate (up to 48 kHz) while that copy fits in this; a longer one plays the 16 kHz copy
the tab analyses (about 20 minutes at 48 kHz, 4 hours at 16 kHz)."""
LOW_CONFIDENCE = 0.75  # windows whose top probability is below this are marked as uncertain
ENVELOPE_POINTS = 4000
TIMELINE_WIDE_PEN_WINDOWS = 1000  # up to 8 minutes: the p(speech) line 2 pixels wide; beyond, 1 pixel
SPECTROGRAM_COLUMNS = 3000
"""The spectrogram has at most this many columns (a 30 s clip has 2,998 frames, each its own column); a longer
clip's frames are pooled, each column the loudest of its frames: an hour in full took 750 MB to compute and
half a second of the GUI thread to show."""


@dataclass(frozen=True)
class Inspection:
    """Everything the tab shows for one clip, computed off the GUI thread."""

    waveform: Waveform
    envelope_t: np.ndarray
    envelope: np.ndarray  # (points, 2): min and max per bucket
    spectrogram_db: np.ndarray  # (columns, bins)
    column_s: float  # the time one spectrogram column spans (a frame step, or several frames pooled)
    spec: FeatureSpec
    prediction: Prediction | None
    playback: Waveform  # what Play plays: the file at its own rate where that is affordable (`playback_copy`)


def playback_copy(path: Path, analysed: Waveform) -> Waveform:
    """The file decoded again at its own rate for listening (the 16 kHz analysis copy loses everything above
    8 kHz), up to 48 kHz, unless that copy would exceed `PLAYBACK_BUDGET_BYTES`: then the analysis copy itself."""
    rate = min(native_rate_hz(path) or PLAYBACK_FALLBACK_RATE_HZ, PLAYBACK_MAX_RATE_HZ)
    if rate <= analysed.rate_hz or analysed.duration_s * rate * 4 > PLAYBACK_BUDGET_BYTES:
        return analysed
    return load_audio(path, rate)


def inspect_audio(
    waveform: Waveform, spec: FeatureSpec, classifier=None, playback: Waveform | None = None
) -> Inspection:
    x = waveform.samples
    buckets = max(1, len(x) // ENVELOPE_POINTS)
    n = len(x) // buckets
    shaped = x[: n * buckets].reshape(n, buckets) if n else np.zeros((1, 1), np.float32)
    envelope = np.stack([shaped.min(axis=1), shaped.max(axis=1)], axis=1)
    envelope_t = (np.arange(len(envelope)) * buckets) / waveform.rate_hz
    db, frames_per_column = spectrogram_db(x, spec)
    prediction = classifier.classify(waveform) if classifier is not None else None
    column_s = frames_per_column * spec.frame_step / spec.rate_hz
    return Inspection(waveform, envelope_t, envelope, db, column_s, spec, prediction, playback or waveform)


def spectrogram_db(x: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, int]:
    """(columns, bins) dB of at most `SPECTROGRAM_COLUMNS` columns, and the frames pooled into each (their
    maximum), computed a piece at a time: the memory of one piece of frames, not of every frame of a long clip."""
    if len(x) < spec.frame_length:  # a clip shorter than a frame (one sample) still has a column to draw
        x = np.pad(x, (0, spec.frame_length - len(x)))
    n_frames = 1 + (len(x) - spec.frame_length) // spec.frame_step
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


class InspectTab(QWidget):
    status = Signal(str)
    opened = Signal(Path)

    def __init__(self, model: ActiveModel, devices: AudioDevices, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.devices = devices
        self.current: Inspection | None = None
        self.path: Path | None = None  # the file shown; None for a recording
        self.take: Waveform | None = None  # the recording shown, at the device's rate (what "Save as WAV" writes)
        self.shown_name: Path | None = None  # what the tab shows or is about to show
        self.task = None

        self.recorder = None
        self.record_task = None
        self.record_button = QPushButton("&Record")
        self.record_button.setToolTip("Record from the input device chosen in the Audio menu")
        self.record_button.clicked.connect(self.toggle_record)
        self.meter = QProgressBar()
        self.meter.setRange(0, 60)
        self.meter.setTextVisible(False)
        self.meter.setMaximumWidth(120)
        self.meter.setAccessibleName("Input level")
        self.meter.setVisible(False)
        self.record_timer = QTimer(self)
        self.record_timer.setInterval(50)
        self.record_timer.timeout.connect(self._show_level)
        self.save_button = QPushButton("Sa&ve as WAV…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_dialog)

        self.player = None
        self.play_button = QPushButton("&Play")
        self.play_button.setShortcut("Space")
        self.play_button.setAccessibleName("Play or pause")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button = QPushButton("S&top")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(30)
        self.playhead_timer.timeout.connect(self._move_playhead)
        self.open_button = QPushButton("&Open…")
        self.open_button.clicked.connect(self.choose_file)
        self.scale = QComboBox()
        self.scale.addItems(["Mel spectrogram", "Linear spectrogram"])
        self.scale.setAccessibleName("Spectrogram frequency scale")
        self.scale.currentIndexChanged.connect(self._redraw)
        self.verdict = QLabel("Open a file, or drop one here")
        self.verdict.setAccessibleName("Prediction")
        font = self.verdict.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setMinimumWidth(1)  # a long name or message is cut at the window's edge, never widens the window

        self.plots = pg.GraphicsLayoutWidget()
        self.wave_plot = self.plots.addPlot(row=0, col=0)
        self.wave_plot.setLabel("left", "amplitude")
        self.wave_curve_min = self.wave_plot.plot(pen=pg.mkPen("#4a90d9"))
        self.wave_curve_max = self.wave_plot.plot(pen=pg.mkPen("#4a90d9"))
        self.wave_fill = pg.FillBetweenItem(self.wave_curve_min, self.wave_curve_max, brush=pg.mkBrush("#4a90d980"))
        self.wave_plot.addItem(self.wave_fill)
        self.spec_plot = self.plots.addPlot(row=1, col=0)
        self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_plot.addItem(self.spec_image)
        self.colorbar = pg.ColorBarItem(values=(-80, 0), colorMap=pg.colormap.get("viridis"), label="dB")
        self.colorbar.setImageItem(self.spec_image)
        self.plots.addItem(self.colorbar, row=1, col=1)  # its own column, so the plots keep one width
        self.timeline_plot = self.plots.addPlot(row=2, col=0)
        self.timeline_plot.setLabel("left", "p(speech)")
        self.timeline_plot.setLabel("bottom", "time", units="s")
        self.timeline_plot.setYRange(0, 1)
        self.timeline_curve = self.timeline_plot.plot(pen=pg.mkPen("#e67e22", width=2), stepMode="center")
        self.uncertain_shade = self.timeline_plot.plot(  # one item for every uncertain stretch, however many
            stepMode="center", fillLevel=0, brush=pg.mkBrush(255, 200, 0, 60), pen=None
        )
        self.uncertain_shade.setZValue(-1)
        self.uncertain_shade.setToolTip("shaded: uncertain stretches (both music and speech, or neither)")
        for plot in (self.wave_plot, self.spec_plot, self.timeline_plot):
            plot.getAxis("left").setWidth(72)  # equal axis widths keep the linked time axes aligned
            if plot is not self.wave_plot:
                plot.setXLink(self.wave_plot)
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.playheads = [
            pg.InfiniteLine(0, pen=pg.mkPen("#d62728", width=2), movable=True, hoverPen=pg.mkPen("#d62728", width=4))
            for _ in range(3)
        ]
        for plot, line in zip((self.wave_plot, self.spec_plot, self.timeline_plot), self.playheads, strict=True):
            plot.addItem(line)
            line.setToolTip("Drag to move the playhead; or click anywhere on the plots")
            line.sigDragged.connect(lambda moved: self._set_playhead(moved.value()))
            line.sigPositionChangeFinished.connect(lambda moved: self.seek(moved.value()))
        self.plots.scene().sigMouseClicked.connect(self._clicked)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.record_button)
        top.addWidget(self.meter)
        top.addWidget(self.play_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.save_button)
        top.addWidget(self.scale)
        top.addStretch(1)
        top.addWidget(self.verdict)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plots, 1)
        model.changed.connect(lambda _: self.current and self.current.prediction is None and self._redraw())
        devices.output_changed.connect(self._output_changed)

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open audio file")
        if name:
            self.open(Path(name))

    def display_spec(self) -> FeatureSpec:
        if self.scale.currentIndex() == 1:
            return FeatureSpec(kind="stft", frame_length=512, frame_step=160, fft_length=512)
        return FeatureSpec(kind="logmel", n_mels=128, fmin_hz=0.0, fmax_hz=8000.0)

    def open(self, path: Path) -> None:
        """Decode, draw and classify `path` in the background; the tab shows it when ready."""
        path = Path(path)
        self.path, self.take = path, None
        self.verdict.setText(f"reading {readable(path.name)}…")
        self._inspect(lambda: load_audio(path, DISPLAY_RATE_HZ), path, lambda analysed: playback_copy(path, analysed))

    def show_recording(self, take: Waveform) -> None:
        """Show a recording (kept at its own rate for saving) as if it were a file."""
        self.path, self.take = None, take
        name = Path(f"recording {time.strftime('%H:%M:%S')}")
        self.verdict.setText("analysing the recording…")
        self._inspect(
            lambda: Waveform(resample(take.samples, take.rate_hz, DISPLAY_RATE_HZ), DISPLAY_RATE_HZ),
            name,
            lambda _analysed: take,  # played as it was recorded
        )

    def _redraw(self) -> None:
        """Show the same clip again (another scale, or the model has arrived)."""
        if self.path is not None:
            self.open(self.path)
        elif self.take is not None:
            self.show_recording(self.take)

    def _inspect(self, read, name: Path, listen) -> None:
        """On a worker: `read()` the 16 kHz copy, draw and classify it; `listen(copy)` gives what Play plays."""
        classifier = self.model.classifier
        spec = self.display_spec()
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.shown_name = name
        self.save_button.setEnabled(False)

        def work(ctx):
            analysed = read()
            return inspect_audio(analysed, spec, classifier, listen(analysed))

        self.task = run_task(
            work,
            on_result=lambda r: self.show_inspection(r, name),
            on_error=lambda message: self._failed(message, name),
            owner=self,
        )

    def _failed(self, message: str, name: Path) -> None:
        """Say why `name` cannot be shown, with nothing of another clip left on the plots."""
        if name != self.shown_name:
            return  # a newer clip was opened meanwhile
        self._clear()
        problem = message.removeprefix(f"cannot read {name}: ")
        self.verdict.setText(f"cannot show {readable(name.name)}: {readable(problem)}")
        self.status.emit(readable(message))

    def _clear(self) -> None:
        self.current = None
        self.stop()
        if self.player is not None:
            self.player.close()
            self.player = None
        self.play_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        for curve in (self.wave_curve_min, self.wave_curve_max, self.timeline_curve, self.uncertain_shade):
            curve.setData([], [])
        self.spec_image.clear()

    def show_inspection(self, inspection: Inspection, path: Path) -> None:
        if path != self.shown_name:
            return  # a newer clip was opened meanwhile
        self.current = inspection
        w, spec = inspection.waveform, inspection.spec
        self.wave_curve_min.setData(inspection.envelope_t, inspection.envelope[:, 0])
        self.wave_curve_max.setData(inspection.envelope_t, inspection.envelope[:, 1])
        db = inspection.spectrogram_db
        top = float(db.max()) if db.size else 0.0
        self.spec_image.setImage(np.ascontiguousarray(db.T), autoLevels=False)  # rows: frequency
        self.colorbar.setLevels((top - 80, top))
        freqs = spec.bin_frequencies_hz()
        duration = len(db) * inspection.column_s
        axis = self.spec_plot.getAxis("left")
        if spec.kind == "logmel":  # mel bands are not evenly spaced in Hz: y counts bands, the ticks say Hz
            self.spec_image.setRect(0, 0, duration, len(freqs))
            step = max(1, len(freqs) // 6)
            axis.setTicks([[(i + 0.5, f"{freqs[i]:.0f}") for i in range(0, len(freqs), step)]])
            self.spec_plot.setLabel("left", "frequency (Hz, mel scale)")
        else:
            self.spec_image.setRect(0, 0, duration, float(freqs[-1]))
            axis.setTicks(None)
            self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.wave_plot.setXRange(0, w.duration_s, padding=0)
        self._new_player(inspection.playback)
        self._show_prediction(inspection.prediction, path)
        self.save_button.setEnabled(self.take is not None)
        if self.path is not None:
            self.opened.emit(path)

    # playback --------------------------------------------------------------------------------------------
    def _new_player(self, waveform: Waveform) -> None:
        from core.devices import Player  # PortAudio loads on first play, not at start-up

        self.stop()
        if self.player is not None:
            self.player.close()
        self.player = Player(waveform.samples, waveform.rate_hz, self.devices.output_name)
        self.play_button.setEnabled(True)
        self.stop_button.setEnabled(True)
        self._set_playhead(0.0)

    def toggle_play(self) -> None:
        from core.devices import DeviceError

        if self.player is None:
            return
        if self.player.playing:
            self.player.pause()
            self.playhead_timer.stop()
            self.play_button.setText("&Play")
            self._set_playhead(self.player.position_s)
            return
        try:
            self.player.play()
        except DeviceError as e:
            self.status.emit(str(e))
            return
        self.play_button.setText("&Pause")
        self.playhead_timer.start()

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()
        self.playhead_timer.stop()
        self.play_button.setText("&Play")
        self._set_playhead(0.0)

    def seek(self, seconds: float) -> None:
        """Move the playhead (and playback, if playing) to `seconds`."""
        if self.player is None:
            return
        seconds = float(np.clip(seconds, 0.0, self.player.duration_s))
        self.player.seek(seconds)
        self._set_playhead(seconds)

    def _clicked(self, event) -> None:
        if event.button() != Qt.LeftButton or self.player is None:
            return
        for plot in (self.wave_plot, self.spec_plot, self.timeline_plot):
            if plot.vb.sceneBoundingRect().contains(event.scenePos()):
                self.seek(plot.vb.mapSceneToView(event.scenePos()).x())
                return

    def _output_changed(self, name) -> None:
        if self.player is None:
            return
        self.player.device = name
        if self.player.playing:  # go on playing, on the new device
            self.player.pause()
            self.toggle_play()

    def _move_playhead(self) -> None:
        if self.player is None:
            return
        if self.player.error:
            self.status.emit(self.player.error)
            self.playhead_timer.stop()
            self.play_button.setText("&Play")
            self._set_playhead(self.player.position_s)
            return
        self._set_playhead(self.player.position_s)
        if not self.player.playing and self.player.position_s >= self.player.duration_s - 0.05:
            self.stop()

    def _set_playhead(self, seconds: float) -> None:
        for line in self.playheads:
            if line.value() != seconds:
                line.setValue(seconds)

    # recording -------------------------------------------------------------------------------------------
    def toggle_record(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
            return
        if self.record_task is not None and self.record_task.running:
            return  # the device is being opened
        name = self.devices.input_name

        def work(_ctx):
            from core.devices import Recorder

            recorder = Recorder(name)
            recorder.start()
            return recorder

        self.record_button.setEnabled(False)
        self.record_task = run_task(work, on_result=self._recording, on_error=self._record_failed, owner=self)

    def _recording(self, recorder) -> None:
        self.recorder = recorder
        self.record_button.setEnabled(True)
        self.record_button.setText("Stop &recording")
        self.meter.setVisible(True)
        self.record_timer.start()
        self.verdict.setText("recording…")

    def _record_failed(self, message: str) -> None:
        self.record_button.setEnabled(True)
        self.status.emit(message)

    def _show_level(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        level = recorder.level_dbfs()
        self.meter.setValue(int(np.clip(level + 60, 0, 60)) if np.isfinite(level) else 0)
        self.meter.setToolTip(f"{level:.0f} dBFS")
        self.verdict.setText(f"recording… {recorder.seconds:.1f} s")
        if recorder.error:  # the device went away: keep what was recorded
            self.stop_recording()

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self.record_timer.stop()
        self.meter.setVisible(False)
        self.record_button.setText("&Record")
        take = recorder.stop()
        if recorder.error:
            self.status.emit(recorder.error)
        if take.duration_s < 0.1:
            self.verdict.setText("nothing was recorded")
            return
        self.show_recording(take)

    def save_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save recording", "recording.wav", "WAV audio (*.wav)")
        if name:
            self.save_recording(Path(name))

    def save_recording(self, path: Path):
        """Write the recording shown as WAV (atomically, in the background). Returns the task (None: nothing
        recorded); the status line says it was saved, or why not (the file that was there is left as it was)."""
        take = self.take
        if take is None:
            return None
        return run_task(
            lambda ctx: write_wav(path, take, cancelled=ctx.cancelled),
            on_result=lambda written: self.status.emit(f"saved {written.name}"),
            on_error=self.status.emit,
            on_cancelled=lambda: self.status.emit(f"{path.name} not saved: cancelled"),
            owner=self,
            saves=True,
        )

    def _show_prediction(self, prediction: Prediction | None, path: Path) -> None:
        if prediction is None:
            self.timeline_curve.setData([], [])
            self.uncertain_shade.setData([], [])
            self.verdict.setText(f"{readable(path.name)}: waiting for the model…")
            return
        speech = prediction.labels.index("speech") if "speech" in prediction.labels else 1
        starts = prediction.window_starts_s
        centres = starts + prediction.window_s / 2
        edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [prediction.duration_s]])
        # a 2-pixel line costs Qt far more to stroke than a 1-pixel one: an hour's 7,200 windows took 0.2 s a repaint
        self.timeline_curve.setPen(pg.mkPen("#e67e22", width=2 if len(starts) <= TIMELINE_WIDE_PEN_WINDOWS else 1))
        self.timeline_curve.setData(edges, prediction.window_probabilities[:, speech])
        uncertain = prediction.window_probabilities.max(axis=1) < LOW_CONFIDENCE
        self.uncertain_shade.setData(edges, uncertain.astype(np.float32))  # 1: shaded from 0 up, 0: nothing
        probs = ", ".join(f"{k} {v:.0%}" for k, v in prediction.probability_dict().items())
        self.verdict.setText(f"{prediction.label} {prediction.confidence:.0%}  ({probs})")
