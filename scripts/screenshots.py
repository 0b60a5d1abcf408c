"""Screenshots of each tab with real data, for the README: docs/screenshot-{train,inspect,classify,live}.png.

The Live tab listens to a virtual sound device (a PulseAudio null sink, as in the tests) into which GTZAN speech
and then music are played.

./scripts/screenshots.sh        # under Xvfb (a real X11 window); QT_QPA_PLATFORM=offscreen works too
SCREENSHOT_SIZE=1024x640 ./scripts/screenshots.sh   # another window size: docs/screenshot-NAME-1024x640.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

GTZAN = ROOT.parent / "shared" / "data" / "gtzan_music_speech" / "music_speech"
SIZE = os.environ.get("SCREENSHOT_SIZE", "1600x1000")
SUFFIX = "" if SIZE == "1600x1000" else f"-{SIZE}"


def main() -> int:
    import numpy as np

    from tests.virtual_audio import VirtualAudio

    runtime = Path(tempfile.mkdtemp(prefix="musicspeech-pulse-"))
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)  # before PortAudio loads: it finds this server
    audio = VirtualAudio(runtime)
    audio.start()
    app = QApplication(sys.argv[:1])
    from musicspeech.core.audio import Waveform, load_audio, write_wav
    from musicspeech.gui.app import create_window

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat)
    window = create_window(settings=settings)
    window.resize(*map(int, SIZE.split("x")))
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
        return lambda: window.grab().save(str(out / f"screenshot-{name}{SUFFIX}.png"))

    mix = Path(tempfile.mkdtemp()) / "a mix" / "talk then music.wav"  # speech, a pause, music: all three
    mix.parent.mkdir()
    speech = load_audio(GTZAN / "speech_wav" / "comedy.wav", 16000).samples[: 16000 * 10]
    music = load_audio(GTZAN / "music_wav" / "bagpipe.wav", 16000).samples[: 16000 * 12]
    write_wav(mix, Waveform(np.concatenate([speech, np.zeros(16000 * 4, np.float32), music]), 16000, str(mix)))
    classify = window.classify_tab
    step(
        lambda: window.model.classifier is not None,
        lambda: (
            window.tabs.setCurrentWidget(classify),
            classify.add_paths(
                [GTZAN / "music_wav" / n for n in ("blues.wav", "bagpipe.wav", "opera.wav")]
                + [GTZAN / "speech_wav" / n for n in ("news1.wav", "comedy.wav", "greek.wav")]
                + [mix]
            ),
        ),
    )
    step(lambda: len(classify.results) == 7, shoot("classify"))
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
    live = window.live_tab

    def listen():
        window.tabs.setCurrentWidget(live)
        live.start()

    def play():
        speech = load_audio(GTZAN / "speech_wav" / "comedy.wav", 16000).samples[: 16000 * 12]
        music = load_audio(GTZAN / "music_wav" / "bagpipe.wav", 16000).samples[: 16000 * 16]
        audio.play(np.concatenate([speech, music]))

    step(lambda: True, listen)
    step(lambda: live.latest is not None, play)
    step(lambda: len(live.timeline) > 80 and live.verdict.text() == "MUSIC", shoot("live"))
    step(lambda: True, live.stop)
    QTimer.singleShot(0, run)
    QTimer.singleShot(600_000, app.quit)
    app.exec()
    audio.stop()
    print("\n".join(str(p) for p in sorted(out.glob(f"screenshot-*{SUFFIX}.png"))))
    from musicspeech.gui.app import hard_exit

    hard_exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
