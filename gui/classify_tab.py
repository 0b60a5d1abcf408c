"""Classify: files and folders dropped anywhere on the window fill a sortable table as results arrive: per file
its folder, verdict, the share of speech, music and silence, and a strip of its segments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSettings, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musicspeech.core.atomic import write_text
from musicspeech.core.datasets import expand_paths
from musicspeech.core.paths import readable
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.label_colors import label_color
from musicspeech.gui.settings import open_settings
from musicspeech.gui.tasks import run_task
from musicspeech.gui.widgets import AUDIO_FILTER, MessageLabel, remember_folder, start_folder

if TYPE_CHECKING:
    from musicspeech.core.inference import FileResult

COLUMNS = ["File", "Folder", "Duration", "Verdict", "Confidence", "Speech", "Music", "Silence", "Segments", "Status"]
FILE, FOLDER, DURATION, VERDICT, CONFIDENCE = range(5)
SHARES = {label: COLUMNS.index(label.capitalize()) for label in ("speech", "music", "silence")}
SEGMENTS, STATUS = COLUMNS.index("Segments"), COLUMNS.index("Status")
EXPORT_KINDS = (
    "Per file (*.csv)",
    "Per segment (*.segments.csv)",
    "JSON with segments (*.json)",
    "Audacity labels, one file per audio file (*.txt)",
)


class _NumberItem(QTableWidgetItem):
    """Sorts by the number behind the text."""

    def __init__(self, text: str, value: float):
        super().__init__(text)
        self.value = value

    def __lt__(self, other):
        return self.value < getattr(other, "value", 0.0)


class SegmentStrip(QStyledItemDelegate):
    """Paints a file's segments as a strip of colours (music, speech, silence) across the cell; the item holds
    them as (start, end, label) with start and end in fractions of the file."""

    def paint(self, painter, option, index) -> None:
        segments = index.data(Qt.UserRole)
        if not segments:
            super().paint(painter, option, index)
            return
        option = QStyleOptionViewItem(option)
        self.initStyleOption(option, index)
        option.text = ""
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.CE_ItemViewItem, option, painter, option.widget)  # background, selection
        area = QRectF(option.rect.adjusted(4, 5, -4, -5))
        painter.save()
        for start, end, label in segments:
            left = area.left() + start * area.width()
            right = area.left() + end * area.width()
            painter.fillRect(QRectF(left, area.top(), max(1.0, right - left), area.height()), label_color(label))
        painter.setPen(option.palette.color(QPalette.Mid))
        painter.drawRect(area)
        painter.restore()


class _ElideMiddle(QStyledItemDelegate):
    """Long folder paths keep their start and their end: "/home/me/…/speech/take 2"."""

    def paint(self, painter, option, index) -> None:
        option = QStyleOptionViewItem(option)
        self.initStyleOption(option, index)
        margin = 2 * (option.widget.style().pixelMetric(QStyle.PM_FocusFrameHMargin) + 1) if option.widget else 6
        option.text = option.fontMetrics.elidedText(option.text, Qt.ElideMiddle, option.rect.width() - margin)
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.CE_ItemViewItem, option, painter, option.widget)


class ClassifyTab(QWidget):
    open_in_inspect = Signal(Path)
    status = Signal(str)

    def __init__(self, model: ActiveModel, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.settings = open_settings(settings)
        self.results: dict[Path, FileResult] = {}
        self.rows: dict[Path, int] = {}
        self.queue: list[Path] = []
        self.task = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)  # the status: an error line gets what is left, its whole text on hover
        header.setSectionResizeMode(FOLDER, QHeaderView.Stretch)  # and the folder as much again
        header.setMinimumSectionSize(40)
        metrics = self.fontMetrics()
        for col, sample in (
            (FILE, "a long file name.wav"),
            (FOLDER, "~/Music/a folder"),
            (DURATION, "00:00.0"),
            (VERDICT, "speech"),
            (CONFIDENCE, "Confidence"),
            (SEGMENTS, "segments strip"),
        ):
            self.table.setColumnWidth(col, metrics.horizontalAdvance(sample) + 20)
        for col in SHARES.values():
            self.table.setColumnWidth(col, metrics.horizontalAdvance("Silence") + 20)
        self.table.verticalHeader().setDefaultSectionSize(metrics.height() + 10)
        self.table.setItemDelegateForColumn(FOLDER, _ElideMiddle(self.table))
        self.table.setItemDelegateForColumn(SEGMENTS, SegmentStrip(self.table))
        self.table.horizontalHeaderItem(SEGMENTS).setToolTip(
            "Where the file is music (blue), speech (orange) or silence (grey)"
        )
        for label, col in SHARES.items():
            self.table.horizontalHeaderItem(col).setToolTip(f"Share of the file's length classified as {label}")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)  # arrival order until a click
        self.table.setAccessibleName("Classification results")
        self.table.itemActivated.connect(self._activated)

        self.hint = MessageLabel(
            "Drop audio files or folders anywhere on the window, or use Add files or Add folder. "
            "Double-click a row to open it in Inspect."
        )
        # Mnemonics unique in the window: F, A and H are the menus; T, I, C and L the tabs.
        self.add_button = QPushButton("A&dd files…")
        self.add_button.clicked.connect(self._choose_files)
        self.add_folder_button = QPushButton("Add f&older…")
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.cancel_button = QPushButton("Ca&ncel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("&Export…")
        self.export_button.clicked.connect(self.export_dialog)
        self.clear_button = QPushButton("Clea&r")
        self.clear_button.clicked.connect(self.clear)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Classification progress")
        self.progress.setVisible(False)

        buttons = QHBoxLayout()
        for w in (self.add_button, self.add_folder_button, self.cancel_button, self.export_button, self.clear_button):
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
            self.table.setItem(row, FILE, item)
            folder = QTableWidgetItem(_folder_text(path.parent))
            folder.setToolTip(readable(path.parent))
            self.table.setItem(row, FOLDER, folder)
            self._set_status(path, "waiting for the model…" if not self.model.classifier else "queued", row)
        self.table.setSortingEnabled(True)
        self._reindex()
        self.queue.extend(files)
        self._start_next()

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Add audio files", start_folder(self.settings, "classify"), AUDIO_FILTER
        )
        if names:
            remember_folder(self.settings, "classify", names[0])
            self.add_paths([Path(n) for n in names])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder of audio files", start_folder(self.settings, "classify")
        )
        if folder:
            remember_folder(self.settings, "classify", folder)
            self.add_paths([Path(folder)])

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
            on_result=lambda n: self._finished(f"classified {n} file{'s' if n != 1 else ''}"),
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
            status = self._set_status(result.path, readable(result.error or "error"), row)
            status.setForeground(Qt.red)
        else:
            p = result.prediction
            self.table.setItem(row, DURATION, _NumberItem(_duration(p.duration_s), p.duration_s))
            self.table.setItem(row, VERDICT, QTableWidgetItem(p.label))
            self.table.setItem(row, CONFIDENCE, _NumberItem(f"{p.confidence:.0%}", p.confidence))
            shares = p.shares  # each verdict label's part of the file, from its segments
            for label, col in SHARES.items():
                share = shares.get(label, 0.0)
                self.table.setItem(row, col, _NumberItem(f"{share:.0%}", share))
            strip = _NumberItem("", len(p.segments))
            duration = p.duration_s or 1.0
            strip.setData(
                Qt.UserRole, [(s.start_s / duration, min(s.end_s, duration) / duration, s.label) for s in p.segments]
            )
            strip.setToolTip(_segments_text(p.segments))
            self.table.setItem(row, SEGMENTS, strip)
            self._set_status(result.path, f"{len(p.segments)} segment(s)", row)
        self.table.setSortingEnabled(True)
        self._reindex()

    def _set_status(self, path: Path, text: str, row: int | None = None) -> QTableWidgetItem | None:
        """The Status cell: cut to the column with "…"; the whole text (an error line) on hover."""
        row = self.rows.get(path) if row is None else row
        if row is None:
            return None
        item = QTableWidgetItem(text)
        item.setToolTip(text)
        self.table.setItem(row, STATUS, item)
        return item

    def _reindex(self) -> None:
        self.rows = {self.table.item(r, FILE).data(Qt.UserRole): r for r in range(self.table.rowCount())}

    def _activated(self, item: QTableWidgetItem) -> None:
        self.open_in_inspect.emit(self.table.item(item.row(), FILE).data(Qt.UserRole))

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
        start = Path(start_folder(self.settings, "export")) / "results.csv"
        name, chosen = QFileDialog.getSaveFileName(self, "Export results", str(start), ";;".join(EXPORT_KINDS))
        if name:
            remember_folder(self.settings, "export", name)
            self.export(Path(name), chosen)

    def export(self, path: Path, kind: str = ""):
        """Write the results (in table order) as per-file CSV, per-segment CSV, JSON, or Audacity label tracks
        (one per audio file, named after the name chosen and the audio file: `core.reports.audacity_label_paths`),
        atomically, on a worker. Returns the task; the status line says what was written and where, or why not."""
        from musicspeech.core.reports import audacity_label_paths, audacity_labels, files_csv, files_json, segments_csv

        ordered = [self.results[p] for p in sorted(self.rows, key=self.rows.get) if p in self.results]
        labels = self.model.classifier.labels if self.model.classifier else ("music", "speech")
        audacity = kind.startswith("Audacity") or (not kind and path.suffix == ".txt")

        def work(_ctx) -> list[Path]:
            if audacity:
                found = [r for r in ordered if r.prediction is not None]
                targets = audacity_label_paths([r.path for r in found], path)
                return [write_text(t, audacity_labels(r.prediction)) for r, t in zip(found, targets, strict=True)]
            if kind.startswith("Per segment") or (not kind and path.name.endswith(".segments.csv")):
                return [write_text(path, segments_csv(ordered, labels))]
            if kind.startswith("JSON") or (not kind and path.suffix == ".json"):
                return [write_text(path, files_json(ordered))]
            return [write_text(path, files_csv(ordered, labels))]

        def written(paths: list[Path]) -> None:
            if not paths:
                self.status.emit("nothing exported: no file was classified")
            elif len(paths) == 1:
                self.status.emit(f"exported {len(ordered) if not audacity else 1} result(s) to {readable(paths[0])}")
            else:
                shown = ", ".join(readable(p.name) for p in paths[:3]) + (", …" if len(paths) > 3 else "")
                self.status.emit(f"wrote {len(paths)} Audacity label files in {readable(paths[0].parent)}: {shown}")

        return run_task(work, on_result=written, on_error=self.status.emit, owner=self, saves=True)


def _folder_text(folder: Path) -> str:
    """A folder for the table: under the home folder as ~/…"""
    try:
        return readable(Path("~") / folder.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # not under home, or no home known
        return readable(folder)


def _segments_text(segments) -> str:
    lines = [f"{_duration(s.start_s)}–{_duration(s.end_s)}  {s.label}" for s in segments[:20]]
    if len(segments) > 20:
        lines.append(f"… and {len(segments) - 20} more (Inspect shows them all)")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:04.1f}"
