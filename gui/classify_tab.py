"""Classify: files and folders dropped anywhere on the window fill a sortable table as results arrive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.atomic import write_text
from core.datasets import expand_paths
from core.paths import readable
from gui.active_model import ActiveModel
from gui.tasks import run_task

if TYPE_CHECKING:
    from core.inference import FileResult

COLUMNS = ["File", "Duration", "Verdict", "Confidence", "Status"]


class _NumberItem(QTableWidgetItem):
    """Sorts by the number behind the text."""

    def __init__(self, text: str, value: float):
        super().__init__(text)
        self.value = value

    def __lt__(self, other):
        return self.value < getattr(other, "value", 0.0)


class ClassifyTab(QWidget):
    open_in_inspect = Signal(Path)
    status = Signal(str)

    def __init__(self, model: ActiveModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.results: dict[Path, FileResult] = {}
        self.rows: dict[Path, int] = {}
        self.queue: list[Path] = []
        self.task = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)  # arrival order until a click
        self.table.setAccessibleName("Classification results")
        self.table.itemActivated.connect(self._activated)

        self.hint = QLabel("Drop audio files or folders anywhere on the window, or use Add files.")
        self.add_button = QPushButton("&Add files…")
        self.add_button.clicked.connect(self._choose_files)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("&Export…")
        self.export_button.clicked.connect(self.export_dialog)
        self.clear_button = QPushButton("C&lear")
        self.clear_button.clicked.connect(self.clear)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Classification progress")
        self.progress.setVisible(False)

        buttons = QHBoxLayout()
        for w in (self.add_button, self.cancel_button, self.export_button, self.clear_button):
            buttons.addWidget(w)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        model.changed.connect(lambda _: self._start_next())

    # adding files ----------------------------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> None:
        """Queue files (folders are searched for audio) and classify them as soon as the model is ready."""
        files = [p for p in expand_paths(paths) if p not in self.rows]
        if not files:
            self.status.emit("no new audio files in what was dropped")
            return
        self.table.setSortingEnabled(False)
        for path in files:
            row = self.table.rowCount()
            self.table.insertRow(row)
            item = QTableWidgetItem(readable(path.name))
            item.setToolTip(readable(path))
            item.setData(Qt.UserRole, path)  # the Path itself: as a QString a name that is not UTF-8 loses bytes
            self.table.setItem(row, 0, item)
            self.table.setItem(
                row, 4, QTableWidgetItem("waiting for the model…" if not self.model.classifier else "queued")
            )
        self.table.setSortingEnabled(True)
        self._reindex()
        self.queue.extend(files)
        self._start_next()

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add audio files")
        if names:
            self.add_paths([Path(n) for n in names])

    def _start_next(self) -> None:
        if self.task is not None and self.task.running or not self.queue or self.model.classifier is None:
            return
        batch, self.queue = self.queue, []
        classifier = self.model.classifier
        for path in batch:
            self._set_status(path, "queued")

        def work(ctx):
            for result in classifier.classify_files(
                batch, progress=lambda d, t: ctx.progress(d, t), cancel=ctx.cancelled
            ):
                ctx.emit(result)
            return len(batch)

        self.progress.setRange(0, len(batch))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.task = run_task(
            work,
            on_partial=self._show,
            on_progress=lambda d, t, _: self.progress.setValue(int(d)),
            on_result=lambda n: self._finished(f"classified {n} files"),
            on_error=lambda m: self._finished(f"classification stopped: {m}", batch),
            on_cancelled=lambda: self._finished("classification cancelled", batch),
            owner=self,
        )

    def cancel(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()

    def _finished(self, message: str, batch: list[Path] | None = None) -> None:
        for path in batch or []:
            if path not in self.results:
                self._set_status(path, "cancelled" if "cancel" in message else "not classified")
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.status.emit(message)
        self._start_next()

    # showing results -------------------------------------------------------------------------------------
    def _show(self, result: FileResult) -> None:
        self.results[result.path] = result
        row = self.rows.get(result.path)
        if row is None:
            return
        self.table.setSortingEnabled(False)
        if result.prediction is None:
            status = QTableWidgetItem(readable(result.error or "error"))
            status.setToolTip(readable(result.error or ""))
            status.setForeground(Qt.red)
            self.table.setItem(row, 4, status)
        else:
            p = result.prediction
            self.table.setItem(row, 1, _NumberItem(_duration(p.duration_s), p.duration_s))
            self.table.setItem(row, 2, QTableWidgetItem(p.label))
            self.table.setItem(row, 3, _NumberItem(f"{p.confidence:.0%}", p.confidence))
            self.table.setItem(row, 4, QTableWidgetItem(f"{len(p.segments)} segment(s)"))
        self.table.setSortingEnabled(True)
        self._reindex()

    def _set_status(self, path: Path, text: str) -> None:
        row = self.rows.get(path)
        if row is not None:
            self.table.setItem(row, 4, QTableWidgetItem(text))

    def _reindex(self) -> None:
        self.rows = {self.table.item(r, 0).data(Qt.UserRole): r for r in range(self.table.rowCount())}

    def _activated(self, item: QTableWidgetItem) -> None:
        self.open_in_inspect.emit(self.table.item(item.row(), 0).data(Qt.UserRole))

    def clear(self) -> None:
        self.cancel()
        self.queue.clear()
        self.table.setRowCount(0)
        self.results.clear()
        self.rows.clear()

    # export ----------------------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        if not self.results:
            self.status.emit("nothing to export yet")
            return
        name, chosen = QFileDialog.getSaveFileName(
            self,
            "Export results",
            "results.csv",
            "Per file (*.csv);;Per segment (*.segments.csv);;JSON with segments (*.json);;"
            "Audacity labels, one file each (*.txt)",
        )
        if name:
            self.export(Path(name), chosen)

    def export(self, path: Path, kind: str = ""):
        """Write the results (in table order) as per-file CSV, per-segment CSV, JSON, or Audacity label files,
        atomically, on a worker. Returns the task; the status line says what was written, or why not."""
        from core.reports import audacity_labels, files_csv, files_json, segments_csv

        ordered = [self.results[p] for p in sorted(self.rows, key=self.rows.get) if p in self.results]
        labels = self.model.classifier.labels if self.model.classifier else ("music", "speech")

        def work(_ctx) -> list[Path]:
            if kind.startswith("Audacity") or (not kind and path.suffix == ".txt"):
                return [
                    write_text(path.parent / f"{r.path.stem}.labels.txt", audacity_labels(r.prediction))
                    for r in ordered
                    if r.prediction is not None
                ]
            if kind.startswith("Per segment") or (not kind and path.name.endswith(".segments.csv")):
                return [write_text(path, segments_csv(ordered, labels))]
            if kind.startswith("JSON") or (not kind and path.suffix == ".json"):
                return [write_text(path, files_json(ordered))]
            return [write_text(path, files_csv(ordered, labels))]

        return run_task(
            work,
            on_result=lambda written: self.status.emit(f"exported {len(written)} file(s) to {path.parent}"),
            on_error=self.status.emit,
            owner=self,
            saves=True,
        )


def _duration(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:04.1f}"
