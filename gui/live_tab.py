"""Live: the microphone classified continuously. A scrolling spectrogram, the verdict large with its confidence,
a timeline of the last minutes, and the last seconds kept: saved as WAV or added to a training folder."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from musicspeech.core.audio import write_wav
from musicspeech.core.datasets import add_to_class_folder
from musicspeech.core.errors import MusicSpeechError
from musicspeech.core.features import FeatureSpec, frame_features
from musicspeech.core.live import SILENCE, LiveListener, LiveSettings
from musicspeech.core.verdict import LIVE_POLICY
from musicspeech.gui import settings as S
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.audio_devices import AudioDevices
from musicspeech.gui.label_colors import LABEL_COLORS, OTHER_COLOR
from musicspeech.gui.settings import open_settings
from musicspeech.gui.tasks import run_task
from musicspeech.gui.time_axis import TimeAxis

SPECTROGRAM_S = 10.0  # seconds of spectrogram on screen
YAMNET_DRAWN = FeatureSpec(kind="logmel", frame_length=120, frame_step=120, fft_length=256, window_s=0.975)
"""What the spectrogram shows of a YAMNet model's frames (120-sample blocks of the waveform): a log-mel frame each."""
TIMELINE_S = 300.0  # seconds of verdicts on the timeline, at most
TIMELINE_MIN_S = 10.0  # the timeline shows what was heard so far, but never less than this
REDRAW_MS = 50
SPEC_DB_RANGE = (-90.0, 0.0)
"""The spectrogram's fixed colour scale in dB below a full-scale sine's loudest band (Friture's habit): silence is
dark, whatever was heard before it; the scale does not follow the signal."""
CLIPPED = 0.98  # a sample this close to full scale counts as clipped
CLIPPED_SHARE = 0.001  # a clip with more of its samples clipped than this is warned about before it is added


def level_dbfs(samples: np.ndarray) -> float:
    """The clip's mean power in dB relative to full scale (the live silence gate's measure)."""
    return float(10 * np.log10(max(float(np.mean(np.square(samples, dtype=np.float64))), 1e-12)))


class _Inbox(LiveListener):
    """What the live worker finds, handed to the GUI thread: deques (safe to append from another thread),
    emptied by the tab's redraw timer."""

    def __init__(self):
        self.new_frames: collections.deque = collections.deque()
        self.new_verdicts: collections.deque = collections.deque()
        self.messages: collections.deque = collections.deque()

    def frames(self, feats, levels_dbfs):
        self.new_frames.append((feats, levels_dbfs))

    def verdict(self, verdict):
        self.new_verdicts.append(verdict)

    def problem(self, message):
        self.messages.append((False, message))

    def recovered(self, message):
        self.messages.append((True, message))


class LiveTab(QWidget):
    status = Signal(str)

    def __init__(
        self, model: ActiveModel, devices: AudioDevices, settings: QSettings | None = None, parent=None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.devices = devices
        self.store = open_settings(settings)
        self.session = None
        self.inbox: _Inbox | None = None
        self.task = None
        self.spectrogram: np.ndarray | None = None  # (bins, frames) in dB, newest on the right
        self.spec_reference = 0.0  # the features' dB for a full-scale sine: 0 on the colour scale
        self.spec_placed = False
        self.timeline: collections.deque = collections.deque()  # (end_s, p(second label), label)
        self.latest = None  # the newest verdict
        self.last_session = None  # the session stopped last: its last seconds can still be saved or added
        self.add_warning: QMessageBox | None = None  # "this clip is silent / clipped: add it anyway?"
        self.add_task = None  # the sample being added

        # device and settings
        self.device_box = QComboBox()
        self.device_box.setAccessibleName("Input device")
        self.device_box.setMinimumContentsLength(24)
        self.device_box.activated.connect(self._device_chosen)
        self.refresh_button = QPushButton("R&efresh")
        self.refresh_button.setToolTip("Look for devices plugged in since the app started")
        self.refresh_button.clicked.connect(lambda: self.devices.refresh(rescan=True))
        self.window_box = _seconds(1.0, 5.0, 0.25, S.LIVE_WINDOW_S.read(self.store))
        self.window_box.setAccessibleName("Window")
        self.hop_box = _seconds(0.05, 2.0, 0.05, S.LIVE_HOP_S.read(self.store))
        self.hop_box.setAccessibleName("Hop")
        self.delay_label = QLabel()
        for box in (self.window_box, self.hop_box):
            box.valueChanged.connect(self._settings_changed)
        self.start_button = QPushButton("&Start listening")
        self.start_button.clicked.connect(self.toggle)

        # verdict
        self.verdict = QLabel("Not listening")
        self.verdict.setAccessibleName("Live verdict")
        font = self.verdict.font()
        font.setPointSize(font.pointSize() * 3)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setMinimumWidth(260)
        self.confidence = QProgressBar()
        self.confidence.setAccessibleName("Confidence")
        self.confidence.setRange(0, 100)
        self.confidence.setFormat("confidence %p%")
        self.level = QProgressBar()
        self.level.setAccessibleName("Input level")
        self.level.setRange(0, 60)
        self.level.setFormat("level")
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b")

        # views
        self.spec_plot = pg.PlotWidget(axisItems={"bottom": TimeAxis()})
        self.spec_plot.setLabel("bottom", "time ago (m:ss)")
        self.spec_plot.setMouseEnabled(x=False, y=False)
        self.spec_plot.hideButtons()
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_image.setColorMap(pg.colormap.get("viridis"))
        self.spec_image.setLevels(SPEC_DB_RANGE)
        self.spec_plot.addItem(self.spec_image)
        self.colorbar = pg.ColorBarItem(
            values=SPEC_DB_RANGE, colorMap=pg.colormap.get("viridis"), label="dB re full scale", interactive=False
        )
        self.colorbar.setImageItem(self.spec_image, insert_in=self.spec_plot.getPlotItem())
        self.timeline_plot = pg.PlotWidget(axisItems={"bottom": TimeAxis()})
        self.timeline_plot.setLabel("bottom", "time ago (m:ss)")
        self.timeline_plot.setLabel("left", "p(speech)")
        self.timeline_plot.setXRange(-TIMELINE_MIN_S, 0, padding=0)
        self.timeline_plot.setYRange(-0.2, 1.05, padding=0)  # room for the top label
        self.timeline_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.timeline_plot.setMouseEnabled(x=False, y=False)
        self.timeline_plot.hideButtons()
        self.timeline_curve = self.timeline_plot.plot(pen=pg.mkPen((80, 80, 80), width=1))
        self.timeline_strip = pg.ImageItem(axisOrder="row-major")
        self.timeline_plot.addItem(self.timeline_strip)
        for plot in (self.spec_plot, self.timeline_plot):
            plot.getAxis("left").setWidth(64)  # the two time axes start at one place
        self.spec_view = _with_placeholder(self.spec_plot, "The microphone's spectrogram shows here while listening")
        self.timeline_view = _with_placeholder(
            self.timeline_plot, "The verdicts of the last minutes show here while listening"
        )
        self.legend = QLabel()
        self.legend.setWordWrap(True)

        # the last seconds
        self.keep_box = QSpinBox()
        self.keep_box.setRange(1, int(LiveSettings().keep_s))
        self.keep_box.setValue(S.LIVE_KEEP_S.read(self.store))
        self.keep_box.setSuffix(" s")
        self.keep_box.setAccessibleName("Seconds to keep")
        self.save_button = QPushButton("Sa&ve as WAV…")
        self.save_button.setToolTip("Save the last seconds heard as a WAV file (after Stop too)")
        self.save_button.clicked.connect(self.save_dialog)
        self.folder_button = QPushButton("Training f&older…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.folder: str = S.LIVE_TRAINING_FOLDER.read(self.store)
        self.add_buttons: list[QPushButton] = []
        self.add_row = QHBoxLayout()
        self.log_box = QCheckBox("Lo&g segments to CSV")
        self.log_box.toggled.connect(self._log_toggled)
        self.log_path: str = S.LIVE_LOG_PATH.read(self.store)
        if self.folder:
            self.set_training_folder(self.folder)

        form = QFormLayout()
        device_row = QHBoxLayout()
        device_row.addWidget(self.device_box, 1)
        device_row.addWidget(self.refresh_button)
        form.addRow("Input device", device_row)
        form.addRow("Window", self.window_box)
        form.addRow("Hop", self.hop_box)
        form.addRow("", self.delay_label)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.start_button)
        left.addWidget(self.verdict)
        left.addWidget(self.confidence)
        left.addWidget(self.level)
        left.addWidget(self.problem)
        left.addStretch(1)
        keep = QHBoxLayout()
        keep.addWidget(QLabel("Last"))
        keep.addWidget(self.keep_box)
        keep.addWidget(self.save_button)
        left.addLayout(keep)
        left.addWidget(self.folder_button)
        left.addLayout(self.add_row)
        left.addWidget(self.log_box)
        views = QVBoxLayout()
        views.addWidget(self.spec_view, 3)
        views.addWidget(self.timeline_view, 2)
        views.addWidget(self.legend)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(views, 1)

        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(REDRAW_MS)
        self.redraw_timer.timeout.connect(self._drain)
        devices.listed.connect(self._fill_devices)
        devices.input_changed.connect(lambda _name: self._fill_devices())
        model.changed.connect(self._model_changed)
        self._fill_devices()
        self._model_changed()
        self._settings_changed()
        self._running(False)

    # settings --------------------------------------------------------------------------------------------
    def live_settings(self) -> LiveSettings:
        return LiveSettings(window_s=self.window_box.value(), hop_s=min(self.hop_box.value(), self.window_box.value()))

    def _settings_changed(self) -> None:
        s = self.live_settings()
        self.delay_label.setText(f"a verdict every {s.hop_s:g} s; a change shows within about {s.delay_s:g} s")
        S.LIVE_WINDOW_S.write(self.store, s.window_s)
        S.LIVE_HOP_S.write(self.store, s.hop_s)
        self._restart()

    def _model_changed(self, _description: str = "") -> None:
        classifier = self.model.classifier
        if classifier is None:
            return
        self.window_box.setMinimum(classifier.spec.window_s)  # a verdict needs at least one model window
        for button in self.add_buttons:
            self.add_row.removeWidget(button)
            button.deleteLater()
        self.add_buttons = []
        taken = set("ticlafhsveog")  # tabs, menus, and this tab's other mnemonics
        for label in classifier.labels:
            button = QPushButton(_mnemonic(f"Add as {label}", len("Add as "), taken))
            button.setToolTip(f"Save the last seconds into the training folder, under {label}/ (after Stop too)")
            button.clicked.connect(lambda _=False, x=label: self.add_to_folder(x))
            button.setEnabled(self.session is not None or self.last_session is not None)  # something heard
            self.add_row.addWidget(button)
            self.add_buttons.append(button)
        colours = self._colours(classifier.labels)
        self.legend.setText(
            "  ".join(f'<span style="color: rgb{c}">■</span> {label}' for label, c in colours.items())
            + f"  — line: p({classifier.labels[-1]})"
        )
        self.timeline_plot.setLabel("left", f"p({classifier.labels[-1]})")
        self._restart()

    def _fill_devices(self) -> None:
        self.device_box.clear()
        self.device_box.addItem("System default", None)
        for d in self.devices.inputs:
            self.device_box.addItem(d.label, d.name)
        chosen = self.devices.input_name
        index = self.device_box.findData(chosen)
        if index < 0 and chosen:  # remembered but not connected now
            self.device_box.addItem(f"{chosen} (not connected)", chosen)
            index = self.device_box.count() - 1
        self.device_box.setCurrentIndex(max(0, index))

    def _device_chosen(self, index: int) -> None:
        name = self.device_box.itemData(index)
        if name != self.devices.input_name:
            self.devices.choose_input(name)
            self._restart()

    # start and stop --------------------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.session is not None:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        classifier = self.model.classifier
        if classifier is None:
            self.status.emit("the model is still loading; try again in a moment")
            return
        if self.task is not None and self.task.running:
            return
        settings, device, inbox = self.live_settings(), self.devices.input_name, _Inbox()
        log_path = self.log_path if self.log_box.isChecked() and self.log_path else None

        def work(_ctx):
            from musicspeech.core.live import LiveSession

            session = LiveSession(classifier, settings, device, inbox)
            session.start()
            if log_path:
                try:
                    session.log_segments(log_path)
                except MusicSpeechError as e:  # listening goes on without the log, and the tab says why
                    inbox.problem(f"segments are not logged: {e}")
            return session

        self.start_button.setEnabled(False)
        self.verdict.setText("opening…")
        self.task = run_task(work, on_result=lambda s: self._started(s, inbox), on_error=self._start_failed, owner=self)

    def _started(self, session, inbox: _Inbox) -> None:
        self.session, self.inbox = session, inbox
        self.last_session = None
        self.spectrogram, self.latest = None, None
        self.timeline.clear()
        self.problem.setText("")
        self.verdict.setText("listening…")
        mic = session.mic
        self.status.emit(f"listening to {mic.device.name} at {mic.rate_hz} Hz")
        self._running(True)
        self.redraw_timer.start()

    def _start_failed(self, message: str) -> None:
        self._running(False)
        self.verdict.setText("Not listening")
        self.problem.setText(message)
        self.status.emit(message)

    def stop(self) -> None:
        """Stop listening (the device is closed on a worker; the view keeps the last state)."""
        session, self.session = self.session, None
        if session is None:
            return
        self.redraw_timer.stop()
        self._drain()
        self.last_session = session  # its buffer stays readable: the last seconds can still be saved or added
        self._running(False)
        self.verdict.setText("Not listening")
        self.task = run_task(lambda _ctx: session.stop(), owner=self)

    def _restart(self) -> None:
        """Apply a new model, device or setting to a running session."""
        if self.session is not None:
            self.stop()
            self.task.done.connect(self.start)

    def _running(self, running: bool) -> None:
        self.start_button.setEnabled(True)
        self.start_button.setText("&Stop listening" if running else "&Start listening")
        heard = running or self.last_session is not None
        self.save_button.setEnabled(heard)
        for button in self.add_buttons:
            button.setEnabled(heard)

    # drawing ---------------------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Take what the worker found since the last tick; draw what changed if the tab is visible."""
        inbox = self.inbox
        if inbox is None:
            return
        frames = [inbox.new_frames.popleft() for _ in range(len(inbox.new_frames))]
        verdicts = [inbox.new_verdicts.popleft() for _ in range(len(inbox.new_verdicts))]
        for recovered, message in [inbox.messages.popleft() for _ in range(len(inbox.messages))]:
            self.problem.setText("" if recovered else message)
            self.status.emit(message)
        if frames:
            self._add_frames(np.concatenate([f for f, _ in frames]), np.concatenate([lv for _, lv in frames]))
        if verdicts:
            self._add_verdicts(verdicts)
        if self.isVisible():
            if frames:
                self._draw_spectrogram()
            if verdicts:
                self._draw_verdicts()

    def _add_frames(self, feats: np.ndarray, levels_dbfs: np.ndarray) -> None:
        spec = self.session.analyzer.spec if self.session else None
        if spec is None:
            return
        if spec.kind == "yamnet":  # a YAMNet model's frames are blocks of the waveform: drawn as log-mel frames
            spec = YAMNET_DRAWN
            feats = frame_features(feats.reshape(-1), spec)
        db = (20 / np.log(10)) * feats if spec.kind == "logmel" else 20 * np.log10(feats + 1e-6)
        if self.spectrogram is None or self.spectrogram.shape[0] != db.shape[1]:
            width = int(SPECTROGRAM_S * spec.rate_hz / spec.frame_step)
            self.spectrogram = np.full((db.shape[1], width), SPEC_DB_RANGE[0], np.float32)
            self.spec_reference = full_scale_db(spec)
            self._spectrogram_axes(spec)
        n = min(len(db), self.spectrogram.shape[1])
        self.spectrogram[:, :-n] = self.spectrogram[:, n:]
        self.spectrogram[:, -n:] = db[-n:].T - self.spec_reference
        peak = float(np.max(levels_dbfs[-10:]))
        self.level.setValue(int(np.clip(peak + 60, 0, 60)))
        self.level.setFormat(f"level {peak:.0f} dBFS")

    def _spectrogram_axes(self, spec) -> None:
        freqs = spec.bin_frequencies_hz()
        step = max(1, len(freqs) // 6)
        self.spec_plot.getAxis("left").setTicks([[(i + 0.5, f"{freqs[i]:.0f}") for i in range(0, len(freqs), step)]])
        self.spec_plot.setLabel("left", "frequency (Hz)")
        self.spec_placed = False  # the image is placed in seconds and bands once it has a size

    def _add_verdicts(self, verdicts) -> None:
        self.latest = verdicts[-1]
        labels = self.session.analyzer.classifier.labels if self.session else ()
        for v in verdicts:
            self.timeline.append((v.end_s, v.probabilities.get(labels[-1], 0.0) if labels else 0.0, v.label))
        while self.timeline and self.timeline[-1][0] - self.timeline[0][0] > TIMELINE_S:
            self.timeline.popleft()

    def _draw_spectrogram(self) -> None:
        if self.spectrogram is None:
            return
        self.spec_image.setImage(self.spectrogram, autoLevels=False, levels=SPEC_DB_RANGE)
        self.spec_view.setCurrentIndex(1)
        if not self.spec_placed:
            self.spec_image.setRect(-SPECTROGRAM_S, 0, SPECTROGRAM_S, self.spectrogram.shape[0])
            self.spec_plot.setXRange(-SPECTROGRAM_S, 0, padding=0)
            self.spec_plot.setYRange(0, self.spectrogram.shape[0], padding=0)
            self.spec_placed = True

    def _draw_verdicts(self) -> None:
        v = self.latest
        colours = self._colours(self.model.classifier.labels if self.model.classifier else ())
        text = v.label.upper()
        if self.verdict.text() != text:  # a style sheet costs a re-layout: only when the verdict changes
            self.verdict.setText(text)
            colour = colours.get(v.label)
            self.verdict.setStyleSheet(f"color: rgb{colour}" if colour else "")
        self.confidence.setValue(int(round(100 * v.confidence)) if v.label != SILENCE else 0)
        now = self.timeline[-1][0]
        t = np.fromiter((x[0] for x in self.timeline), float, len(self.timeline)) - now
        self.timeline_curve.setData(t, np.fromiter((x[1] for x in self.timeline), float, len(self.timeline)))
        names = list(colours)
        index = np.array([[names.index(x[2]) if x[2] in names else 0 for x in self.timeline]], np.uint8)
        lut = np.array(list(colours.values()), np.uint8)
        self.timeline_strip.setImage(index, lut=lut, levels=(0, len(lut) - 1))
        hop = self.live_settings().hop_s
        self.timeline_strip.setRect(t[0] - hop, -0.18, (t[-1] - t[0]) + hop, 0.12)
        self.timeline_view.setCurrentIndex(1)
        heard = min(TIMELINE_S, max(TIMELINE_MIN_S, (t[-1] - t[0]) + hop))  # what was heard so far, all of it
        if abs(self.timeline_plot.viewRange()[0][0] + heard) > 0.5 * hop:
            self.timeline_plot.setXRange(-heard, 0, padding=0)

    @staticmethod
    def _colours(labels) -> dict[str, tuple[int, int, int]]:
        def rgb(hex_colour: str) -> tuple[int, int, int]:
            return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))

        out = {label: rgb(LABEL_COLORS.get(label, OTHER_COLOR)) for label in labels}
        out[SILENCE] = rgb(LABEL_COLORS[SILENCE])
        return out

    # the last seconds ------------------------------------------------------------------------------------
    def last_audio(self):
        """The last N seconds heard: while listening, or after Stop from the session stopped last."""
        S.LIVE_KEEP_S.write(self.store, self.keep_box.value())
        session = self.session or self.last_session
        return session.last_audio(self.keep_box.value()) if session else None

    def save_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the last seconds", "live.wav", "WAV audio (*.wav)")
        if name:
            self.save_last(Path(name))

    def save_last(self, path: Path):
        """Write the last N seconds as WAV (atomically, in the background). Returns the task, if any."""
        clip = self.last_audio()
        return self._write(lambda: write_wav(path, clip), f"saved {path.name}") if clip is not None else None

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training folder (one subfolder per class)", self.folder)
        if folder:
            self.set_training_folder(folder)

    def set_training_folder(self, folder: str) -> None:
        self.folder = folder
        S.LIVE_TRAINING_FOLDER.write(self.store, folder)
        self.folder_button.setText(f"Training folder: {Path(folder).name}/")
        self.folder_button.setToolTip(folder)

    def add_to_folder(self, label: str):
        """Save the last N seconds into the training folder as an example of `label`. Returns the task, if any."""
        if not self.folder:
            self._choose_folder()
            if not self.folder:
                return None
        clip, folder = self.last_audio(), self.folder
        if clip is None or len(clip.samples) == 0:
            self.status.emit("nothing heard yet: nothing to add")
            return None
        what, problem = describe_clip(clip)
        destination = f"{label}/ in {folder}"

        def add():
            self.add_task = self._write(
                lambda: add_to_class_folder(folder, label, clip), f"added {what} to {destination}", named=True
            )
            return self.add_task

        if problem is None:
            return add()
        if self.add_warning is not None:
            self.add_warning.close()
        box = QMessageBox(QMessageBox.Warning, "Add this sample?", f"The last {what} {problem}.", parent=self)
        box.setInformativeText(f"Add it to {destination} anyway?")
        box.addButton("Add anyway", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(QMessageBox.Cancel)
        box.accepted.connect(add)
        self.add_warning = box
        box.open()  # window-modal, not blocking: the live view goes on drawing
        return None

    def _write(self, save, done_message: str, named: bool = False):
        """Run `save` on a worker: the status line says `done_message` (`named`: and the file written), or why
        the file could not be saved (the tab's problem line too; saving is atomic, so nothing half-written is
        left behind)."""
        return run_task(
            lambda _ctx: save(),
            on_result=lambda path: self.status.emit(f"{done_message} as {path.name}" if named else done_message),
            on_error=self._say_problem,
            owner=self,
            saves=True,
        )

    def _say_problem(self, message: str) -> None:
        self.problem.setText(message)
        self.status.emit(message)

    def _log_toggled(self, on: bool) -> None:
        if on and not self.log_path:
            name, _ = QFileDialog.getSaveFileName(self, "Log segments to", "segments.csv", "CSV (*.csv)")
            if not name:
                self.log_box.setChecked(False)
                return
            self.log_path = name
            S.LIVE_LOG_PATH.write(self.store, name)
        self.log_box.setToolTip(self.log_path)
        if self.session is not None:
            try:
                self.session.log_segments(self.log_path if on else None)
            except MusicSpeechError as e:  # a read-only folder, a full disk: listening goes on without a log
                self._say_problem(f"segments are not logged: {e}")
                self.log_box.setChecked(False)


def _seconds(low: float, high: float, step: float, value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setSuffix(" s")
    box.setValue(value)
    box.setAlignment(Qt.AlignRight)
    return box


def full_scale_db(spec) -> float:
    """The features' loudest band, in dB, for a full-scale 1 kHz sine: the top of the fixed colour scale."""
    t = np.arange(spec.rate_hz) / spec.rate_hz
    feats = frame_features(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32), spec)
    db = (20 / np.log(10)) * feats if spec.kind == "logmel" else 20 * np.log10(feats + 1e-6)
    return float(db.max())


def describe_clip(clip) -> tuple[str, str | None]:
    """What a clip to be added is ("10.0 s, level -23 dBFS, peak -3 dBFS") and what is wrong with it as a training
    sample (nearly silent, or clipped), if anything."""
    x = clip.samples
    level = level_dbfs(x)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    peak_db = 20 * np.log10(max(peak, 1e-6))
    what = f"{len(x) / clip.rate_hz:.1f} s (level {level:.0f} dBFS, peak {peak_db:.0f} dBFS)"
    clipped = float(np.mean(np.abs(x) >= CLIPPED)) if len(x) else 0.0
    if level < LIVE_POLICY.silence_dbfs:
        return what, "are nearly silent"
    if clipped > CLIPPED_SHARE:
        return what, f"are clipped ({clipped:.1%} of the samples at full scale)"
    return what, None


def _with_placeholder(plot: QWidget, text: str) -> QStackedWidget:
    """`plot` behind a line of text until it has something to show (no meaningless axes in an empty plot)."""
    label = QLabel(text)
    label.setFrameShape(QFrame.StyledPanel)
    label.setAlignment(Qt.AlignCenter)
    label.setWordWrap(True)
    stack = QStackedWidget()
    stack.addWidget(label)
    stack.addWidget(plot)
    return stack


def _mnemonic(text: str, start: int, taken: set[str]) -> str:
    """`text` with an & before its first letter from `start` on that no other control uses (kept in `taken`)."""
    for i in range(start, len(text)):
        if text[i].isalpha() and text[i].lower() not in taken:
            taken.add(text[i].lower())
            return text[:i] + "&" + text[i:]
    return text
