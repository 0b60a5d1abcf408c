"""Train: pick data, set a few settings, watch loss and accuracy live, cancel, and read the evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musicspeech.core.recipes import RECIPES, recipe_settings
from musicspeech.core.training_process import TFDS
from musicspeech.gui import settings as S
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.settings import open_settings
from musicspeech.gui.tasks import run_task
from musicspeech.gui.widgets import MessageLabel, remember_folder, start_folder

RUN_COLUMNS = ["run", "recipe", "epochs", "batch", "learning rate", "window", "clip acc.", "window acc.", "s"]
CLIP_COLUMNS = ["File", "True", "Verdict", "Confidence"]
KEPT_RUNS = 50  # runs kept in the settings for the runs table
PENS = {  # the chart's curves: colour and width
    "training": ("#4a90d9", 1),
    "validation windows": ("#e67e22", 2),
    "validation clips": ("#27ae60", 2),
}


class TrainTab(QWidget):
    status = Signal(str)
    open_in_inspect = Signal(Path)

    def __init__(self, model: ActiveModel, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.settings_store = open_settings(settings)
        self.runs: list[dict] = []  # finished runs: settings, metrics and validation curves, for comparison
        self.source: str | None = None
        self.task = None
        self.result = None
        self.started = 0.0

        self.source_label = MessageLabel("No data chosen")
        self.tfds_button = QPushButton("Download &GTZAN")
        self.tfds_button.setToolTip("GTZAN music/speech through tensorflow-datasets")
        self.tfds_button.clicked.connect(lambda: self.set_source(TFDS))
        self.folder_button = QPushButton("Import f&older…")  # F is the File menu
        self.folder_button.setToolTip("The extracted GTZAN archive, or one folder of audio per class")
        self.folder_button.clicked.connect(self._choose_folder)
        self.archive_button = QPushButton("Import a&rchive…")  # A is the Audio menu
        self.archive_button.clicked.connect(self._choose_archive)

        self.recipe = QComboBox()
        self.recipe.addItems(["shipped", "baseline", "yamnet"])
        self.recipe.setToolTip(
            "shipped: log-mel, small CNN, augmentation; baseline: the seed's STFT recipe; yamnet: a small head on "
            "YAMNet's embeddings, good from a few dozen clips (downloads YAMNet's weights, 4 MB, the first time)"
        )
        self.epochs = _spin(QSpinBox(), 1, 500, RECIPES["shipped"].epochs)
        self.batch = _spin(QSpinBox(), 8, 1024, 64)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(1e-5, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(1e-3)
        self.window = QDoubleSpinBox()
        self.window.setRange(0.5, 3.0)
        self.window.setSingleStep(0.5)
        self.window.setValue(1.0)
        self.window.setSuffix(" s")
        self.recipe.currentTextChanged.connect(lambda r: self.window.setEnabled(r != "yamnet"))  # YAMNet's is fixed
        form = QFormLayout()
        form.addRow("Recipe", self.recipe)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Window", self.window)
        for label, widget in (
            ("Recipe", self.recipe),
            ("Epochs", self.epochs),
            ("Batch size", self.batch),
            ("Learning rate", self.learning_rate),
            ("Window length", self.window),
        ):
            widget.setAccessibleName(label)

        self.start_button = QPushButton("&Start training")
        self.start_button.setShortcut("Ctrl+T")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Ca&ncel")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Sa&ve and use this model…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_dialog)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Training progress")
        self.progress.setMinimumWidth(120)
        self.eta = MessageLabel("")
        self.eta.setAccessibleName("Epoch and time left")
        self.summary = MessageLabel("")  # each line cut to the column; the whole summary on hover
        self.summary.setAccessibleName("Data summary")
        self.summary_task = None

        self.chart = pg.GraphicsLayoutWidget()
        self.chart.setMinimumHeight(140)
        self.loss_plot = self.chart.addPlot(row=0, col=0, title="loss")
        self.acc_plot = self.chart.addPlot(row=0, col=1, title="accuracy")
        for plot in (self.loss_plot, self.acc_plot):
            plot.setLabel("bottom", "epoch")
        self.curves = {
            "loss": self.loss_plot.plot(pen=_pen("training")),
            "val_loss": self.loss_plot.plot(pen=_pen("validation windows"), **_symbol("validation windows", "o")),
            "accuracy": self.acc_plot.plot(pen=_pen("training")),
            "val_accuracy": self.acc_plot.plot(pen=_pen("validation windows"), **_symbol("validation windows", "o")),
            "val_clip_accuracy": self.acc_plot.plot(pen=_pen("validation clips"), **_symbol("validation clips", "s")),
        }
        self.points: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in self.curves}
        self.legend = QLabel(_legend_html(earlier=False))  # below the chart: never over the curves
        self.legend.setAccessibleName("Chart legend")
        self.legend.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)

        self.confusion = QTableWidget(0, 0)
        self.confusion.setAccessibleName("Confusion matrix: click a cell to list its clips")
        self.confusion.setSizeAdjustPolicy(QAbstractScrollArea.AdjustToContents)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.confusion.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Maximum)  # as big as its cells, no more
        self.confusion.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.confusion.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.confusion.cellClicked.connect(self._show_cell)
        self.confusion.cellActivated.connect(self._show_cell)  # Enter on a cell, for the keyboard
        self.cell_clips = QTableWidget(0, len(CLIP_COLUMNS))
        self.cell_clips.setHorizontalHeaderLabels(CLIP_COLUMNS)
        self.cell_clips.setAccessibleName("Clips in the chosen cell: Enter or double-click opens one in Inspect")
        self.cell_clips.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.cell_clips.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.cell_clips.verticalHeader().setVisible(False)
        self.cell_clips.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        for col in range(1, len(CLIP_COLUMNS)):
            self.cell_clips.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.cell_clips.itemActivated.connect(self._open_clip)
        self.evaluation_label = MessageLabel("")
        self.evaluation_label.setAccessibleName("Evaluation")
        self.runs_table = QTableWidget(0, len(RUN_COLUMNS))
        self.runs_table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs_table.setAccessibleName("Training runs compared")
        self.runs_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.runs_table.verticalHeader().setVisible(False)
        row_height = self.fontMetrics().height() + 10
        for table in (self.confusion, self.cell_clips, self.runs_table):
            table.verticalHeader().setDefaultSectionSize(row_height)
        self.runs_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.earlier_curves: list = []
        self.training_clock: tuple[float, float] | None = None  # (time, step) when the first batch was reported
        self.epochs_planned = 0
        self._restore()
        self._restore_runs()

        sources = QHBoxLayout()
        for w in (self.tfds_button, self.folder_button, self.archive_button):
            sources.addWidget(w)
        sources.addWidget(self.source_label, 1)
        controls = QHBoxLayout()
        for w in (self.start_button, self.cancel_button, self.save_button):
            controls.addWidget(w)
        controls.addWidget(self.progress, 2)
        controls.addWidget(self.eta, 1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.summary)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMaximumWidth(max(260, left_widget.sizeHint().width()))
        charts = QVBoxLayout()
        charts.setContentsMargins(0, 0, 0, 0)
        charts.addWidget(self.chart, 1)
        charts.addWidget(self.legend)
        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(left_widget)
        middle.addLayout(charts, 1)
        top = QWidget()
        top.setLayout(middle)
        evaluation = QHBoxLayout()
        evaluation.setContentsMargins(0, 0, 0, 0)
        evaluation.addWidget(self.confusion, 0, Qt.AlignTop)
        evaluation.addWidget(self.cell_clips, 3)
        evaluation.addWidget(self.runs_table, 2)
        bottom_layout = QVBoxLayout()
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.evaluation_label)
        bottom_layout.addLayout(evaluation, 1)
        bottom = QWidget()
        bottom.setLayout(bottom_layout)
        self.splitter = QSplitter(Qt.Vertical)  # the chart over the evaluation; the user moves the line
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([560, 440])  # in proportion to the height there is
        layout = QVBoxLayout(self)
        layout.addLayout(sources)
        layout.addLayout(controls)
        layout.addWidget(self.splitter, 1)

    # data ------------------------------------------------------------------------------------------------
    def set_source(self, source: str | Path) -> None:
        """Use this data for the next run, and read what it holds at once, on a worker (the summary)."""
        self.source = str(source)
        self.source_label.setText(
            "GTZAN through tensorflow-datasets (downloaded when training starts)"
            if self.source == TFDS
            else self.source
        )
        if self.summary_task is not None and self.summary_task.running:
            self.summary_task.cancel()
        if self.source == TFDS:
            self.summary.setText("The data summary follows the download, when training starts.")
            self.summary_task = None
            return
        self.summary.setText("reading what the data holds…")
        source_now = self.source

        def work(ctx):
            from musicspeech.core.datasets import open_source, quick_summary

            return quick_summary(open_source(source_now), cancel=ctx.cancelled)

        def shown(lines, failed=False):
            if self.source == source_now and not (self.task is not None and self.task.running):
                self.summary.setText(("cannot use this data: " if failed else "") + "\n".join(lines))

        self.summary_task = run_task(
            work, on_result=shown, on_error=lambda message: shown([message], failed=True), owner=self
        )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder of class folders (or the extracted GTZAN archive)", start_folder(self.settings_store, "data")
        )
        if folder:
            remember_folder(self.settings_store, "data", str(Path(folder).parent))
            self.set_source(folder)

    def _choose_archive(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "GTZAN archive", start_folder(self.settings_store, "data"), "Archives (*.tar.gz *.tgz *.tar)"
        )
        if name:
            remember_folder(self.settings_store, "data", name)
            self.set_source(name)

    # training --------------------------------------------------------------------------------------------
    def settings(self):
        return recipe_settings(
            self.recipe.currentText(),
            window_s=self.window.value(),
            epochs=self.epochs.value(),
            batch_size=self.batch.value(),
            learning_rate=self.learning_rate.value(),
        )

    def start(self) -> None:
        if self.task is not None and self.task.running:
            return
        if self.source is None:
            self.status.emit("choose the data first: download GTZAN or import a folder or archive")
            return
        settings, source = self.settings(), self.source
        self._remember()
        for xs, ys in self.points.values():
            xs.clear()
            ys.clear()
        self._redraw()
        self.confusion.setRowCount(0)
        self.cell_clips.setRowCount(0)  # (clear() would take the column headers too)
        self.evaluation_label.setText("")
        self.save_button.setEnabled(False)
        self.started = time.monotonic()
        self.training_clock = None
        self.epochs_planned = settings.epochs
        self.eta.setText("")
        self.progress.setFormat("%p%")
        if self.summary_task is not None and self.summary_task.running:
            self.summary_task.cancel()  # training gives the full summary

        def work(ctx):
            from musicspeech.core.training import TrainingListener
            from musicspeech.core.training_process import train_in_child  # TensorFlow runs there, never in this process

            class Forward(TrainingListener):
                def data(self, summary):
                    ctx.emit(("data", summary.lines()))

                def stage(self, name, done, total):
                    ctx.progress(done, total, name)

                def batch(self, epoch, batch, batches, logs):
                    ctx.emit(("batch", epoch + (batch + 1) / batches, logs))
                    ctx.progress(epoch * batches + batch + 1, settings.epochs * batches, "training")

                def epoch(self, epoch, epochs, logs):
                    ctx.emit(("epoch", epoch + 1, logs))

            return train_in_child(source, settings, Forward(), cancel=ctx.cancelled)  # YAMNet weights too

        self.task = run_task(
            work,
            on_partial=self._partial,
            on_progress=self._progress,
            on_result=self._finished,
            on_error=self._failed,
            on_cancelled=self._cancelled,
            owner=self,
        )
        self._running(True)

    def cancel(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.status.emit("cancelling: the best weights so far are kept…")

    def _running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (
            self.tfds_button,
            self.folder_button,
            self.archive_button,
            self.recipe,
            self.epochs,
            self.batch,
            self.learning_rate,
            self.window,
        ):
            w.setEnabled(not running)

    def _partial(self, event) -> None:
        kind = event[0]
        if kind == "data":
            self.summary.setText("\n".join(event[1]))
        elif kind == "batch":
            _, x, logs = event
            for key in ("loss", "accuracy"):
                if key in logs:
                    self.points[key][0].append(x)
                    self.points[key][1].append(logs[key])
            self._redraw()
        elif kind == "epoch":
            _, x, logs = event
            for key in ("val_loss", "val_accuracy", "val_clip_accuracy"):
                if key in logs:
                    self.points[key][0].append(x)
                    self.points[key][1].append(logs[key])
            self._redraw()

    def _redraw(self) -> None:
        for key, curve in self.curves.items():
            curve.setData(*self.points[key])

    def _progress(self, done: float, total: float, stage: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total) if total else 0)
        self.progress.setFormat(f"{stage} %p%")
        if stage != "training" or total <= 0 or not self.epochs_planned:
            return
        now = time.monotonic()
        if self.training_clock is None:
            self.training_clock = (now, done)
        batches = total / self.epochs_planned
        epoch = min(self.epochs_planned, int((done - 1) // batches) + 1)
        text = f"epoch {epoch} of {self.epochs_planned}"
        first_time, first_done = self.training_clock
        if done > first_done and now > first_time:
            left = (now - first_time) / (done - first_done) * (total - done)
            text += f" · {_clock(left)} left"
        self.eta.setText(text)

    def _finished(self, result) -> None:
        self._running(False)
        self.result = result
        self.eta.setText("")
        self.save_button.setEnabled(True)
        ev = result.evaluation
        note = (
            f"cancelled after {result.epochs_run} epoch(s): kept the best weights so far. "
            if result.cancelled
            else f"{result.epochs_run} epochs, {result.seconds:.0f} s. "
        )
        if ev is None and result.cancelled and result.bundle.info.get("data", {}).get("val_clips"):
            self.evaluation_label.setText(note + "No evaluation: cancelled before the held-out clips were evaluated.")
        elif ev is None:
            self.evaluation_label.setText(note + "No validation split: nothing to evaluate.")
        else:  # the app's verdicts on the held-out clips (music, speech or silence)
            self.evaluation_label.setText(
                note + f"Held-out clips: clip accuracy {ev.clip_accuracy:.1%}, window accuracy "
                f"{ev.window_accuracy:.1%}; {len(ev.wrong)} clip(s) wrong. Click a cell to list its clips."
            )
            self._show_confusion(ev)
        self._add_run(result)
        self._progress_says("cancelled: best weights kept" if result.cancelled else "done", full=not result.cancelled)
        self.status.emit("training cancelled, best weights kept" if result.cancelled else "training finished")

    def _failed(self, message: str) -> None:
        self._running(False)
        self.eta.setText("")
        self._progress_says("stopped")
        self.evaluation_label.setText(f"Training stopped: {message}. The active model is unchanged.")
        self.status.emit(f"training stopped: {message}")

    def _cancelled(self) -> None:
        self._running(False)
        self.eta.setText("")
        self._progress_says("cancelled")
        self.evaluation_label.setText("Cancelled before the first epoch ended: no model.")
        self.status.emit("training cancelled")

    def _progress_says(self, text: str, full: bool = False) -> None:
        """The progress bar's last word on a run: done, cancelled or stopped (where it stopped, or full)."""
        if self.progress.maximum() == 0:  # still busy-looking: make it a bar again
            self.progress.setRange(0, 1000)
        if full:
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(text)

    # settings kept between runs, and runs compared ---------------------------------------------------------
    def _remember(self) -> None:
        s = self.settings_store
        S.TRAIN_RECIPE.write(s, self.recipe.currentText())
        S.TRAIN_EPOCHS.write(s, self.epochs.value())
        S.TRAIN_BATCH_SIZE.write(s, self.batch.value())
        S.TRAIN_LEARNING_RATE.write(s, self.learning_rate.value())
        S.TRAIN_WINDOW_S.write(s, self.window.value())
        if self.source:
            S.TRAIN_SOURCE.write(s, self.source)

    def _restore(self) -> None:
        s = self.settings_store
        self.recipe.setCurrentText(S.TRAIN_RECIPE.read(s))
        self.epochs.setValue(S.TRAIN_EPOCHS.read(s))
        self.batch.setValue(S.TRAIN_BATCH_SIZE.read(s))
        self.learning_rate.setValue(S.TRAIN_LEARNING_RATE.read(s))
        self.window.setValue(S.TRAIN_WINDOW_S.read(s))
        source = S.TRAIN_SOURCE.read(s)
        if source and (source == TFDS or Path(source).exists()):
            self.set_source(source)

    def _add_run(self, result) -> None:
        ev = result.evaluation
        run = {
            "recipe": self.recipe.currentText(),
            "epochs": result.epochs_run,
            "batch": self.batch.value(),
            "lr": self.learning_rate.value(),
            "window": self.window.value(),
            "clip": f"{ev.clip_accuracy:.1%}" if ev else "-",
            "window_acc": f"{ev.window_accuracy:.1%}" if ev else "-",
            "seconds": f"{result.seconds:.0f}",
            "curve": [list(v) for v in self.points["val_accuracy"]],
        }
        self.runs.append(run)
        self.runs = self.runs[-KEPT_RUNS:]
        # Kept for the next start; QSettings writes its file atomically (a temporary file renamed over it).
        S.TRAIN_RUNS.write(self.settings_store, self.runs)
        self._show_run(run)
        self._draw_earlier_runs()

    def _restore_runs(self) -> None:
        """The runs table of earlier sessions (a damaged entry is dropped, not a reason to fail)."""
        runs = S.TRAIN_RUNS.read(self.settings_store)  # a list ([] if the kept one is damaged)
        self.runs = [r for r in runs if isinstance(r, dict) and "recipe" in r][-KEPT_RUNS:]
        for run in self.runs:
            self._show_run(run)
        self._draw_earlier_runs(include_last=True)

    def _show_run(self, run: dict) -> None:
        row = self.runs_table.rowCount()
        self.runs_table.insertRow(row)
        values = [
            str(row + 1),
            run.get("recipe", ""),
            str(run.get("epochs", "")),
            str(run.get("batch", "")),
            f"{run.get('lr', 0):g}",
            f"{run.get('window', 0):g} s",
            run.get("clip", "-"),
            run.get("window_acc", "-"),
            run.get("seconds", ""),
        ]
        for col, text in enumerate(values):
            self.runs_table.setItem(row, col, QTableWidgetItem(text))
        self.runs_table.scrollToBottom()

    def _draw_earlier_runs(self, include_last: bool = False) -> None:
        """Earlier runs' validation accuracy (the last four) stays on the chart, faded and dashed."""
        for curve in self.earlier_curves:
            self.acc_plot.removeItem(curve)
        earlier = self.runs if include_last else self.runs[:-1]
        self.earlier_curves = []
        for run in earlier[-4:]:
            curve = run.get("curve") or [[], []]
            if len(curve) == 2 and len(curve[0]) == len(curve[1]):
                pen = pg.mkPen((150, 150, 150), style=Qt.DashLine)
                self.earlier_curves.append(self.acc_plot.plot(curve[0], curve[1], pen=pen))
        self.legend.setText(_legend_html(earlier=bool(self.earlier_curves)))

    # evaluation ------------------------------------------------------------------------------------------
    def _show_confusion(self, ev) -> None:
        """The confusion matrix, its headers whole ("true music", "called silence"), sized to fit its cells: a
        row per true label, a column per verdict (`ev.called`: with silence, so not square)."""
        self.confusion.setRowCount(len(ev.labels))
        self.confusion.setColumnCount(len(ev.called))
        self.confusion.setVerticalHeaderLabels([f"true {x}" for x in ev.labels])
        self.confusion.setHorizontalHeaderLabels([f"called {x}" for x in ev.called])
        for i, true in enumerate(ev.labels):
            for j, called in enumerate(ev.called):
                item = QTableWidgetItem(str(ev.confusion[i][j]))
                item.setTextAlignment(Qt.AlignCenter)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                item.setToolTip(f"true {true}, called {called}: {ev.confusion[i][j]} clip(s)")
                self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()
        self.confusion.resizeRowsToContents()
        self.confusion.updateGeometry()

    def _show_cell(self, row: int, col: int) -> None:
        """List the clips of one cell: file, true class, verdict and the verdict's confidence."""
        ev = self.result.evaluation if self.result else None
        if ev is None:
            return
        self.cell_clips.setSortingEnabled(False)
        self.cell_clips.setRowCount(0)
        for clip in ev.clips:
            if clip.true_label == ev.labels[row] and clip.predicted == ev.called[col]:
                r = self.cell_clips.rowCount()
                self.cell_clips.insertRow(r)
                cells = [clip.name, clip.true_label, clip.predicted, f"{clip.confidence:.0%}"]
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(Qt.UserRole, clip.source)
                    item.setToolTip(clip.source or f"{clip.name} (in memory: tensorflow-datasets)")
                    if not clip.source:
                        item.setFlags(item.flags() & ~Qt.ItemIsEnabled)  # in-memory clip (tensorflow-datasets)
                    if c == 3:
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    self.cell_clips.setItem(r, c, item)
        self.cell_clips.setSortingEnabled(True)

    def _open_clip(self, item: QTableWidgetItem) -> None:
        source = item.data(Qt.UserRole)
        if source:
            self.open_in_inspect.emit(Path(source))

    # saving ----------------------------------------------------------------------------------------------
    def _save_dialog(self) -> None:
        start = Path(start_folder(self.settings_store, "model")) / "model.msmodel"
        name, _ = QFileDialog.getSaveFileName(self, "Save model", str(start), "musicspeech models (*.msmodel)")
        if name:
            remember_folder(self.settings_store, "model", name)
            self.save(Path(name))

    def save(self, path: Path):
        """Save the trained bundle atomically (on a worker) and make it the active model. Returns the task."""
        bundle = self.result.bundle

        def work(_ctx):
            from musicspeech.core.inference import Classifier

            bundle.save(path)
            return Classifier.from_path(path)  # the model as any other is loaded: from its file

        self.save_button.setEnabled(False)
        self.status.emit(f"saving {path.name}…")
        return run_task(
            work, on_result=lambda c: self._saved(c, path), on_error=self._save_failed, owner=self, saves=True
        )

    def _saved(self, classifier, path: Path) -> None:
        self._saving_done()
        self.model.use(classifier, path)
        self.status.emit(f"saved {path.name}; it is the active model now")

    def _save_failed(self, message: str) -> None:
        self._saving_done()  # another folder can be tried: the trained model is still here
        self.status.emit(message)

    def _saving_done(self) -> None:
        self.save_button.setEnabled(not (self.task is not None and self.task.running))  # a new run started


def _pen(name: str):
    colour, width = PENS[name]
    return pg.mkPen(colour, width=width)


def _symbol(name: str, shape: str) -> dict:
    colour = PENS[name][0]
    return {"symbol": shape, "symbolBrush": colour, "symbolPen": colour, "symbolSize": 7}


def _legend_html(earlier: bool) -> str:
    """The chart's legend, as a line of text under it."""
    parts = [
        f'<span style="color:{PENS["training"][0]}">━━</span> training (mean so far in the epoch)',
        f'<span style="color:{PENS["validation windows"][0]}">━●━</span> validation windows',
        f'<span style="color:{PENS["validation clips"][0]}">━■━</span> validation clips (accuracy only)',
    ]
    if earlier:
        parts.append('<span style="color:#969696">- - -</span> earlier runs\' validation windows')
    return " &nbsp;&nbsp; ".join(parts)


def _clock(seconds: float) -> str:
    """4:50, or 1:02:05 past an hour."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _spin(box: QSpinBox, low: int, high: int, value: int) -> QSpinBox:
    box.setRange(low, high)
    box.setValue(value)
    return box
