"""App start-up: process start -> first window shown -> model ready, and the app's peak memory, in fresh processes.

    .venv/bin/python bench/startup.py [--quick] [--json PATH]

Each run starts a fresh Python process (Qt offscreen, settings, cache and logs in a temporary folder, so the
shipped model is the one loaded) that starts the app the way `musicspeech` does (gui.app: window first, model
in the background) and reports, on the system-wide monotonic clock, when the window was first painted and when
the model was ready (the status line changes); then it classifies one GTZAN clip with the loaded model and
reports its peak resident memory. Times count from just before the parent starts the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from common import GTZAN, ROOT, arguments, goal, median, spread, table, write_json

GOAL_WINDOW_S, GOAL_MODEL_S, GOAL_RSS_MB = 1.0, 4.0, 700


def child() -> None:
    """The app, started as `musicspeech` starts it, with probes on the first paint and on the model."""
    sys.path.insert(0, str(ROOT))
    import resource

    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from musicspeech.gui.app import create_window
    from musicspeech.gui.crash_handler import CrashHandler, setup_logging

    marks: dict[str, float] = {"imported": time.monotonic()}
    app = QApplication([sys.argv[0]])
    app.setOrganizationName("musicspeech")
    app.setApplicationName("musicspeech")
    log_path = setup_logging()
    window = create_window([])
    CrashHandler(log_path, window).install()

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Paint and "window" not in marks:
                marks["window"] = time.monotonic()
            return False

    probe = FirstPaint()
    window.installEventFilter(probe)

    def model_ready(_description: str) -> None:
        marks["model"] = time.monotonic()

        clip = GTZAN / "music_speech" / "speech_wav" / "acomic.wav"
        label = window.model.classifier.classify_path(clip).label
        marks["classified"] = time.monotonic()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({**marks, "peak_rss_mb": rss_mb, "label": label}), flush=True)
        window.settings.sync()
        os._exit(0)

    window.model.changed.connect(model_ready)
    window.model.failed.connect(lambda why: (print(json.dumps({"error": why}), flush=True), os._exit(1)))
    app.exec()


def one_run() -> dict:
    with tempfile.TemporaryDirectory(prefix="musicspeech-startup-") as home:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            **{k: os.path.join(home, k.lower()) for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")},
            "XDG_STATE_HOME": os.path.join(home, "state"),
        }
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the app did not start: {proc.stdout[-1000:]} {proc.stderr[-2000:]}")
    out = json.loads(lines[-1])
    return {
        "window_s": out["window"] - start,
        "model_s": out["model"] - start,
        "classified_s": out["classified"] - start,
        "imports_s": out["imported"] - start,
        "peak_rss_mb": out["peak_rss_mb"],
        "label": out["label"],
    }


def main() -> int:
    args = arguments(__doc__.splitlines()[0], lambda p: p.add_argument("--child", action="store_true"))
    if args.child:
        child()
        return 0
    runs = [one_run() for _ in range(1 if args.quick else 5)]
    col = {k: [r[k] for r in runs] for k in runs[0] if k != "label"}
    print(f"# start-up ({'quick' if args.quick else 'full'})")
    print(
        f"{len(runs)} fresh process(es), Qt offscreen; the clip classified once the model was ready: "
        f"{runs[0]['label']}."
    )
    print("\n## App start-up and memory")
    print(
        table(
            [
                "Python + Qt + app imported, s",
                "first window painted, s",
                "model ready, s",
                "first clip classified, s",
                "peak RSS with the model loaded, MB",
            ],
            [
                [
                    spread(col["imports_s"]),
                    spread(col["window_s"]),
                    spread(col["model_s"]),
                    spread(col["classified_s"]),
                    spread(col["peak_rss_mb"], "{:.0f}"),
                ]
            ],
        )
    )
    window_s, model_s, rss = median(col["window_s"]), median(col["model_s"]), max(col["peak_rss_mb"])
    report = {
        "quick": args.quick,
        "runs": runs,
        "goals": [
            goal(
                "app launch -> first window shown",
                f"{window_s:.2f} s",
                f"< {GOAL_WINDOW_S:g} s",
                window_s < GOAL_WINDOW_S,
            ),
            goal("app launch -> model ready", f"{model_s:.2f} s", f"< {GOAL_MODEL_S:g} s", model_s < GOAL_MODEL_S),
            goal(
                "peak RSS of the app with the model loaded", f"{rss:.1f} MB", f"< {GOAL_RSS_MB} MB", rss < GOAL_RSS_MB
            ),
        ],
    }
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
