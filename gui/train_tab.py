"""Train: pick data, set a few settings, watch loss and accuracy live, cancel, and read the evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.recipes import RECIPES, recipe_settings
from gui.active_model import ActiveModel
from gui.tasks import run_task

TFDS = "tfds"
RUN_COLUMNS = ["run", "recipe", "epochs", "batch", "learning rate", "window", "clip acc.", "window acc.", "s"]


class TrainTab(QWidget):
    status = Signal(str)
    open_in_inspect = Signal(Path)

    def __init__(self, model: ActiveModel, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.settings_store = settings or QSettings()
        self.runs: list[dict] = []  # finished runs: settings, metrics and validation curves, for comparison
        self.source: str | None = None
        self.task = None
        self.result = None
        self.started = 0.0

        self.source_label = QLabel("No data chosen")
        self.tfds_button = QPushButton("Download &GTZAN")
        self.tfds_button.setToolTip("GTZAN music/speech through tensorflow-datasets")
        self.tfds_button.clicked.connect(lambda: self.set_source(TFDS))
        self.folder_button = QPushButton("Import &folder…")
        self.folder_button.setToolTip("The extracted GTZAN archive, or one folder of audio per class")
        self.folder_button.clicked.connect(self._choose_folder)
        self.archive_button = QPushButton("Import &archive…")
        self.archive_button.clicked.connect(self._choose_archive)

        self.recipe = QComboBox()
        self.recipe.addItems(["shipped", "baseline"])
        self.recipe.setToolTip("shipped: log-mel, small CNN, augmentation; baseline: the seed's STFT recipe")
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
        self.eta = QLabel("")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)

        self.chart = pg.GraphicsLayoutWidget()
        self.loss_plot = self.chart.addPlot(row=0, col=0, title="loss")
        self.acc_plot = self.chart.addPlot(row=0, col=1, title="accuracy")
        for plot in (self.loss_plot, self.acc_plot):
            plot.addLegend(offset=(-10, 10))
            plot.setLabel("bottom", "epoch")
        self.curves = {
            "loss": self.loss_plot.plot(name="training (mean so far in the epoch)", pen=pg.mkPen("#4a90d9")),
            "val_loss": self.loss_plot.plot(name="validation", pen=pg.mkPen("#e67e22", width=2), symbol="o"),
            "accuracy": self.acc_plot.plot(name="training (mean so far in the epoch)", pen=pg.mkPen("#4a90d9")),
            "val_accuracy": self.acc_plot.plot(name="validation windows", pen=pg.mkPen("#e67e22", width=2), symbol="o"),
            "val_clip_accuracy": self.acc_plot.plot(
                name="validation clips", pen=pg.mkPen("#27ae60", width=2), symbol="s", symbolBrush="#27ae60"
            ),
        }
        self.points: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in self.curves}

        self.confusion = QTableWidget(0, 0)
        self.confusion.setAccessibleName("Confusion matrix: click a cell to list its clips")
        self.confusion.cellClicked.connect(self._show_cell)
        self.confusion.cellActivated.connect(self._show_cell)  # Enter on a cell, for the keyboard
        self.cell_clips = QListWidget()
        self.cell_clips.setAccessibleName("Clips in the chosen cell")
        self.cell_clips.itemActivated.connect(lambda item: self.open_in_inspect.emit(Path(item.data(Qt.UserRole))))
        self.evaluation_label = QLabel("")
        self.runs_table = QTableWidget(0, len(RUN_COLUMNS))
        self.runs_table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs_table.setAccessibleName("Training runs compared")
        self.runs_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.earlier_curves: list = []
        self._restore()

        sources = QHBoxLayout()
        for w in (self.tfds_button, self.folder_button, self.archive_button):
            sources.addWidget(w)
        sources.addWidget(self.source_label, 1)
        controls = QHBoxLayout()
        for w in (self.start_button, self.cancel_button, self.save_button):
            controls.addWidget(w)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.eta)
        evaluation = QHBoxLayout()
        evaluation.addWidget(self.confusion, 1)
        evaluation.addWidget(self.cell_clips, 2)
        evaluation.addWidget(self.runs_table, 3)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.summary)
        left.addStretch(1)
        middle = QHBoxLayout()
        middle.addLayout(left)
        middle.addWidget(self.chart, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(sources)
        layout.addLayout(controls)
        layout.addLayout(middle, 3)
        layout.addWidget(self.evaluation_label)
        layout.addLayout(evaluation, 1)

    # data ------------------------------------------------------------------------------------------------
    def set_source(self, source: str | Path) -> None:
        self.source = str(source)
        self.source_label.setText(
            "GTZAN through tensorflow-datasets (downloaded when training starts)"
            if self.source == TFDS
            else self.source
        )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of class folders (or the extracted GTZAN archive)")
        if folder:
            self.set_source(folder)

    def _choose_archive(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "GTZAN archive", "", "Archives (*.tar.gz *.tgz *.tar)")
        if name:
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
        self.cell_clips.clear()
        self.evaluation_label.setText("")
        self.save_button.setEnabled(False)
        self.started = time.monotonic()

        def work(ctx):
            from core.feature_cache import FeatureCache
            from core.training import TrainingListener, train

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

            dataset = _load_source(source, ctx)
            return train(dataset, settings, Forward(), cancel=ctx.cancelled, cache=FeatureCache())

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
        elapsed = time.monotonic() - self.started
        if stage == "training" and done > 0:
            self.eta.setText(f"{elapsed * (total - done) / done:.0f} s left")

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
        if ev is None:
            self.evaluation_label.setText(note + "No validation split: nothing to evaluate.")
        else:
            self.evaluation_label.setText(
                note + f"Held-out clips: clip accuracy {ev.clip_accuracy:.1%}, window accuracy "
                f"{ev.window_accuracy:.1%}; {len(ev.wrong)} clip(s) wrong. Click a cell to list its clips."
            )
            self._show_confusion(ev)
        self._add_run(result)
        self.status.emit("training cancelled, best weights kept" if result.cancelled else "training finished")

    def _failed(self, message: str) -> None:
        self._running(False)
        self.eta.setText("")
        self.evaluation_label.setText(f"Training stopped: {message}. The active model is unchanged.")
        self.status.emit(f"training stopped: {message}")

    def _cancelled(self) -> None:
        self._running(False)
        self.eta.setText("")
        self.evaluation_label.setText("Cancelled before the first epoch ended: no model.")
        self.status.emit("training cancelled")

    # settings kept between runs, and runs compared ---------------------------------------------------------
    def _remember(self) -> None:
        s = self.settings_store
        s.setValue("train/recipe", self.recipe.currentText())
        s.setValue("train/epochs", self.epochs.value())
        s.setValue("train/batch_size", self.batch.value())
        s.setValue("train/learning_rate", self.learning_rate.value())
        s.setValue("train/window_s", self.window.value())
        if self.source:
            s.setValue("train/source", self.source)

    def _restore(self) -> None:
        s = self.settings_store
        self.recipe.setCurrentText(str(s.value("train/recipe", self.recipe.currentText())))
        self.epochs.setValue(int(s.value("train/epochs", self.epochs.value())))
        self.batch.setValue(int(s.value("train/batch_size", self.batch.value())))
        self.learning_rate.setValue(float(s.value("train/learning_rate", self.learning_rate.value())))
        self.window.setValue(float(s.value("train/window_s", self.window.value())))
        source = s.value("train/source")
        if source and (source == TFDS or Path(str(source)).exists()):
            self.set_source(str(source))

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
        row = self.runs_table.rowCount()
        self.runs_table.insertRow(row)
        values = [
            str(len(self.runs)),
            run["recipe"],
            str(run["epochs"]),
            str(run["batch"]),
            f"{run['lr']:g}",
            f"{run['window']:g} s",
            run["clip"],
            run["window_acc"],
            run["seconds"],
        ]
        for col, text in enumerate(values):
            self.runs_table.setItem(row, col, QTableWidgetItem(text))
        for curve in self.earlier_curves:  # earlier runs' validation accuracy stays on the chart, faded
            self.acc_plot.removeItem(curve)
        self.earlier_curves = [
            self.acc_plot.plot(*r["curve"], pen=pg.mkPen((150, 150, 150), style=Qt.DashLine), name=f"run {i + 1}")
            for i, r in enumerate(self.runs[:-1][-4:], start=max(0, len(self.runs) - 5))
        ]

    # evaluation ------------------------------------------------------------------------------------------
    def _show_confusion(self, ev) -> None:
        n = len(ev.labels)
        self.confusion.setRowCount(n)
        self.confusion.setColumnCount(n)
        self.confusion.setVerticalHeaderLabels([f"true {x}" for x in ev.labels])
        self.confusion.setHorizontalHeaderLabels([f"called {x}" for x in ev.labels])
        for i in range(n):
            for j in range(n):
                item = QTableWidgetItem(str(ev.confusion[i][j]))
                item.setTextAlignment(Qt.AlignCenter)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                self.confusion.setItem(i, j, item)

    def _show_cell(self, row: int, col: int) -> None:
        ev = self.result.evaluation if self.result else None
        if ev is None:
            return
        self.cell_clips.clear()
        for clip in ev.clips:
            if clip.true_label == ev.labels[row] and clip.predicted == ev.labels[col]:
                self.cell_clips.addItem(f"{clip.name}  {clip.probabilities}")
                item = self.cell_clips.item(self.cell_clips.count() - 1)
                item.setData(Qt.UserRole, clip.source)
                if not clip.source:
                    item.setFlags(item.flags() & ~Qt.ItemIsEnabled)  # in-memory clip (tensorflow-datasets)

    # saving ----------------------------------------------------------------------------------------------
    def _save_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save model", "model.msmodel", "musicspeech models (*.msmodel)")
        if name:
            self.save(Path(name))

    def save(self, path: Path):
        """Save the trained bundle atomically (on a worker) and make it the active model. Returns the task."""
        bundle = self.result.bundle

        def work(_ctx):
            from core.inference import Classifier

            bundle.save(path)
            return Classifier(bundle)

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


def _load_source(source: str, ctx):
    if source == TFDS:
        from core import tfds_source

        return tfds_source.load_gtzan(
            progress=lambda done, total: ctx.progress(done, total or 0, "downloading"), cancel=ctx.cancelled
        )
    from core.datasets import open_source

    return open_source(source)


def _spin(box: QSpinBox, low: int, high: int, value: int) -> QSpinBox:
    box.setRange(low, high)
    box.setValue(value)
    return box
