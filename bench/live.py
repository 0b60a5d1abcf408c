"""Live mode and playback on a real (virtual) sound device: how soon a change in the audio shows in the verdict,
what listening costs, and how closely the playhead follows what is heard.

    .venv/bin/python bench/live.py            # full: 10 changes, 60 s of listening, 5 playback runs (~5 min)
    .venv/bin/python bench/live.py --quick    # under a minute: keeps the script alive

It starts its own PulseAudio with a null sink (as the tests do; Debian's pulseaudio must be installed) whose
monitor is the microphone. Real GTZAN speech and music from the shipped model's held-out fold are played into it.

- change -> verdict: speech and music alternate every 6 s, played into the sink; each change is found in the
  audio the live session captured (by aligning it with what was played) and timed to the first verdict with the
  new label: audio time, plus the processing after that audio arrived, plus the input latency;
- CPU: `musicspeech live` (the headless loop) as a separate process, its CPU time over a stretch of listening
  to real audio divided by the wall time, as a share of one core; and the same for the app with its Live tab
  shown (offscreen Qt), which also draws;
- playhead: clicks every 0.5 s played by the Player, recorded from the monitor; where `position_s` said the
  playhead was at the moment each click arrived, minus where the click is in the clip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import GTZAN as GTZAN_ROOT
from common import ROOT, arguments, goal, spread, table, write_json

from tests.virtual_audio import VirtualAudio

GTZAN = GTZAN_ROOT / "music_speech"
GOAL_CHANGE_S, GOAL_CPU = 1.0, 0.15
SPEECH = ["female", "male", "kedar", "amal", "austria"]  # the shipped model's held-out fold
MUSIC = ["corea", "hendrix", "u2", "glass", "ballad"]
RATE = 16000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _kept():
    from musicspeech.core.live import LiveListener

    class Kept(LiveListener):
        def __init__(self):
            self.verdicts, self.segments = [], []

        def verdict(self, v):
            self.verdicts.append(v)

        def segment(self, seg):
            self.segments.append(seg)

    return Kept()


def joined_clips(classifier, pairs) -> dict:
    """The live analyzer (no device) on speech and music clips joined in both orders: how long after each change
    the verdict follows (audio time), and how many segments there are beyond the two true ones, per minute."""
    from musicspeech.core.audio import load_audio
    from musicspeech.core.live import SILENCE, LiveAnalyzer, LiveSettings

    delays: dict[str, list[float]] = {"music": [], "speech": []}
    extra, seconds = 0, 0.0
    for speech_path, music_path in pairs:
        speech, music = (load_audio(p, RATE).samples[: 10 * RATE] for p in (speech_path, music_path))
        for first, second, new in ((speech, music, "music"), (music, speech, "speech")):
            kept = _kept()
            analyzer = LiveAnalyzer(classifier, LiveSettings(), kept)
            analyzer.feed(np.concatenate([first, second]))
            analyzer.finish()
            verdicts, segments = kept.verdicts, kept.segments
            change_s = len(first) / RATE
            later = [v.end_s - change_s for v in verdicts if v.end_s > change_s and v.label == new]
            delays[new].append(later[0] if later else float("inf"))
            extra += max(0, len([g for g in segments if g.label != SILENCE]) - 2)
            seconds += (len(first) + len(second)) / RATE
    return {"delays_s": delays, "extra_segments_per_min": 60 * extra / seconds, "minutes": seconds / 60}


def change_latency(classifier, changes: int, audio: VirtualAudio) -> dict:
    """Speech and music alternating every 6 s are played into the device; each change is found in the audio the
    session captured (by aligning it with what was played), and timed to the first verdict with the new label:
    in audio time, plus the processing after that audio arrived, plus the input latency PortAudio reports."""
    from musicspeech.core.audio import load_audio
    from musicspeech.core.live import LiveListener, LiveSession, LiveSettings

    pieces, labels = [], []
    for i in range(changes + 1):
        speech = i % 2 == 0
        name = (SPEECH if speech else MUSIC)[(i // 2) % 5]
        folder = "speech_wav" if speech else "music_wav"
        pieces.append(load_audio(GTZAN / folder / f"{name}.wav", RATE).samples[6 * RATE : 12 * RATE])
        labels.append("speech" if speech else "music")
    played = np.concatenate(pieces)

    verdicts: list[tuple[float, object]] = []  # (monotonic time, verdict)
    arrivals: list[tuple[float, int]] = []  # (monotonic time, frames computed so far)

    class Timed(LiveListener):
        def frames(self, feats, levels_dbfs):
            arrivals.append((time.monotonic(), len(feats)))

        def verdict(self, v):
            verdicts.append((time.monotonic(), v))

    settings = LiveSettings(keep_s=len(played) / RATE + 30)
    session = LiveSession(classifier, settings, listener=Timed())
    session.start()
    try:
        while session.analyzer.verdicts < 4:  # the stream is up
            time.sleep(0.05)
        audio.play(played).wait()
        time.sleep(2.0)
        captured = session.audio.latest(session.audio.written)
        input_latency_s = session.mic.latency_s
    finally:
        session.stop()
    lag = _lag(captured, played)  # captured[lag + i] is played[i]
    frames_at = np.cumsum([n for _, n in arrivals])
    spec = classifier.spec
    results = []
    for k in range(1, changes + 1):
        change_s = (lag + 6 * k * RATE) / RATE  # where the change is in the captured stream
        first = next(((t, v) for t, v in verdicts if v.end_s > change_s and v.label == labels[k]), None)
        if first is None:
            results.append({"to": labels[k], "latency_s": None})
            continue
        t, v = first
        frames_needed = spec.frame_count(round(v.end_s * RATE))  # up to the verdict's end
        arrived = arrivals[int(np.searchsorted(frames_at, frames_needed))][0]
        results.append(
            {
                "to": labels[k],
                "audio_s": v.end_s - change_s,
                "processing_s": t - arrived,
                "latency_s": v.end_s - change_s + (t - arrived) + input_latency_s,
            }
        )
    return {"delay_bound_s": settings.delay_s, "input_latency_s": input_latency_s, "changes": results}


def _lag(captured: np.ndarray, played: np.ndarray) -> int:
    """The offset of `played` inside `captured`, by cross-correlation (FFT)."""
    n = 1 << int(np.ceil(np.log2(len(captured) + len(played))))
    corr = np.fft.irfft(np.fft.rfft(captured, n) * np.conj(np.fft.rfft(played, n)), n)
    return int(np.argmax(corr[: len(captured)]))


def cpu_share(command: list[str], settle_s: float, measure_s: float, audio: VirtualAudio, env) -> float:
    """CPU time of a process over `measure_s` of listening (after `settle_s`), as a share of one core."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)
        music = load(GTZAN / "music_wav" / "u2.wav")
        speech = load(GTZAN / "speech_wav" / "kedar.wav")
        player = audio.play(np.concatenate([speech, music] * int(np.ceil(measure_s / 60 + 1))))
        time.sleep(1.0)
        t0, c0 = time.monotonic(), cpu_seconds(proc.pid)
        time.sleep(measure_s)
        t1, c1 = time.monotonic(), cpu_seconds(proc.pid)
        player.kill()
        return (c1 - c0) / (t1 - t0)
    finally:
        proc.terminate()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def load(path):
    from musicspeech.core.audio import load_audio

    return load_audio(path, RATE).samples


APP_LIVE = """
import sys, time
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings, QTimer
app = QApplication([])
from musicspeech.gui.app import create_window, hard_exit
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


def playhead_offsets(runs: int) -> list[float]:
    """Where the playhead said it was when each click was heard, minus where the click is (seconds)."""
    clip = np.zeros(6 * RATE, np.float32)
    clicks = np.arange(0.5, 5.6, 0.5)
    for c in clicks:
        clip[int(c * RATE) : int(c * RATE) + 80] = 0.8
    return [offset for _ in range(runs) for offset in _playhead_run(clip, clicks)]


def _playhead_run(clip: np.ndarray, clicks: np.ndarray) -> list[float]:
    import sounddevice as sd

    from musicspeech.core.devices import Player

    blocks: list[tuple[float, np.ndarray]] = []
    stream = sd.InputStream(
        samplerate=RATE,
        channels=1,
        dtype="float32",
        blocksize=160,
        callback=lambda indata, *_: blocks.append((time.monotonic(), indata[:, 0].copy())),
    )
    stream.start()
    while not blocks:
        time.sleep(0.01)
    time.sleep(0.3)
    player = Player(clip, RATE)
    positions: list[tuple[float, float]] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            positions.append((time.monotonic(), player.position_s))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    player.play()
    while player.playing:
        time.sleep(0.05)
    time.sleep(0.5)
    done.set()
    sampler.join()
    stream.close()
    # the wall time of every recorded sample: a block's last sample arrived with its callback
    times = np.concatenate([t - stream.latency - (len(b) - 1 - np.arange(len(b))) / RATE for t, b in blocks])
    samples = np.concatenate([b for _, b in blocks])
    loud = np.flatnonzero(np.abs(samples) > 0.3)
    onsets = loud[np.concatenate([[True], np.diff(loud) > RATE // 10])] if len(loud) else loud
    moving = np.array([p for p in positions if p[1] > 0])
    out = []
    for k, onset in enumerate(onsets[: len(clicks)]):
        heard = times[onset]
        if len(moving) and moving[0, 0] <= heard <= moving[-1, 0]:
            out.append(float(np.interp(heard, moving[:, 0], moving[:, 1])) - float(clicks[k]))
    return out


def main() -> int:
    args = arguments("live mode and playback on a virtual sound device")
    changes, listen_s, runs = (2, 5.0, 1) if args.quick else (10, 60.0, 5)

    runtime = Path(tempfile.mkdtemp(prefix="musicspeech-bench-pulse-"))
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)  # before sounddevice is imported: PortAudio finds this server
    audio = VirtualAudio(runtime)
    audio.start()
    report: dict = {"quick": args.quick}
    try:
        from musicspeech.core.inference import Classifier
        from musicspeech.core.paths import shipped_model_path

        classifier = Classifier.from_path(shipped_model_path())
        print(f"# live ({'quick' if args.quick else 'full'})")
        print("PulseAudio null sink, its monitor as the microphone; the shipped model; window 1 s, hop 0.1 s")

        lat = report["latency"] = change_latency(classifier, changes, audio)
        print("\n## Live: a change in the audio -> the verdict changes")
        print(
            "Seconds from the change (found in the captured audio) to the end of the first window with the new "
            f"verdict, plus processing, plus the input latency PortAudio reports ({lat['input_latency_s'] * 1000:.0f}"
            f" ms). The design bound is window + hop = {lat['delay_bound_s']:g} s of audio.\n"
        )
        rows = []
        for to in ("music", "speech"):
            seen = [c for c in lat["changes"] if c["to"] == to and c["latency_s"] is not None]
            missed = sum(1 for c in lat["changes"] if c["to"] == to and c["latency_s"] is None)
            rows.append(
                [
                    f"to {to}",
                    spread([c["latency_s"] for c in seen]) if seen else "-",
                    spread([c["audio_s"] for c in seen]) if seen else "-",
                    spread([c["processing_s"] for c in seen], "{:.3f}") if seen else "-",
                    missed,
                ]
            )
        print(table(["change", "total s", "of which audio", "of which processing", "not seen"], rows))

        from common import ensure_devset, labelled_files

        held_out = [
            (GTZAN / "speech_wav" / f"{s}.wav", GTZAN / "music_wav" / f"{m}.wav")
            for s in SPEECH
            for m in MUSIC[: 1 if args.quick else 5]
        ]
        devset = labelled_files(ensure_devset())
        dev_speech, dev_music = ([p for p, lab in devset if lab == k] for k in ("speech", "music"))
        dev_pairs = list(zip(dev_speech, dev_music, strict=False))[: 2 if args.quick else None]
        joined = report["joined"] = {
            "GTZAN held-out fold": joined_clips(classifier, held_out),
            "out-of-domain devset": joined_clips(classifier, dev_pairs),
        }
        print("\n## Live verdicts on joined clips (no device)\n")
        print(
            "Speech and music clips (up to 10 s each) joined in both orders and fed to the live analyzer: seconds of "
            "audio from the change to the first verdict with the new label, and segments beyond the two true ones "
            "(the model's own window errors show here as short wrong segments).\n"
        )
        rows = []
        for name, r in joined.items():
            to_music, to_speech = (np.array(r["delays_s"][k]) for k in ("music", "speech"))
            rows.append(
                [
                    name,
                    f"{np.median(to_music):.2f} / {to_music.max():.2f}",
                    f"{np.median(to_speech):.2f} / {to_speech.max():.2f}",
                    f"{r['extra_segments_per_min']:.2f}",
                    f"{r['minutes']:.1f}",
                ]
            )
        print(table(["clips", "to music: median / max s", "to speech: median / max s", "extra per min", "min"], rows))

        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "QT_QPA_PLATFORM": "offscreen"}
        live_cmd = [sys.executable, "-m", "musicspeech", "live", "--duration", str(listen_s + 30)]
        app_cmd = [sys.executable, "-c", APP_LIVE, str(runtime / "settings.ini")]
        cpu = report["cpu"] = {
            "musicspeech live (the loop)": cpu_share(live_cmd, 8.0, listen_s, audio, env),
            "the app, Live tab shown (the loop and its drawing)": cpu_share(app_cmd, 12.0, listen_s, audio, env),
        }
        print(f"\n## Live: CPU while listening to real audio\n\nCPU time over {listen_s:.0f} s after start-up.\n")
        print(table(["process", "share of one core"], [[name, f"{share:.1%}"] for name, share in cpu.items()]))

        offsets = report["playhead_offsets_s"] = playhead_offsets(runs)
        print("\n## Playback: the playhead against what is heard\n")
        print(
            f"Clicks every 0.5 s played by the app's Player, recorded from the monitor ({runs} run(s) of 11): where "
            "the playhead said it was when each click arrived, minus where the click is (negative: behind). The "
            "monitor's own capture latency is only partly known (PortAudio's figure is subtracted).\n"
        )
        shown = f"{np.median(offsets):+.3f} ({min(offsets):+.3f} to {max(offsets):+.3f})" if offsets else "-"
        print(table(["offset s: median (range)", "clicks"], [[shown, len(offsets)]]))
    finally:
        audio.stop()

    totals = [c["latency_s"] for c in lat["changes"] if c["latency_s"] is not None]
    worst = max(totals) if totals else None
    loop_cpu = cpu["musicspeech live (the loop)"]
    report["goals"] = [
        goal(
            "live: a change in the audio -> the verdict changes",
            f"{len(totals)} of {len(lat['changes'])} seen; worst {worst:.2f} s" if totals else "none seen",
            f"< {GOAL_CHANGE_S:g} s",
            len(totals) == len(lat["changes"]) and worst is not None and worst < GOAL_CHANGE_S,
        ),
        goal(
            "live: CPU share of one core while listening", f"{loop_cpu:.1%}", f"< {GOAL_CPU:.0%}", loop_cpu < GOAL_CPU
        ),
    ]
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
