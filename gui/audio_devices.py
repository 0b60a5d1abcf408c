"""The sound devices the user chose, shared by the menus, Inspect and Live: listed off the GUI thread (PortAudio
scans devices when it loads, which can be slow where there are many), chosen by name, remembered."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from musicspeech.gui import settings as S
from musicspeech.gui.tasks import run_task


class AudioDevices(QObject):
    listed = Signal()  # `inputs` and `outputs` were read again
    input_changed = Signal(object)  # the chosen input's name (None: the system's default)
    output_changed = Signal(object)
    failed = Signal(str)

    def __init__(self, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.inputs: list = []  # musicspeech.core.devices.Device, default first
        self.outputs: list = []
        self.input_name: str | None = S.AUDIO_INPUT.read(settings) or None
        self.output_name: str | None = S.AUDIO_OUTPUT.read(settings) or None
        self.task = None

    def refresh(self, rescan: bool = False) -> None:
        """Read the device lists on a worker; `rescan` asks PortAudio to look for new devices first."""
        if self.task is not None and self.task.running:
            return

        def work(_ctx):
            from musicspeech.core import devices

            if rescan:
                devices.rescan()
            return devices.input_devices(), devices.output_devices()

        self.task = run_task(work, on_result=self._listed, on_error=self._failed, owner=self)

    def _listed(self, lists) -> None:
        self.inputs, self.outputs = lists
        self.listed.emit()

    def _failed(self, message: str) -> None:
        self.inputs, self.outputs = [], []
        self.listed.emit()
        self.failed.emit(message)

    def choose_input(self, name: str | None) -> None:
        self.input_name = name
        S.AUDIO_INPUT.write(self.settings, name or "")
        self.input_changed.emit(name)

    def choose_output(self, name: str | None) -> None:
        self.output_name = name
        S.AUDIO_OUTPUT.write(self.settings, name or "")
        self.output_changed.emit(name)

    def describe(self, kind: str) -> str:
        """The chosen device as shown to the user, e.g. "default (44100 Hz)"."""
        name, listed = (self.input_name, self.inputs) if kind == "input" else (self.output_name, self.outputs)
        for d in listed:
            if (name is None and d.is_default) or d.name == name:
                return d.label
        return name or "system default"
