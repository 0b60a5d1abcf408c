"""The model the app classifies with: loaded in the background (TensorFlow with it), swapped when the user
picks another one. Tabs ask `classifier` (None while loading) and listen to `changed`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from gui.tasks import run_task

if TYPE_CHECKING:
    from core.inference import Classifier


class ActiveModel(QObject):
    loading = Signal(str)  # what is being loaded
    changed = Signal(str)  # a description of the model now active
    failed = Signal(str)  # one line: why it could not be loaded

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.classifier: Classifier | None = None
        self.path: Path | None = None
        self.task = None

    def load(self, path: str | Path) -> None:
        path = Path(path)
        self.loading.emit(path.name)

        def work(ctx):
            from core.inference import Classifier  # imports TensorFlow: never on the GUI thread

            return Classifier.from_path(path)

        self.task = run_task(work, on_result=lambda c: self._set(c, path), on_error=self.failed.emit, owner=self)

    def use(self, classifier: Classifier, path: Path | None) -> None:
        """Make an already loaded model (e.g. one just trained) the active one."""
        self._set(classifier, path)

    def _set(self, classifier: Classifier, path: Path | None) -> None:
        self.classifier, self.path = classifier, path
        self.changed.emit(classifier.bundle.describe())
