"""Start the desktop app: the window first, then the model in the background."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from musicspeech.core.paths import resources_dir, shipped_model_path
from musicspeech.gui import settings as S
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.crash_handler import CrashHandler, setup_logging
from musicspeech.gui.main_thread_gc import collect_on_the_gui_thread
from musicspeech.gui.main_window import MainWindow
from musicspeech.gui.tasks import cancel_all, finish_saves, finish_tasks

log = logging.getLogger(__name__)


def model_to_load(settings: QSettings) -> Path:
    """The model the user chose last time if it is still there, else the shipped one."""
    chosen = S.MODEL_PATH.read(settings)
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    return shipped_model_path()


def create_window(paths: Sequence[str] = (), settings: QSettings | None = None) -> MainWindow:
    """The main window, shown, with the model loading in the background and `paths` opened. The window is on
    screen before the charts' library (pyqtgraph) is even imported: the tabs with charts are built just after
    its first paint (musicspeech.gui.main_window)."""
    collect_on_the_gui_thread()  # before any worker starts: Qt objects must never be freed on a worker
    model = ActiveModel()
    window = MainWindow(model, settings)
    model.setParent(window)
    window.show()
    log.info("window shown (Qt platform %s)", QGuiApplication.platformName())
    model.changed.connect(lambda description: log.info("model active: %s", description))
    QTimer.singleShot(0, lambda: model.load(model_to_load(window.settings), fallback=shipped_model_path()))
    QTimer.singleShot(0, window.devices.refresh)  # PortAudio scans the devices on a worker, after the window
    if paths:
        window.open_files([Path(p) for p in paths])
    return window


def app_icon() -> QIcon:
    """The app's icon at every size it was rendered at (resources/icons, made by scripts/make_icons.py)."""
    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("musicspeech-*.png")):
        icon.addFile(str(path))
    return icon


class FileOpenEvents(QObject):
    """Files the desktop hands to the app as events rather than arguments (macOS: files dropped on the app's
    icon or opened with it from the Finder), gathered for a moment and opened together like arguments."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.pending: list[Path] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.FileOpen and event.file():
            if not self.pending:
                QTimer.singleShot(0, self._open_pending)
            self.pending.append(Path(event.file()))
            return True
        return False

    def _open_pending(self) -> None:
        paths, self.pending = self.pending, []
        self.window.open_files(paths)


def main(argv: Sequence[str] = ()) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "musicspeech"])
    app.setOrganizationName("musicspeech")
    app.setApplicationName("musicspeech")
    app.setDesktopFileName("musicspeech")  # Wayland matches the window to musicspeech.desktop by this
    app.setWindowIcon(app_icon())
    log_path = setup_logging()
    window = create_window(list(argv))
    if sys.platform == "darwin":  # the only desktop that sends them; an app-wide filter sees every event
        app.installEventFilter(FileOpenEvents(window))
    crash_handler = CrashHandler(log_path, window)
    crash_handler.install()
    code = app.exec()
    window.save_settings()
    return code if shut_down() else hard_exit(code)


def shut_down() -> bool:
    """Stop the work still going on when the window has closed: the training process is ended, running tasks are
    cancelled, files being saved are finished. False if a task did not end in time."""
    training = sys.modules.get("musicspeech.core.training_process")  # loaded with the Train tab, not at start-up
    if training is not None:
        training.stop_all()
    cancel_all()
    if not finish_saves():
        log.warning("quit while files were still being saved; those files were left as they were")
    if not finish_tasks():
        log.warning("quit while a task was still running; it was stopped with the app")
        return False
    return True


def hard_exit(code: int) -> int:
    """Leave at once, without waiting for a task that did not end when asked to (the interpreter would wait for
    its thread); everything worth keeping (settings, saved files) is written by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
