"""Screenshots of each tab with real data, for the README: docs/screenshot-{train,inspect,classify}.png.

./scripts/screenshots.sh        # under Xvfb (a real X11 window); QT_QPA_PLATFORM=offscreen works too
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

GTZAN = ROOT.parent / "shared" / "data" / "gtzan_music_speech" / "music_speech"


def main() -> int:
    app = QApplication(sys.argv[:1])
    from gui.app import create_window

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat)
    window = create_window(settings=settings)
    window.resize(1200, 800)
    out = ROOT / "docs"
    subset = Path(tempfile.mkdtemp())
    for label in ("music", "speech"):
        (subset / label).mkdir()
        for clip in sorted((GTZAN / f"{label}_wav").glob("*.wav"))[:12]:
            (subset / label / clip.name).symlink_to(clip)
    steps = []

    def step(check, action):
        steps.append((check, action))

    def run():
        if not steps:
            app.quit()
            return
        check, action = steps[0]
        if check():
            steps.pop(0)
            action()
        QTimer.singleShot(300, run)

    def shoot(name):
        return lambda: window.grab().save(str(out / f"screenshot-{name}.png"))

    classify = window.classify_tab
    step(
        lambda: window.model.classifier is not None,
        lambda: (
            window.tabs.setCurrentWidget(classify),
            classify.add_paths(
                [GTZAN / "music_wav" / n for n in ("blues.wav", "bagpipe.wav", "opera.wav")]
                + [GTZAN / "speech_wav" / n for n in ("news1.wav", "comedy.wav", "greek.wav")]
            ),
        ),
    )
    step(lambda: len(classify.results) == 6, shoot("classify"))
    step(lambda: True, lambda: window.open_in_inspect(GTZAN / "speech_wav" / "comedy.wav"))
    step(
        lambda: window.inspect_tab.current is not None and window.inspect_tab.current.prediction is not None,
        shoot("inspect"),
    )
    train = window.train_tab
    step(
        lambda: True,
        lambda: (
            window.tabs.setCurrentWidget(train),
            train.set_source(subset),
            train.epochs.setValue(4),
            train.start(),
        ),
    )
    step(lambda: train.result is not None, lambda: (train.confusion.cellClicked.emit(1, 1), None))
    step(lambda: True, shoot("train"))
    QTimer.singleShot(0, run)
    QTimer.singleShot(600_000, app.quit)
    app.exec()
    print("\n".join(str(p) for p in sorted(out.glob("screenshot-*.png"))))
    from gui.app import hard_exit

    hard_exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
