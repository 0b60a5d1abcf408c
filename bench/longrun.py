"""Long runs: memory at the start and the end of ten minutes of live mode on a (virtual) sound device, and of a
two-hour file classified three times in one process.

    .venv/bin/python bench/longrun.py            # full: 10 minutes of listening, a 120-minute file (~14 min)
    .venv/bin/python bench/longrun.py --quick    # 40 s of listening, a 4-minute file

- Live: a PulseAudio null sink (as the tests use) whose monitor is the microphone; real GTZAN speech and music,
  30 s of each in turn, are played into it for the whole run. Two processes listen at once: the app with its Live
  tab shown (Qt offscreen; it also draws the scrolling spectrogram and the verdict timeline of the last 5
  minutes) and `musicspeech live` (the headless loop). Their resident memory (VmRSS) is read every 5 s; the table
  gives it 1 minute in (after start-up, the model loaded and the first minute heard), half-way, and at the end,
  and the growth over the second half (the verdict timeline is full after 5 minutes: from then on nothing
  should grow).
- Long file: a WAV of GTZAN clips joined (22,050 Hz 16-bit, made in a temporary folder, deleted after), classified
  by `Classifier.classify_files` three times in one fresh process: resident memory after loading the model, the
  peak, and after each pass (what the process keeps once a result is out). The first pass leaves the worker
  threads, TensorFlow's buffers and the allocator's free lists behind; "flat" is judged between passes 2 and 3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import GTZAN as GTZAN_ROOT
from common import ROOT, arguments, goal, table, write_json
from longfile import make_long_file

from tests.virtual_audio import VirtualAudio

GTZAN = GTZAN_ROOT / "music_speech"
RATE = 16000
FLAT_MB = 20  # "flat": less than this over the second half of the live run, or between the file's last passes
SAMPLE_S = 5.0
PASSES = 3

APP_LIVE = """
import sys
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings, QTimer
app = QApplication([])
from musicspeech.gui.app import create_window
window = create_window(settings=QSettings(sys.argv[1], QSettings.IniFormat))
window.tabs.setCurrentWidget(window.live_tab)
def start():
    if window.model.classifier is None:
        QTimer.singleShot(200, start)
    else:
        window.live_tab.start()
start()
app.exec()
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def programme(seconds: float) -> np.ndarray:
    """Speech and music in turn, 30 s of each, real GTZAN clips, for `seconds` (at 16 kHz)."""
    from musicspeech.core.audio import load_audio

    speech = sorted((GTZAN / "speech_wav").glob("*.wav"))
    music = sorted((GTZAN / "music_wav").glob("*.wav"))
    pieces, total, i = [], 0, 0
    while total < seconds * RATE:
        for path in (speech[i % len(speech)], music[i % len(music)]):
            x = load_audio(path, RATE).samples[: 30 * RATE]
            pieces.append(x)
            total += len(x)
        i += 1
    return np.concatenate(pieces)[: int(seconds * RATE)]


def live_memory(minutes: float) -> dict:
    """The app's Live tab and the headless loop listening for `minutes`: their RSS over time."""
    runtime = Path(tempfile.mkdtemp(prefix="musicspeech-longrun-pulse-"))
    audio = VirtualAudio(runtime)
    audio.start()
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(runtime / "config"),
        "XDG_STATE_HOME": str(runtime / "state"),
    }
    seconds = minutes * 60
    procs = {}
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        player = audio.play(programme(seconds + 60))
        procs = {
            "the app, Live tab shown": subprocess.Popen(
                [sys.executable, "-X", "faulthandler", "-c", APP_LIVE, str(runtime / "settings.ini")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(runtime / "app.err").open("w"),
            ),
            "musicspeech live (headless)": subprocess.Popen(
                [sys.executable, "-X", "faulthandler", "-m", "musicspeech", "live", "--format", "json"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=(runtime / "live.err").open("w"),
                text=True,
            ),
        }
        samples = {name: [] for name in procs}
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    said = "".join(_tail(runtime / f) for f in ("app.err", "live.err"))
                    raise RuntimeError(
                        f"{name} stopped early (exit status {proc.returncode}) after {elapsed:.0f} s\n{said}"
                    )
                samples[name].append((elapsed, rss_mb(proc.pid)))
            time.sleep(SAMPLE_S)
        for name, proc in procs.items():
            samples[name].append((time.monotonic() - start, rss_mb(proc.pid)))
        procs["the app, Live tab shown"].terminate()
        headless = procs["musicspeech live (headless)"]
        headless.send_signal(signal.SIGTERM)  # as a service manager stops it: the last segment is printed
        try:
            out, _ = headless.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            headless.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            headless.wait()
            said = _tail(runtime / "live.err", 80)
            raise RuntimeError("the headless loop did not stop on Ctrl+C:\n" + said) from None
        changes = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        player.kill()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        audio.stop()
    report = {"minutes": minutes, "segments_reported_by_the_headless_loop": len(changes), "processes": {}}
    for name, points in samples.items():
        t = np.array([p[0] for p in points])
        mb = np.array([p[1] for p in points])
        one_minute, half, end = _at(t, mb, min(60.0, seconds / 2)), _at(t, mb, seconds / 2), float(mb[-1])
        report["processes"][name] = {
            "rss_1min_mb": one_minute,
            "rss_half_mb": half,
            "rss_end_mb": end,
            "rss_max_mb": float(mb.max()),
            "second_half_growth_mb": end - half,
            "samples": points,
        }
    return report


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


def _at(t: np.ndarray, values: np.ndarray, when_s: float) -> float:
    return float(values[min(int(np.searchsorted(t, when_s)), len(values) - 1)])


def file_child(path: str) -> None:
    """In a fresh process: the shipped model, one warm-up second, then the file classified 3 times; print JSON."""
    sys.path.insert(0, str(ROOT))
    from common import peak_rss_mb

    from musicspeech.core.audio import Waveform
    from musicspeech.core.inference import Classifier
    from musicspeech.core.paths import shipped_model_path

    classifier = Classifier.from_path(shipped_model_path())
    rate = classifier.spec.rate_hz
    classifier.classify(Waveform(np.zeros(rate, np.float32), rate))
    out = {"rss_loaded_mb": rss_mb(os.getpid()), "passes": []}
    for _ in range(PASSES):
        start = time.perf_counter()
        (result,) = classifier.classify_files([path])
        wall_s = time.perf_counter() - start
        p = result.prediction
        out["passes"].append(
            {
                "wall_s": wall_s,
                "rss_after_mb": rss_mb(os.getpid()),
                "peak_rss_mb": peak_rss_mb(),
                "duration_s": p.duration_s,
                "segments": len(p.segments),
            }
        )
        del result, p
    print(json.dumps(out))


def file_memory(minutes: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="musicspeech-longrun-") as tmp:
        path = Path(tmp) / f"joined-{minutes:g}min.wav"
        duration_s = make_long_file(path, minutes)
        size_mb = path.stat().st_size / 1e6
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out, "minutes": minutes, "duration_s": duration_s, "file_mb": size_mb}


def main() -> int:
    args = arguments(__doc__.splitlines()[0], lambda p: p.add_argument("--child", help=None))
    if args.child:
        file_child(args.child)
        return 0
    live_minutes, file_minutes = (40 / 60, 4.0) if args.quick else (10.0, 120.0)
    print(f"# long runs ({'quick' if args.quick else 'full'})")

    live = live_memory(live_minutes)
    print(f"\n## Long run: live mode for {live_minutes * 60:.0f} s on a virtual sound device\n")
    print(
        "GTZAN speech and music in turn (30 s each) played into a PulseAudio null sink; two processes listen to its "
        f"monitor at once. Resident memory (VmRSS) in MB, read every {SAMPLE_S:g} s. The headless loop reported "
        f"{live['segments_reported_by_the_headless_loop']} segments.\n"
    )
    rows = [
        [
            name,
            f"{p['rss_1min_mb']:.0f}",
            f"{p['rss_half_mb']:.0f}",
            f"{p['rss_end_mb']:.0f}",
            f"{p['rss_max_mb']:.0f}",
            f"{p['second_half_growth_mb']:+.1f}",
        ]
        for name, p in live["processes"].items()
    ]
    first = "after 1 min" if not args.quick else "after 20 s"
    print(table(["process", first, "half-way", "at the end", "largest", "second half, growth"], rows))

    long = file_memory(file_minutes)
    passes = long["passes"]
    print(f"\n## Long run: a {file_minutes:g}-minute file classified {PASSES} times in one process\n")
    print(
        f"A WAV of GTZAN clips joined ({long['file_mb']:.0f} MB, 22,050 Hz 16-bit); the shipped model; "
        "`Classifier.classify_files`. Resident memory in MB.\n"
    )
    array_mb = long["duration_s"] * RATE * 4 / 2**20
    print(
        table(
            [
                "model loaded",
                "peak",
                *[f"after pass {i + 1}" for i in range(PASSES)],
                "one float32 array of the file",
                "wall s per pass",
                "segments",
            ],
            [
                [
                    f"{long['rss_loaded_mb']:.0f}",
                    f"{passes[-1]['peak_rss_mb']:.0f}",
                    *[f"{p['rss_after_mb']:.0f}" for p in passes],
                    f"{array_mb:.0f}",
                    ", ".join(f"{p['wall_s']:.1f}" for p in passes),
                    passes[0]["segments"],
                ]
            ],
        )
    )
    live_growth = max(p["second_half_growth_mb"] for p in live["processes"].values())
    file_growth = passes[-1]["rss_after_mb"] - passes[-2]["rss_after_mb"]
    write_json(
        args.json,
        {
            "quick": args.quick,
            "live": live,
            "file": long,
            "goals": [
                goal(
                    f"live mode for {live_minutes * 60:.0f} s: memory growth over the second half",
                    f"{live_growth:+.1f} MB",
                    f"flat (< {FLAT_MB} MB)",
                    live_growth < FLAT_MB,
                ),
                goal(
                    f"a {file_minutes:g}-minute file classified {PASSES} times: memory after pass 3 - after pass 2",
                    f"{file_growth:+.1f} MB",
                    f"flat (< {FLAT_MB} MB)",
                    file_growth < FLAT_MB,
                ),
            ],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
