"""Inspect: one clip's waveform, spectrogram (Hz axis, dB colour bar) and the prediction over time, with linked
zoom and scroll; playback with a playhead (click or drag to seek); a recording from the microphone opens here."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from musicspeech.core.audio import Waveform, resample, write_wav
from musicspeech.core.features import FeatureSpec
from musicspeech.core.inspection import DISPLAY_RATE_HZ, Inspection, inspect_audio, read_clip, spectrogram_db
from musicspeech.core.paths import readable
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.audio_devices import AudioDevices
from musicspeech.gui.label_colors import LABEL_COLORS, label_color
from musicspeech.gui.tasks import run_task
from musicspeech.gui.time_axis import TimeAxis, clock

if TYPE_CHECKING:
    from musicspeech.core.inference import Prediction

LOW_CONFIDENCE = 0.75  # windows whose top probability is below this are marked as uncertain
BAND_TEXTS = 500  # segments named in the band at most (a segment's colour says it too)
BAND_TEXT_PIXELS = 60  # a segment narrower than this on screen shows its colour only
TIMELINE_WIDE_PEN_WINDOWS = 1000  # up to 8 minutes: the p(speech) line 2 pixels wide; beyond, 1 pixel


class TimeViewBox(pg.ViewBox):
    """Audacity's and Sonic Visualiser's habits: the wheel zooms time only, Ctrl+wheel zooms frequency (on the
    spectrogram; the other plots keep their height), dragging moves along time only."""

    def __init__(self, zooms_frequency: bool = False):
        super().__init__()
        self.zooms_frequency = zooms_frequency
        self.setMouseEnabled(x=True, y=False)

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph's name)
        if not ev.modifiers() & Qt.ControlModifier:
            super().wheelEvent(ev, axis=0)
            return
        if not self.zooms_frequency:
            ev.ignore()
            return
        self.state["mouseEnabled"][1] = True  # for this one zoom: a drag still moves along time only
        try:
            super().wheelEvent(ev, axis=1)
        finally:
            self.state["mouseEnabled"][1] = False


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
        self.task = None  # reading a clip
        self.redraw_task = None  # the spectrogram at another scale
        self.classify_task = None  # the clip shown, classified by a model that arrived after it was read
        self.classified_by = None  # the classifier whose prediction is shown

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
        self.play_button.setToolTip("Play or pause (Space)")
        self.play_button.setAccessibleName("Play or pause")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button = QPushButton("&Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(30)
        self.playhead_timer.timeout.connect(self._move_playhead)
        self.open_button = QPushButton("&Open…")
        self.open_button.clicked.connect(self.choose_file)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setShortcut("Ctrl+F")
        self.fit_button.setToolTip(
            "Show the whole clip, all frequencies (Ctrl+F). Wheel: zoom time; "
            "Ctrl+wheel: zoom frequency; drag: move along time"
        )
        self.fit_button.setEnabled(False)
        self.fit_button.clicked.connect(self.fit)
        self.scale = QComboBox()
        self.scale.addItems(["Mel", "Linear"])
        self.scale.setToolTip("The spectrogram's frequency scale")
        self.scale.setAccessibleName("Spectrogram frequency scale")
        self.scale.setFocusPolicy(Qt.TabFocus)  # a click does not keep the keyboard: Space still plays
        self.scale.currentIndexChanged.connect(self._rescale)
        scale_label = QLabel("Freq&uency:")
        scale_label.setBuddy(self.scale)
        self.name_label = QLabel("")
        self.name_label.setAccessibleName("File")
        self.name_label.setMinimumWidth(1)  # a long name is cut (the whole path in its tooltip), never widens
        self.name_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.readout = QLabel("")
        self.readout.setAccessibleName("Position")
        self.readout.setToolTip("playhead / length")
        self.verdict = QLabel("")  # the placeholder says what to do until a clip is open
        self.verdict.setAccessibleName("Prediction")
        font = self.verdict.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setMinimumWidth(1)  # a long name or message is cut at the window's edge, never widens the window

        self.plots = pg.GraphicsLayoutWidget()
        self.wave_plot = self._plot(0, TimeViewBox())
        self.wave_plot.setLabel("left", "amplitude")
        self.wave_curve_min = self.wave_plot.plot(pen=pg.mkPen("#4a90d9"))
        self.wave_curve_max = self.wave_plot.plot(pen=pg.mkPen("#4a90d9"))
        self.wave_fill = pg.FillBetweenItem(self.wave_curve_min, self.wave_curve_max, brush=pg.mkBrush("#4a90d980"))
        self.wave_plot.addItem(self.wave_fill)
        self.spec_plot = self._plot(1, TimeViewBox(zooms_frequency=True))
        self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_plot.addItem(self.spec_image)
        self.colorbar = pg.ColorBarItem(
            values=(-80, 0), colorMap=pg.colormap.get("viridis"), label="dB", interactive=False
        )
        self.colorbar.setImageItem(self.spec_image)
        self.plots.addItem(self.colorbar, row=1, col=1)  # its own column, so the plots keep one width
        self.timeline_plot = self._plot(2, TimeViewBox())
        self.timeline_plot.setLabel("left", "p(speech)")
        self.timeline_plot.setYRange(0, 1)
        speech_pen = pg.mkPen(LABEL_COLORS["speech"], width=2)
        self.timeline_curve = self.timeline_plot.plot(pen=speech_pen, stepMode="center")
        self.uncertain_shade = self.timeline_plot.plot(  # one item for every uncertain stretch, however many
            stepMode="center", fillLevel=0, brush=pg.mkBrush(127, 127, 127, 60), pen=None
        )
        self.uncertain_shade.setZValue(-1)
        self.uncertain_shade.setToolTip("shaded: uncertain stretches (both music and speech, or neither)")
        self.band_plot = self._plot(3, TimeViewBox())  # the segments, like a label track
        self.band_plot.setLabel("bottom", "time (m:ss)")
        self.band_plot.getAxis("left").setTicks([[(0.5, "segments")]])  # as a name: a label would not fit
        self.band_plot.getAxis("left").setStyle(tickLength=0)
        self.band_plot.setYRange(0, 1, padding=0)
        self.band_plot.setMaximumHeight(80)
        self.band_bars: pg.BarGraphItem | None = None
        self.band_texts: list[tuple[pg.TextItem, float]] = []
        self.band_plot.vb.sigXRangeChanged.connect(lambda *_: self._fit_band_texts())
        for plot in (self.wave_plot, self.spec_plot, self.timeline_plot):
            plot.hideAxis("bottom")  # one time scale, under the segments
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.plots.ci.layout.setRowStretchFactor(2, 1)
        self.playheads = [
            pg.InfiniteLine(0, pen=pg.mkPen("#d62728", width=2), movable=True, hoverPen=pg.mkPen("#d62728", width=4))
            for _ in range(4)
        ]
        for plot, line in zip(self.all_plots, self.playheads, strict=True):
            plot.addItem(line)
            line.setToolTip("Drag to move the playhead; or click anywhere on the plots")
            line.sigDragged.connect(lambda moved: self._set_playhead(moved.value()))
            line.sigPositionChangeFinished.connect(lambda moved: self.seek(moved.value()))
        self.plots.scene().sigMouseClicked.connect(self._clicked)
        self.placeholder = QLabel("Open a file (Ctrl+O) or drop one here; or record from the microphone")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.view = QStackedWidget()
        self.view.addWidget(self.placeholder)
        self.view.addWidget(self.plots)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.record_button)
        top.addWidget(self.meter)
        top.addWidget(self.play_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.save_button)
        top.addWidget(self.fit_button)
        top.addWidget(scale_label)
        top.addWidget(self.scale)
        top.addWidget(self.readout)
        top.addStretch(1)
        second = QHBoxLayout()
        second.addWidget(self.name_label, 1)
        second.addWidget(self.verdict, 2, Qt.AlignRight)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.view, 1)
        for widget in (
            self.open_button,
            self.record_button,
            self.play_button,
            self.stop_button,
            self.save_button,
            self.fit_button,
            self.scale,
            self.plots,
        ):
            widget.installEventFilter(self)  # Space plays or pauses whichever of them has the keyboard
        model.changed.connect(lambda _: self._model_arrived())
        devices.output_changed.connect(self._output_changed)

    @property
    def all_plots(self):
        return (self.wave_plot, self.spec_plot, self.timeline_plot, self.band_plot)

    def _plot(self, row: int, view_box: TimeViewBox) -> pg.PlotItem:
        plot = self.plots.addPlot(row=row, col=0, viewBox=view_box, axisItems={"bottom": TimeAxis()})
        plot.getAxis("left").setWidth(72)  # equal axis widths keep the linked time axes aligned
        plot.hideButtons()
        if row:
            plot.setXLink(self.wave_plot)
        return plot

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """Space plays or pauses, whatever control of the tab has the keyboard (it would open the scale box or
        press the focused button); the key is claimed before shortcuts see it, so it acts once."""
        kind = event.type()
        keys = (QEvent.ShortcutOverride, QEvent.KeyPress, QEvent.KeyRelease)
        if kind in keys and event.key() == Qt.Key_Space and not event.modifiers() & ~Qt.KeypadModifier:
            event.accept()
            if kind == QEvent.KeyPress and not event.isAutoRepeat():
                self.toggle_play()
            return True
        return super().eventFilter(watched, event)

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open audio file")
        if name:
            self.open(Path(name))

    def display_spec(self) -> FeatureSpec:
        if self.scale.currentIndex() == 1:
            return FeatureSpec(kind="stft", frame_length=512, frame_step=160, fft_length=512)
        return FeatureSpec(kind="logmel", n_mels=128, fmin_hz=0.0, fmax_hz=8000.0)

    def open(self, path: Path) -> None:
        """Decode (once), draw and classify `path` in the background; the tab shows it when ready."""
        path = Path(path)
        self.path, self.take = path, None
        self.verdict.setText(f"reading {readable(path.name)}…")
        self._inspect(lambda: read_clip(path), path)

    def show_recording(self, take: Waveform) -> None:
        """Show a recording (kept at its own rate for saving, and played as it was recorded) as if it were a file."""
        self.path, self.take = None, take
        name = Path(f"recording {time.strftime('%H:%M:%S')}")
        self.verdict.setText("analysing the recording…")
        self._inspect(
            lambda: (Waveform(resample(take.samples, take.rate_hz, DISPLAY_RATE_HZ), DISPLAY_RATE_HZ), take), name
        )

    def _inspect(self, read, name: Path) -> None:
        """On a worker: `read()` gives (the 16 kHz copy, the copy to play); draw and classify it (`core.inspection`).
        The model in use when the worker starts classifies; one that arrives later is seen by `show_inspection`."""
        classifier = self.model.classifier
        spec = self.display_spec()
        for task in (self.task, self.redraw_task, self.classify_task):
            if task is not None and task.running:
                task.cancel()
        self.shown_name = name
        self.save_button.setEnabled(False)

        def work(ctx):
            analysed, playback = read()
            return inspect_audio(analysed, spec, classifier, playback), classifier

        self.task = run_task(
            work,
            on_result=lambda r: self.show_inspection(r[0], name, r[1]),
            on_error=lambda message: self._failed(message, name),
            owner=self,
        )

    def _rescale(self) -> None:
        """The spectrogram at the other scale, from the clip already read: the file is not read again, the
        playback goes on, the zoom stays."""
        current, spec = self.current, self.display_spec()
        if current is None:
            return  # a clip being read is drawn at the scale chosen when it arrives
        if self.redraw_task is not None and self.redraw_task.running:
            self.redraw_task.cancel()

        def work(ctx):
            return spectrogram_db(current.waveform.samples, spec)

        def done(result) -> None:
            shown = self.current
            if shown is None or shown.waveform is not current.waveform or spec != self.display_spec():
                return  # another clip, or another scale, meanwhile
            db, frames_per_column = result
            column_s = frames_per_column * spec.frame_step / spec.rate_hz
            self.current = replace(shown, spectrogram_db=db, column_s=column_s, spec=spec)  # its prediction kept
            self._show_spectrogram(self.current, keep_view=True)

        self.redraw_task = run_task(work, on_result=done, on_error=self.status.emit, owner=self)

    def _model_arrived(self) -> None:
        """A model arrived (the first, or another): the clip shown is classified by it. A clip still being read
        is classified when it arrives (`show_inspection` checks which model is in use then)."""
        if self.current is not None and self.model.classifier is not self.classified_by:
            self._classify_shown()

    def _classify_shown(self) -> None:
        current, classifier, name = self.current, self.model.classifier, self.shown_name
        if current is None or classifier is None:
            return
        if self.classify_task is not None and self.classify_task.running:
            self.classify_task.cancel()
        self.verdict.setText("classifying…")

        def done(prediction) -> None:
            if self.current is None or self.current.waveform is not current.waveform or name != self.shown_name:
                return  # another clip meanwhile
            self.current = replace(self.current, prediction=prediction)
            self.classified_by = classifier
            self._show_prediction(prediction, name)

        self.classify_task = run_task(
            lambda ctx: classifier.classify(current.for_model(classifier.spec.rate_hz)),
            on_result=done,
            on_error=self.status.emit,
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
        self.classified_by = None
        self.stop()
        if self.player is not None:
            self.player.close()
            self.player = None
        self.play_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.fit_button.setEnabled(False)
        for curve in (self.wave_curve_min, self.wave_curve_max, self.timeline_curve, self.uncertain_shade):
            curve.setData([], [])
        self.spec_image.clear()
        self._clear_band()
        self.name_label.setText("")
        self.name_label.setToolTip("")
        self.readout.setText("")
        self.view.setCurrentWidget(self.placeholder)

    def show_inspection(self, inspection: Inspection, path: Path, classifier=None) -> None:
        if path != self.shown_name:
            return  # a newer clip was opened meanwhile
        self.current = inspection
        self.classified_by = classifier if inspection.prediction is not None else None
        self.view.setCurrentWidget(self.plots)
        w = inspection.waveform
        self.wave_curve_min.setData(inspection.envelope_t, inspection.envelope[:, 0])
        self.wave_curve_max.setData(inspection.envelope_t, inspection.envelope[:, 1])
        peak = float(np.abs(inspection.envelope).max()) if inspection.envelope.size else 0.0
        self.wave_plot.setYRange(-max(peak, 1e-3), max(peak, 1e-3), padding=0.05)
        self._show_spectrogram(inspection, keep_view=False)
        for plot in self.all_plots:
            plot.vb.setLimits(xMin=0.0, xMax=max(w.duration_s, 0.01), minXRange=0.01)
        self.fit_button.setEnabled(True)
        self.name_label.setText(readable(path.name))
        self.name_label.setToolTip(str(self.path) if self.path is not None else "recorded in this session")
        self._new_player(inspection.playback)
        self.fit()
        self._show_prediction(inspection.prediction, path)
        if inspection.prediction is None or classifier is not self.model.classifier:
            self._classify_shown()  # the model arrived (or changed) while the clip was being read
        self.save_button.setEnabled(self.take is not None)
        if self.path is not None:
            self.opened.emit(path)

    def _show_spectrogram(self, inspection: Inspection, keep_view: bool) -> None:
        spec, db = inspection.spec, inspection.spectrogram_db
        top = float(db.max()) if db.size else 0.0
        self.spec_image.setImage(np.ascontiguousarray(db.T), autoLevels=False)  # rows: frequency
        self.colorbar.setLevels((top - 80, top))
        freqs = spec.bin_frequencies_hz()
        duration = len(db) * inspection.column_s
        axis = self.spec_plot.getAxis("left")
        if spec.kind == "logmel":  # mel bands are not evenly spaced in Hz: y counts bands, the ticks say Hz
            height = float(len(freqs))
            self.spec_image.setRect(0, 0, duration, height)
            step = max(1, len(freqs) // 6)
            axis.setTicks([[(i + 0.5, f"{freqs[i]:.0f}") for i in range(0, len(freqs), step)]])
            self.spec_plot.setLabel("left", "frequency (Hz, mel scale)")
        else:
            height = float(freqs[-1])
            self.spec_image.setRect(0, 0, duration, height)
            axis.setTicks(None)
            self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.spec_plot.vb.setLimits(yMin=0.0, yMax=height, minYRange=height / 64)
        self.spec_plot.setYRange(0, height, padding=0)  # another scale: all of it again

    def fit(self) -> None:
        """The whole clip, every frequency."""
        if self.current is None:
            return
        self.wave_plot.setXRange(0, self.current.waveform.duration_s, padding=0)
        height = self.spec_image.mapRectToParent(self.spec_image.boundingRect()).height()
        self.spec_plot.setYRange(0, height, padding=0)

    def time_range(self) -> tuple[float, float]:
        """The stretch of time on screen, in seconds."""
        x0, x1 = self.wave_plot.vb.viewRange()[0]
        return float(x0), float(x1)

    # playback --------------------------------------------------------------------------------------------
    def _new_player(self, waveform: Waveform) -> None:
        from musicspeech.core.devices import Player  # PortAudio loads on first play, not at start-up

        self.stop()
        if self.player is not None:
            self.player.close()
        self.player = Player(waveform.samples, waveform.rate_hz, self.devices.output_name)
        self.play_button.setEnabled(True)
        self.stop_button.setEnabled(True)
        self._set_playhead(0.0)

    def toggle_play(self) -> None:
        from musicspeech.core.devices import DeviceError

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
        for plot in self.all_plots:
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
        position = self.player.position_s
        self._set_playhead(position)
        if self.player.playing:
            self._follow(position)
        elif position >= self.player.duration_s - 0.05:
            self.stop()

    def _follow(self, seconds: float) -> None:
        """Keep the playhead on screen while playing: when it leaves the view, the view turns a page (the
        playhead at its left edge, the zoom kept), as Audacity does."""
        x0, x1 = self.time_range()
        if x0 <= seconds <= x1 or self.current is None:
            return
        width = x1 - x0
        start = min(seconds, max(0.0, self.current.waveform.duration_s - width))
        self.wave_plot.setXRange(start, start + width, padding=0)

    def _set_playhead(self, seconds: float) -> None:
        for line in self.playheads:
            if line.value() != seconds:
                line.setValue(seconds)
        if self.player is not None:
            self.readout.setText(f"{clock(seconds, tenths=True)} / {clock(self.player.duration_s)}")

    # recording -------------------------------------------------------------------------------------------
    def toggle_record(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
            return
        if self.record_task is not None and self.record_task.running:
            return  # the device is being opened
        name = self.devices.input_name

        def work(_ctx):
            from musicspeech.core.devices import Recorder

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
            self._clear_band()
            waiting = "waiting for the model…" if self.model.classifier is None else "classifying…"
            self.verdict.setText(waiting)
            return
        speech = prediction.labels.index("speech") if "speech" in prediction.labels else 1
        starts = prediction.window_starts_s
        centres = starts + prediction.window_s / 2
        edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [prediction.duration_s]])
        # a 2-pixel line costs Qt far more to stroke than a 1-pixel one: an hour's 7,200 windows took 0.2 s a repaint
        width = 2 if len(starts) <= TIMELINE_WIDE_PEN_WINDOWS else 1
        self.timeline_curve.setPen(pg.mkPen(LABEL_COLORS["speech"], width=width))
        self.timeline_curve.setData(edges, prediction.window_probabilities[:, speech])
        uncertain = prediction.window_probabilities.max(axis=1) < LOW_CONFIDENCE
        self.uncertain_shade.setData(edges, uncertain.astype(np.float32))  # 1: shaded from 0 up, 0: nothing
        self._show_band(prediction)
        probs = ", ".join(f"{k} {v:.0%}" for k, v in prediction.probability_dict().items())
        if prediction.label in prediction.labels:
            self.verdict.setText(f"{prediction.label} {prediction.confidence:.0%}  ({probs})")
        else:  # silence: an energy gate, not one of the model's labels
            self.verdict.setText(f"{prediction.label}  ({probs})")
        self.verdict.setStyleSheet(f"color: {label_color(prediction.label).name()}")

    # the segments band -----------------------------------------------------------------------------------
    def _clear_band(self) -> None:
        if self.band_bars is not None:
            self.band_plot.removeItem(self.band_bars)
            self.band_bars = None
        for text, _ in self.band_texts:
            self.band_plot.removeItem(text)
        self.band_texts = []
        self.verdict.setStyleSheet("")

    def _show_band(self, prediction: Prediction) -> None:
        """One coloured bar per segment (music, speech, silence), named where there is room, like a label track."""
        self._clear_band()
        segments = prediction.segments
        if not segments:
            return
        starts = np.array([s.start_s for s in segments])
        widths = np.array([s.end_s - s.start_s for s in segments])
        brushes = [pg.mkBrush(label_color(s.label)) for s in segments]
        self.band_bars = pg.BarGraphItem(
            x0=starts, width=widths, y0=0.1, height=0.8, brushes=brushes, pens=[pg.mkPen(None)] * len(segments)
        )
        self.band_plot.addItem(self.band_bars)
        for segment in segments[:BAND_TEXTS]:
            text = pg.TextItem(segment.label, color="#000000", anchor=(0, 0.5))
            text.setPos(segment.start_s, 0.5)
            self.band_plot.addItem(text)
            self.band_texts.append((text, segment.end_s - segment.start_s))
        self._fit_band_texts()

    def _fit_band_texts(self) -> None:
        """A segment's name shows only where the segment is wide enough on screen to hold it."""
        if not self.band_texts:
            return
        x0, x1 = self.time_range()
        pixels = max(1.0, self.band_plot.vb.width()) / max(x1 - x0, 1e-6)
        for text, seconds in self.band_texts:
            text.setVisible(seconds * pixels > BAND_TEXT_PIXELS)
