"""Unexpected errors: logged with their traceback to the user's log folder, shown as one short message with the
log's path; the app keeps running. Only one such message is open at a time."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from musicspeech.core.errors import save_error
from musicspeech.core.paths import user_log_dir

log = logging.getLogger("musicspeech")


def setup_logging(folder: Path | None = None) -> Path | None:
    """Log warnings and errors (with tracebacks) to a rotating file; returns its path. A log folder that cannot
    be written (read-only, full) does not stop the app: the log goes to stderr, and None is returned."""
    folder = folder or user_log_dir()
    path = folder / "musicspeech.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError as e:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        logging.getLogger().addHandler(handler)
        log.warning("no log file: %s", save_error(path, e))
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class CrashHandler(QObject):
    """Installed as sys.excepthook and threading.excepthook; the message is shown on the GUI thread."""

    _show = Signal(str)

    def __init__(self, log_path: Path | None, parent_window: QWidget | None = None):
        super().__init__()
        self.log_path = log_path
        self.window = parent_window
        self.box: QMessageBox | None = None
        self._show.connect(self._show_message, Qt.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.handle
        threading.excepthook = lambda args: self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def handle(self, exc_type, exc_value, exc_tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc_value, exc_tb)
            return
        log.error("unexpected error\n%s", "".join(traceback.format_exception(exc_type, exc_value, exc_tb)))
        self._show.emit(f"{exc_type.__name__}: {exc_value}")

    @Slot(str)
    def _show_message(self, summary: str) -> None:
        if self.box is not None and self.box.isVisible():
            return  # never a stack of dialogs
        self.box = QMessageBox(
            QMessageBox.Warning,
            "Something went wrong",
            f"{summary}\n\nThe app keeps running. "
            + (f"Details are in {self.log_path}" if self.log_path else "Details went to the terminal (no log file)."),
            QMessageBox.Ok,
            self.window,
        )
        self.box.setModal(False)
        self.box.show()
