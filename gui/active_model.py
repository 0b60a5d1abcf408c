"""The model the app classifies with: loaded in the background (read and checked, its network handed to LiteRT;
no TensorFlow), swapped when the user picks another one. Tabs ask `classifier` (None while loading) and listen
to `changed`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from musicspeech.gui.tasks import run_task

if TYPE_CHECKING:
    from musicspeech.core.inference import Classifier


class ActiveModel(QObject):
    loading = Signal(str)  # what is being loaded
    changed = Signal(str)  # a description of the model now active
    failed = Signal(str)  # one line: why it could not be loaded

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.classifier: Classifier | None = None
        self.path: Path | None = None
        self.task = None

    def load(self, path: str | Path, fallback: Path | None = None) -> None:
        """Load `path` in the background. If it cannot be loaded, the model in use stays, or with nothing in use
        yet `fallback` (the shipped model) is loaded instead; `failed` says why either way."""
        path = Path(path)
        self.loading.emit(path.name)

        def work(ctx):
            from musicspeech.core.errors import MusicSpeechError
            from musicspeech.core.inference import Classifier  # LiteRT, and the file read: not on the GUI thread

            try:
                return Classifier.from_path(path), path, None
            except MusicSpeechError as e:
                if fallback is None or Path(fallback) == path:
                    raise
                return Classifier.from_path(fallback), Path(fallback), f"{e}; using {Path(fallback).name} instead"

        def done(result) -> None:
            classifier, loaded, problem = result
            self._set(classifier, loaded)
            if problem:
                self.failed.emit(problem)

        self.task = run_task(work, on_result=done, on_error=self.failed.emit, owner=self)

    def use(self, classifier: Classifier, path: Path | None) -> None:
        """Make an already loaded model (e.g. one just trained) the active one."""
        self._set(classifier, path)

    def _set(self, classifier: Classifier, path: Path | None) -> None:
        self.classifier, self.path = classifier, path
        self.changed.emit(classifier.bundle.describe())
