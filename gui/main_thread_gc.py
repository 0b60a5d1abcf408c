"""Python's garbage collection, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate when a threshold is crossed. When that is a
worker (a model load, a training run, a live session) and the garbage holds Qt objects in reference cycles,
they are destroyed off the GUI thread, which deadlocked PySide6 (seen with gdb: a model load on a task thread
freeing an old window's QActions while the GUI thread deleted widgets). So automatic collection is switched off
and a timer on the GUI thread collects instead, generation by generation as the interpreter's own thresholds
say (the approach of calibre's GarbageCollector).

Kept after training moved to a process of its own (`musicspeech.core.training_process`): the cause was never TensorFlow
but Qt objects in reference cycles freed by whichever thread collects, and workers still allocate (model loads,
decoding, classifying, device lists) while the GUI thread makes and drops widgets.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 500


class MainThreadGC(QObject):
    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(INTERVAL_MS)

    def check(self) -> None:
        counts = gc.get_count()
        if counts[0] > self.thresholds[0]:
            generation = 2 if counts[2] > self.thresholds[2] else 1 if counts[1] > self.thresholds[1] else 0
            gc.collect(generation)


def collect_on_the_gui_thread() -> None:
    """Install the collector once per application (call on the GUI thread, with the QApplication made)."""
    app = QCoreApplication.instance()
    if app is not None and app.findChild(MainThreadGC) is None:
        MainThreadGC(app)
