"""Inspect: one clip's waveform, spectrogram (Hz axis, dB colour bar) and the prediction over time, with linked
zoom and scroll."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.audio import Waveform, load_audio
from core.features import FeatureSpec, frame_features
from gui.active_model import ActiveModel
from gui.tasks import run_task

if TYPE_CHECKING:
    from core.inference import Prediction

DISPLAY_RATE_HZ = 16000
LOW_CONFIDENCE = 0.75  # windows whose top probability is below this are marked as uncertain
ENVELOPE_POINTS = 4000


@dataclass(frozen=True)
class Inspection:
    """Everything the tab shows for one clip, computed off the GUI thread."""

    waveform: Waveform
    envelope_t: np.ndarray
    envelope: np.ndarray  # (points, 2): min and max per bucket
    spectrogram_db: np.ndarray  # (frames, bins)
    spec: FeatureSpec
    prediction: Prediction | None


def inspect_audio(waveform: Waveform, spec: FeatureSpec, classifier=None) -> Inspection:
    x = waveform.samples
    buckets = max(1, len(x) // ENVELOPE_POINTS)
    n = len(x) // buckets
    shaped = x[: n * buckets].reshape(n, buckets) if n else np.zeros((1, 1), np.float32)
    envelope = np.stack([shaped.min(axis=1), shaped.max(axis=1)], axis=1)
    envelope_t = (np.arange(len(envelope)) * buckets) / waveform.rate_hz
    feats = frame_features(x, spec)
    db = (20 / np.log(10)) * feats if spec.kind == "logmel" else 20 * np.log10(feats + 1e-6)
    prediction = classifier.classify(waveform) if classifier is not None else None
    return Inspection(waveform, envelope_t, envelope, db.astype(np.float32), spec, prediction)


class InspectTab(QWidget):
    status = Signal(str)
    opened = Signal(Path)

    def __init__(self, model: ActiveModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.current: Inspection | None = None
        self.path: Path | None = None
        self.task = None

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
        self.scale.currentIndexChanged.connect(lambda _: self.path and self.open(self.path))
        self.verdict = QLabel("Open a file, or drop one here")
        self.verdict.setAccessibleName("Prediction")
        font = self.verdict.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.verdict.setFont(font)

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
        self.uncertain_regions: list[pg.LinearRegionItem] = []
        for plot in (self.wave_plot, self.spec_plot, self.timeline_plot):
            plot.getAxis("left").setWidth(72)  # equal axis widths keep the linked time axes aligned
            if plot is not self.wave_plot:
                plot.setXLink(self.wave_plot)
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.playheads = [pg.InfiniteLine(0, pen=pg.mkPen("#d62728", width=2)) for _ in range(3)]
        for plot, line in zip((self.wave_plot, self.spec_plot, self.timeline_plot), self.playheads, strict=True):
            plot.addItem(line)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.play_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.scale)
        top.addStretch(1)
        top.addWidget(self.verdict)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plots, 1)
        model.changed.connect(
            lambda _: self.path and self.current and self.current.prediction is None and self.open(self.path)
        )

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
        self.path = path
        self.verdict.setText(f"reading {path.name}…")
        classifier = self.model.classifier
        spec = self.display_spec()
        if self.task is not None and self.task.running:
            self.task.cancel()

        def work(ctx):
            waveform = load_audio(path, DISPLAY_RATE_HZ)
            return inspect_audio(waveform, spec, classifier)

        self.task = run_task(work, on_result=lambda r: self.show_inspection(r, path), on_error=self._failed, owner=self)

    def show_waveform(self, waveform: Waveform, name: str) -> None:
        """Show samples that are already in memory (a recording)."""
        self.path = None
        self.show_inspection(inspect_audio(waveform, self.display_spec(), self.model.classifier), Path(name))

    def _failed(self, message: str) -> None:
        self.verdict.setText("cannot show this file")
        self.status.emit(message)

    def show_inspection(self, inspection: Inspection, path: Path) -> None:
        if self.path is not None and path != self.path:
            return  # a newer file was opened meanwhile
        self.current = inspection
        w, spec = inspection.waveform, inspection.spec
        self.wave_curve_min.setData(inspection.envelope_t, inspection.envelope[:, 0])
        self.wave_curve_max.setData(inspection.envelope_t, inspection.envelope[:, 1])
        db = inspection.spectrogram_db
        top = float(db.max()) if db.size else 0.0
        self.spec_image.setImage(np.ascontiguousarray(db.T), autoLevels=False)  # rows: frequency
        self.colorbar.setLevels((top - 80, top))
        freqs = spec.bin_frequencies_hz()
        duration = len(db) * spec.frame_step / spec.rate_hz
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
        self._new_player(w)
        self._show_prediction(inspection.prediction, path)
        self.opened.emit(path)

    # playback ----------------------------------------------------------------------------------------------
    def _new_player(self, waveform: Waveform) -> None:
        from core.devices import Player  # PortAudio loads on first play, not at start-up

        self.stop()
        self.player = Player(waveform.samples, waveform.rate_hz)
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

    def _move_playhead(self) -> None:
        if self.player is None:
            return
        self._set_playhead(self.player.position_s)
        if not self.player.playing and self.player.position_s >= self.player.duration_s - 0.05:
            self.stop()

    def _set_playhead(self, seconds: float) -> None:
        for line in self.playheads:
            line.setValue(seconds)

    def _show_prediction(self, prediction: Prediction | None, path: Path) -> None:
        for region in self.uncertain_regions:
            self.timeline_plot.removeItem(region)
        self.uncertain_regions.clear()
        if prediction is None:
            self.timeline_curve.setData([], [])
            self.verdict.setText(f"{path.name}: waiting for the model…")
            return
        speech = prediction.labels.index("speech") if "speech" in prediction.labels else 1
        starts = prediction.window_starts_s
        centres = starts + prediction.window_s / 2
        edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [prediction.duration_s]])
        self.timeline_curve.setData(edges, prediction.window_probabilities[:, speech])
        top = prediction.window_probabilities.max(axis=1)
        for a, b in _runs(top < LOW_CONFIDENCE):
            region = pg.LinearRegionItem((edges[a], edges[b]), movable=False, brush=pg.mkBrush(255, 200, 0, 60))
            region.setToolTip("uncertain: both music and speech, or neither")
            self.timeline_plot.addItem(region)
            self.uncertain_regions.append(region)
        probs = ", ".join(f"{k} {v:.0%}" for k, v in prediction.probability_dict().items())
        self.verdict.setText(f"{prediction.label} {prediction.confidence:.0%}  ({probs})")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of True in `mask`."""
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(changes[::2], changes[1::2], strict=True))
