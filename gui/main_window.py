"""The main window: the tabs, drag and drop anywhere, menus and shortcuts, the status line.

The window is shown with the Classify tab only; the tabs with charts (Train, Inspect, Live) and pyqtgraph,
which they need and which takes longer to import than Qt itself, are built one per event-loop turn just after
the window is first painted, or at once when something needs one (`window.inspect_tab` builds it)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QSettings, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from musicspeech.core import __version__
from musicspeech.gui import settings as S
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.audio_devices import AudioDevices
from musicspeech.gui.classify_tab import ClassifyTab
from musicspeech.gui.settings import open_settings
from musicspeech.gui.widgets import AUDIO_FILTER, FocusRingStyle, MessageLabel, remember_folder, start_folder

if TYPE_CHECKING:
    from musicspeech.gui.inspect_tab import InspectTab
    from musicspeech.gui.live_tab import LiveTab
    from musicspeech.gui.train_tab import TrainTab

log = logging.getLogger(__name__)

RECENT_FILES = 8
TABS = {"train": "&Train", "inspect": "&Inspect", "classify": "&Classify", "live": "&Live"}
"""The tabs in their order, with their titles. Their mnemonics (T, I, C, L) and the menus' (F, A, H) are taken in
the whole window: no button of a tab may use them (tests/test_gui_layout.py checks)."""


def follow_palette() -> None:
    """Charts in the system's light or dark colours rather than pyqtgraph's fixed black."""
    import pyqtgraph as pg

    palette = QApplication.palette()
    pg.setConfigOptions(
        background=palette.color(QPalette.Base), foreground=palette.color(QPalette.Text), antialias=True
    )


class MainWindow(QMainWindow):
    def __init__(self, model: ActiveModel, settings: QSettings | None = None):
        super().__init__()
        app = QApplication.instance()
        if not isinstance(app.style(), FocusRingStyle):  # before the first widget: a clear keyboard-focus ring
            app.setStyle(FocusRingStyle())
        self.model = model
        self.settings = open_settings(settings)  # brought to the current layout (musicspeech.gui.settings)
        self.setWindowTitle("Music or speech")
        self.setAcceptDrops(True)

        self.devices = AudioDevices(self.settings, self)
        self.classify_tab = ClassifyTab(model, self.settings)
        self._built: dict[str, QWidget] = {"classify": self.classify_tab}
        self.tabs = QTabWidget()
        for key, title in TABS.items():
            self.tabs.addTab(self._built.get(key) or QWidget(), title)  # an empty page until the tab is built
        self.tabs.setCurrentWidget(self.classify_tab)
        self.tabs.currentChanged.connect(lambda index: self._tab(list(TABS)[index]))
        self.setCentralWidget(self.tabs)
        self.installEventFilter(self)  # the first paint starts building the other tabs

        self.model_label = MessageLabel("loading model…")  # a long model name never widens the window
        self.model_message: QMessageBox | None = None
        self.model_label.setAccessibleName("Active model")
        self.statusBar().addPermanentWidget(self.model_label)
        model.loading.connect(lambda name: self.model_label.setText(f"loading model {name}…"))
        model.changed.connect(self._model_changed)
        model.failed.connect(self._model_failed)
        self.classify_tab.status.connect(self._show_status)
        self.classify_tab.open_in_inspect.connect(self.open_in_inspect)
        self._menus()
        geometry = S.WINDOW_GEOMETRY.read(self.settings)
        if not (geometry and self.restoreGeometry(QByteArray(geometry))):
            self.resize(1100, 720)
        if not self.settings.isWritable():
            problem = self.settings_problem() or f"cannot save {self.settings.fileName()}"
            self.statusBar().showMessage(f"settings will not be kept: {problem}", 15000)

    # tabs --------------------------------------------------------------------------------------------------
    @property
    def train_tab(self) -> TrainTab:
        return self._tab("train")

    @property
    def inspect_tab(self) -> InspectTab:
        return self._tab("inspect")

    @property
    def live_tab(self) -> LiveTab:
        return self._tab("live")

    def build_tabs(self) -> None:
        """Build the tabs not built yet, one per event-loop turn, so that the window answers in between."""
        missing = [key for key in TABS if key not in self._built]
        if missing:
            self._tab(missing[0])
            QTimer.singleShot(0, self.build_tabs)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self and event.type() == QEvent.Paint:
            self.removeEventFilter(self)
            QTimer.singleShot(0, self.build_tabs)
        return False

    def _tab(self, key: str) -> QWidget:
        """The tab `key`, built now if it is not yet, in the place of its empty page."""
        tab = self._built.get(key)
        if tab is not None:
            return tab
        follow_palette()  # before the first chart
        if key == "train":
            from musicspeech.gui.train_tab import TrainTab

            tab = TrainTab(self.model, self.settings)
            tab.open_in_inspect.connect(self.open_in_inspect)
        elif key == "inspect":
            from musicspeech.gui.inspect_tab import InspectTab

            tab = InspectTab(self.model, self.devices)
            tab.opened.connect(self._remember_recent)
        else:
            from musicspeech.gui.live_tab import LiveTab

            tab = LiveTab(self.model, self.devices, self.settings)
        tab.status.connect(self._show_status)
        self._built[key] = tab
        index, current = list(TABS).index(key), self.tabs.currentIndex()
        page = self.tabs.widget(index)
        self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, tab, TABS[key])
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        page.deleteLater()
        return tab

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # settings ----------------------------------------------------------------------------------------------
    def settings_problem(self) -> str | None:
        """Why the settings file cannot be written now, in one line (None: a file can be written beside it).
        Qt saves it atomically (QSaveFile: an unnamed temporary file, linked and renamed over it, so a failure
        or a crash leaves it as it was) but says only that it failed; the folder is tried here for the reason."""
        from musicspeech.core.atomic import check_writable
        from musicspeech.core.errors import SaveError

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
        start = start_folder(self.settings, "open")
        name, _ = QFileDialog.getOpenFileName(self, "Open audio file", start, AUDIO_FILTER)
        if name:
            remember_folder(self.settings, "open", name)
            self.open_in_inspect(Path(name))

    def recent_files(self) -> list[str]:
        return S.RECENT_FILES.read(self.settings)

    def _remember_recent(self, path: Path) -> None:
        if not Path(path).is_file():
            return
        files = [str(path)] + [f for f in self.recent_files() if f != str(path)]
        S.RECENT_FILES.write(self.settings, files[:RECENT_FILES])
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
        inspecting = self.tabs.currentWidget() is self._built.get("inspect")
        if inspecting and len(paths) == 1 and paths[0].is_file():
            self.inspect_tab.open(paths[0])
        else:
            self.tabs.setCurrentWidget(self.classify_tab)
            self.classify_tab.add_paths(paths)

    # model -------------------------------------------------------------------------------------------------
    def choose_model(self) -> None:
        start = start_folder(self.settings, "model")
        name, _ = QFileDialog.getOpenFileName(self, "Load model", start, "musicspeech models (*.msmodel)")
        if name:
            remember_folder(self.settings, "model", name)
            self.model.load(Path(name))

    def _model_changed(self, description: str) -> None:
        self.model_label.setText(f"model: {description}")
        if self.model.path is not None:
            S.MODEL_PATH.write(self.settings, str(self.model.path))

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
        from importlib.metadata import PackageNotFoundError, version

        from PySide6 import __version__ as pyside_version

        try:  # what the training process loads; never loaded here
            tf_version = version("tensorflow")
        except PackageNotFoundError:
            tf_version = "(not found)"
        QMessageBox.about(
            self,
            "About Music or speech",
            f"<b>musicspeech {__version__}</b><br>Tells music from speech.<br><br>"
            f"Python {sys.version.split()[0]}, Qt for Python {pyside_version}, TensorFlow {tf_version}",
        )

    def closeEvent(self, event) -> None:  # noqa: N802
        S.WINDOW_GEOMETRY.write(self.settings, self.saveGeometry().data())
        self.save_settings()
        built = self._built
        self.classify_tab.cancel()
        if "train" in built:
            built["train"].cancel()
        if "inspect" in built:
            built["inspect"].stop()
            built["inspect"].stop_recording()
        if "live" in built:
            built["live"].stop()
        super().closeEvent(event)
