"""The Qt binding keeps its references: PySide6 6.12.0 dropped one to True with every Signal(object) emitted and one
to None with every setter called; on Python 3.11, where True and None are not immortal, their count reached zero and
the interpreter aborted ("bool_dealloc") after 7 minutes of the Live tab. pyproject.toml keeps such a release out;
this test finds another one."""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar


class Emitter(QObject):
    value = Signal(object)
    progress = Signal(float, float, str)


def test_signals_and_setters_keep_the_references_of_true_and_none(qapp):
    emitter, received = Emitter(), [0]

    def count(*args):  # keeps nothing it is given: only the binding could change the counts
        received[0] += 1

    emitter.value.connect(count)
    emitter.progress.connect(count)
    bar, label = QProgressBar(), QLabel()
    calls = [
        lambda: emitter.value.emit(None),
        lambda: emitter.value.emit(True),
        lambda: emitter.progress.emit(1.0, 2.0, "training"),
        lambda: bar.setValue(7),
        lambda: label.setText("speech"),
        lambda: label.isVisible(),
    ]
    for call in calls:
        call()
    before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    for _ in range(200):  # 6.12.0 would have aborted the interpreter before the end of this loop
        for call in calls:
            call()
    after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    assert received[0] == 3 * 201
    assert after == before
