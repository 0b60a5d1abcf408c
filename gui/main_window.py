"""The main window: the tabs, drag and drop anywhere, menus and shortcuts, the status line."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from core import __version__
from gui.active_model import ActiveModel
from gui.audio_devices import AudioDevices
from gui.classify_tab import ClassifyTab
from gui.inspect_tab import InspectTab
from gui.live_tab import LiveTab
from gui.train_tab import TrainTab

log = logging.getLogger(__name__)

RECENT_FILES = 8


class MainWindow(QMainWindow):
    def __init__(self, model: ActiveModel, settings: QSettings | None = None):
        super().__init__()
        self.model = model
        self.settings = settings or QSettings()
        self.setWindowTitle("Music or speech")
        self.setAcceptDrops(True)

        self.devices = AudioDevices(self.settings, self)
        self.train_tab = TrainTab(model, self.settings)
        self.inspect_tab = InspectTab(model, self.devices)
        self.classify_tab = ClassifyTab(model)
        self.live_tab = LiveTab(model, self.devices, self.settings)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_tab, "&Train")
        self.tabs.addTab(self.inspect_tab, "&Inspect")
        self.tabs.addTab(self.classify_tab, "&Classify")
        self.tabs.addTab(self.live_tab, "&Live")
        self.tabs.setCurrentWidget(self.classify_tab)
        self.setCentralWidget(self.tabs)

        self.model_label = QLabel("loading model…")
        self.model_message: QMessageBox | None = None
        self.model_label.setAccessibleName("Active model")
        self.statusBar().addPermanentWidget(self.model_label)
        model.loading.connect(lambda name: self.model_label.setText(f"loading model {name}…"))
        model.changed.connect(self._model_changed)
        model.failed.connect(self._model_failed)
        for tab in (self.train_tab, self.inspect_tab, self.classify_tab, self.live_tab):
            tab.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.classify_tab.open_in_inspect.connect(self.open_in_inspect)
        self.inspect_tab.opened.connect(self._remember_recent)
        self.train_tab.open_in_inspect.connect(self.open_in_inspect)
        self._menus()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        if not self.settings.isWritable():
            problem = self.settings_problem() or f"cannot save {self.settings.fileName()}"
            self.statusBar().showMessage(f"settings will not be kept: {problem}", 15000)

    # settings ----------------------------------------------------------------------------------------------
    def settings_problem(self) -> str | None:
        """Why the settings file cannot be written now, in one line (None: a file can be written beside it).
        Qt saves it atomically (QSaveFile: an unnamed temporary file, linked and renamed over it, so a failure
        or a crash leaves it as it was) but says only that it failed; the folder is tried here for the reason."""
        from core.atomic import check_writable
        from core.errors import SaveError

        try:
            check_writable(self.settings.fileName())
        except SaveError as e:
            return str(e)
        return None

    def save_settings(self) -> bool:
        """Write the settings now; a failure is logged (the app is closing: nobody to tell in the window)."""
        self.settings.sync()
        if self.settings.status() == QSettings.NoError:
            return True
        problem = self.settings_problem()
        if problem is None:  # Qt's status keeps its first error; the changes kept were written by this sync
            return True
        log.warning("settings not saved: %s", problem)
        return False

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open in Inspect…", QKeySequence.Open, self.open_dialog)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._fill_recent()
        self._action(file_menu, "&Add files to classify…", "Ctrl+Shift+O", self.classify_tab._choose_files)
        self._action(file_menu, "&Export results…", "Ctrl+E", self.classify_tab.export_dialog)
        self._action(file_menu, "Load &model…", "Ctrl+M", self.choose_model)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.Quit, self.close)
        audio_menu = self.menuBar().addMenu("&Audio")
        self.input_menu = audio_menu.addMenu("&Input device")
        self.output_menu = audio_menu.addMenu("&Output device")
        audio_menu.addSeparator()
        self._action(audio_menu, "&Refresh device list", None, lambda: self.devices.refresh(rescan=True))
        self.devices.listed.connect(self._fill_device_menus)
        self.devices.failed.connect(lambda message: self.statusBar().showMessage(message, 8000))
        self.devices.input_changed.connect(lambda name: self._check_device(self.input_menu, name))
        self.devices.output_changed.connect(lambda name: self._check_device(self.output_menu, name))
        self._fill_device_menus()
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About", None, self.about)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _fill_device_menus(self) -> None:
        """Radio lists of the devices (the chosen one checked; one that is remembered but gone is marked)."""
        for menu, kind, listed, chosen, choose in (
            (self.input_menu, "input", self.devices.inputs, self.devices.input_name, self.devices.choose_input),
            (self.output_menu, "output", self.devices.outputs, self.devices.output_name, self.devices.choose_output),
        ):
            menu.clear()
            group = QActionGroup(menu)
            entries = [("System default", None)] + [(d.label, d.name) for d in listed]
            if chosen and all(d.name != chosen for d in listed):
                entries.append((f"{chosen} (not connected)", chosen))
            for text, name in entries:
                action = menu.addAction(text)
                action.setData(name)
                action.setCheckable(True)
                action.setChecked(name == chosen)
                action.setActionGroup(group)
                action.triggered.connect(lambda _=False, n=name, c=choose: c(n))
            if not listed:
                menu.addAction(f"(no {kind} devices found)").setEnabled(False)

    @staticmethod
    def _check_device(menu, name) -> None:
        for action in menu.actions():
            if action.isCheckable():
                action.setChecked(action.data() == name)

    # files -------------------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = self.settings.value("folders/open", "")
        name, _ = QFileDialog.getOpenFileName(self, "Open audio file", start)
        if name:
            self.settings.setValue("folders/open", str(Path(name).parent))
            self.open_in_inspect(Path(name))

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, path: Path) -> None:
        if not Path(path).is_file():
            return
        files = [str(path)] + [f for f in self.recent_files() if f != str(path)]
        self.settings.setValue("recent/files", files[:RECENT_FILES])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = [f for f in self.recent_files() if Path(f).exists()]
        for i, name in enumerate(files, start=1):
            action = self.recent_menu.addAction(f"&{i} {Path(name).name}")
            action.setToolTip(name)
            action.triggered.connect(lambda _=False, p=name: self.open_in_inspect(Path(p)))
        self.recent_menu.setEnabled(bool(files))

    def open_in_inspect(self, path: Path) -> None:
        self.tabs.setCurrentWidget(self.inspect_tab)
        self.inspect_tab.open(path)

    def open_files(self, paths: list[Path]) -> None:
        """Files from the command line or the desktop (dropped on the app's icon): the first file opens in
        Inspect; when there are several paths, or folders, all of them are listed in Classify as well."""
        paths = [Path(p) for p in paths]
        files = [p for p in paths if p.is_file()]
        if len(paths) > 1 or (paths and not files):
            self.tabs.setCurrentWidget(self.classify_tab)
            self.classify_tab.add_paths(paths)
        if files:
            self.open_in_inspect(files[0])

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        if self.tabs.currentWidget() is self.inspect_tab and len(paths) == 1 and paths[0].is_file():
            self.inspect_tab.open(paths[0])
        else:
            self.tabs.setCurrentWidget(self.classify_tab)
            self.classify_tab.add_paths(paths)

    # model -------------------------------------------------------------------------------------------------
    def choose_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load model", "", "musicspeech models (*.msmodel)")
        if name:
            self.model.load(Path(name))

    def _model_changed(self, description: str) -> None:
        self.model_label.setText(f"model: {description}")
        if self.model.path is not None:
            self.settings.setValue("model/path", str(self.model.path))

    def _model_failed(self, message: str) -> None:
        """One line in the status bar and a message that does not block; the model in use (if any) stays."""
        active = self.model.classifier
        self.model_label.setText(f"model: {active.bundle.describe()}" if active is not None else "no model")
        self.statusBar().showMessage(f"model not loaded: {message}", 15000)
        if self.model_message is not None:
            self.model_message.close()
        self.model_message = QMessageBox(QMessageBox.Warning, "Model not loaded", message, QMessageBox.Ok, self)
        self.model_message.setModal(False)
        self.model_message.show()

    def about(self) -> None:
        import sys

        from PySide6 import __version__ as pyside_version

        tf_version = sys.modules["tensorflow"].__version__ if "tensorflow" in sys.modules else "not loaded yet"
        QMessageBox.about(
            self,
            "About Music or speech",
            f"<b>musicspeech {__version__}</b><br>Tells music from speech.<br><br>"
            f"Python {sys.version.split()[0]}, Qt for Python {pyside_version}, TensorFlow {tf_version}",
        )

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.save_settings()
        self.classify_tab.cancel()
        self.train_tab.cancel()
        self.inspect_tab.stop()
        self.inspect_tab.stop_recording()
        self.live_tab.stop()
        super().closeEvent(event)
