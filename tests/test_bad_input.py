"""The corpus of bad and odd input (`tests/bad_input.py`) through every entry point: `load_audio`, the command line
as a user runs it (a folder, every file named, a reader that stops early, each file alone) and the app's real
Classify and Inspect tabs. Each file gets a verdict or one line of error that names it; never a traceback, never a
hang (the command line runs under a generous timeout), and in a batch the other files go on."""

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from musicspeech.core.audio import load_audio
from musicspeech.core.errors import AudioError
from musicspeech.core.features import FeatureSpec, frame_features
from musicspeech.core.inference import Classifier
from musicspeech.core.inspection import SPECTROGRAM_COLUMNS, spectrogram_db
from musicspeech.core.paths import readable, shipped_model_path
from musicspeech.gui.classify_tab import DURATION, FILE, STATUS, VERDICT
from musicspeech.gui.crash_handler import CrashHandler

from .bad_input import ERROR, RESULT, build_corpus, build_hour_long
from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO
from .test_gui import drop

SPEECH = "female.wav"  # the shipped model calls it speech at every rate (acomic, with its laughter, is music at 8 kHz)
MUSICSPEECH = Path(sys.executable).parent / "musicspeech"  # the installed command
TIMEOUT_S = 600  # "never a hang", generously: the corpus or the hour takes 10-15 s on the command line


@pytest.fixture(scope="module")
def corpus(gtzan_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad input") / "corpus"
    return build_corpus(folder, GTZAN_SPEECH / SPEECH, GTZAN_MUSIC / "blues.wav")


@pytest.fixture(scope="module")
def folder(corpus):
    return corpus[0].path.parent


@pytest.fixture(scope="module")
def listed(corpus):
    """What a folder scan finds, in its order: the files with audio names (not `song.wav/`, not `.xyz`)."""
    return sorted((c for c in corpus if c.listed), key=lambda c: c.path)


@pytest.fixture(scope="module")
def hour_long(gtzan_dir, tmp_path_factory):
    return build_hour_long(tmp_path_factory.mktemp("hour"), GTZAN_SPEECH / SPEECH)


def one_line_naming(message: str, case) -> bool:
    return case.name in message and "\n" not in message and "Traceback" not in message


def check_row(row: dict, case) -> str | None:
    """What is wrong with a JSON object of `classify --format json` for `case`, or None."""
    if row["path"] != str(case.path):
        return f"path {row['path']!r}"
    if case.expect == ERROR:
        if set(row) != {"path", "error"} or not one_line_naming(row["error"], case):
            return f"expected one line of error, got {row}"
    elif "error" in row or not right_verdict(row["label"], case):
        return f"expected {case.label or 'a verdict'}, got {row.get('label') or row.get('error')}"
    return None


def right_verdict(verdict: str, case) -> bool:
    return verdict == case.label if case.label else verdict in ("music", "speech", "silence")


def shown(path: Path) -> str:
    """A path as the command line prints it (a name that is not UTF-8 with backslash escapes)."""
    return str(path).encode("utf-8", "backslashreplace").decode()


# load_audio ------------------------------------------------------------------------------------------------


def test_load_audio_gives_each_file_samples_or_one_line_naming_it(corpus):
    classifier = Classifier.from_path(shipped_model_path())
    wrong = []
    for case in corpus:
        try:
            w = load_audio(case.path, 16000)
        except AudioError as e:
            if case.expect != ERROR or not str(e).startswith("cannot read ") or not one_line_naming(str(e), case):
                wrong.append((case.name, str(e)))
            continue
        if case.expect != RESULT or w.samples.dtype != np.float32 or not np.isfinite(w.samples).all():
            wrong.append((case.name, "samples, not an error"))
        elif case.label and (label := classifier.classify(w).label) != case.label:
            wrong.append((case.name, f"called {label}"))
    assert wrong == []


def test_damage_after_good_audio_keeps_the_audio_before_it(folder):
    """libsndfile fails on the junk after a cut MP3: the seconds before it are kept, as for a cut file."""
    cut = load_audio(folder / "mp3 cut short.mp3", 16000).samples
    damaged = load_audio(folder / "mp3 cut short with junk appended.mp3", 16000).samples
    assert len(damaged) == pytest.approx(len(cut), abs=0.05 * 16000)  # to the damage, not to the failed block
    # the same audio (libsndfile's MP3 decoder gives slightly other samples when read in other block sizes)
    assert np.corrcoef(damaged[: 16000 * 4], cut[: 16000 * 4])[0, 1] > 0.99


# the command line ------------------------------------------------------------------------------------------


def musicspeech(*args, timeout=TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MUSICSPEECH), *map(str, args)],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_cli_gives_each_file_of_the_corpus_folder_a_json_line(folder, listed):
    proc = musicspeech("classify", folder, "--format", "json")
    assert proc.stderr == ""  # no traceback, and no decoder's notes about the damaged files either
    assert proc.returncode == 1  # some failed
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(c.path) for c in listed]
    assert [(c.name, problem) for row, c in zip(rows, listed, strict=True) if (problem := check_row(row, c))] == []


def test_the_cli_gives_each_file_named_a_row_of_its_table(corpus):
    proc = musicspeech("classify", *[c.path for c in corpus])  # the folder named like a file, .xyz, missing, too long
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["verdict", "conf", "duration", "file"] and len(rows) == len(corpus)
    wrong = []
    for row, case in zip(rows, corpus, strict=True):
        verdict = row.split()[0]
        if case.expect == ERROR:
            right = verdict == "error" and case.name in row
        else:
            right = right_verdict(verdict, case) and row.endswith(shown(case.path))
        if not right:
            wrong.append((case.name, row))
    assert wrong == []
    failed = sum(c.expect == ERROR for c in corpus)
    assert proc.stderr == f"{len(corpus) - failed} classified, {failed} failed\n"
    assert proc.returncode == 1


def test_the_cli_stops_quietly_when_its_reader_goes_away(folder, listed):
    """`musicspeech classify ... | head -1`: the rest of the output has nowhere to go (a broken pipe)."""
    proc = subprocess.Popen(
        [str(MUSICSPEECH), "classify", str(folder), "--format", "json"],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=TIMEOUT_S)
    assert json.loads(first)["path"] == str(listed[0].path)
    assert err == b"" and proc.returncode == 1


@pytest.mark.slow
def test_the_cli_gives_a_file_alone_its_exit_status(corpus):
    """One file per run (a run takes seconds: one case of each kind)."""
    kinds = [
        "speech 192000 hz.wav",
        os.fsdecode("Chanson d'\xe9t\xe9 (latin-1 name).wav".encode("latin-1")),
        "one sample.wav",
        "mp3 cut short with junk appended.mp3",
        "empty.flac",
        "text.mp3",
        "image.wav",
        "unknown format.xyz",
        "song.wav",
        "not there.wav",
    ]
    cases = [c for c in corpus if c.name in kinds] + [c for c in corpus if c.name.startswith("a name too long")]
    assert len(cases) == len(kinds) + 1
    for case in cases:
        proc = musicspeech("classify", case.path, "--format", "json")
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert (proc.returncode, proc.stderr, len(rows)) == ({RESULT: 0, ERROR: 1}[case.expect], "", 1), case.name
        assert check_row(rows[0], case) is None, case.name


@pytest.mark.slow
def test_the_cli_classifies_an_hour_long_file(hour_long):
    proc = musicspeech("classify", hour_long.path, "--format", "json")
    assert (proc.returncode, proc.stderr) == (0, "")
    row = json.loads(proc.stdout)
    assert row["label"] == "speech" and row["duration_s"] == pytest.approx(3600.0)


# the app ---------------------------------------------------------------------------------------------------


class WatchForCrashes:
    """The app's handler of unexpected errors, installed as in the app: any error outside a task shows its
    dialog (`box`); errors a task met are logged by `musicspeech.gui.tasks` (seen through `caplog`)."""

    def __init__(self, window, tmp_path):
        self.saved = sys.excepthook, threading.excepthook
        self.handler = CrashHandler(tmp_path / "musicspeech.log", window)
        self.handler.install()

    def close(self) -> None:
        sys.excepthook, threading.excepthook = self.saved

    def dialog(self) -> str | None:
        return self.handler.box.text() if self.handler.box is not None else None


@pytest.fixture
def crashes(window, tmp_path):
    watch = WatchForCrashes(window, tmp_path)
    yield watch
    watch.close()


def errors_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_corpus_dropped_on_the_classify_tab_fills_every_row(
    window, qtbot, folder, listed, crashes, caplog, tmp_path
):
    tab = window.classify_tab
    messages = []
    tab.status.connect(messages.append)
    drop(window, [folder])
    assert tab.table.rowCount() == len(listed)
    qtbot.waitUntil(lambda: len(tab.results) == len(listed) and not tab.task.running, timeout=TIMEOUT_S * 1000)
    rows = {tab.table.item(r, FILE).data(Qt.UserRole): r for r in range(tab.table.rowCount())}
    assert sorted(rows) == [c.path for c in listed]  # the paths themselves, a name that is not UTF-8 too
    wrong = []
    for case in listed:
        r = rows[case.path]
        verdict, status = tab.table.item(r, VERDICT), tab.table.item(r, STATUS).text()
        if case.expect == ERROR:
            right = verdict is None and one_line_naming(status, case)
        else:
            right = verdict is not None and right_verdict(verdict.text(), case)
        if not right:
            wrong.append((case.name, status))
    assert wrong == []
    latin1 = next(c for c in listed if readable(c.name) != c.name)
    assert tab.table.item(rows[latin1.path], FILE).text() == "Chanson d'\ufffdt\ufffd (latin-1 name).wav"
    assert messages[-1] == f"classified {len(listed)} files"
    task = tab.export(tmp_path / "results.json", "JSON with segments (*.json)")  # every name, in a readable file
    qtbot.waitUntil(lambda: not task.running, timeout=30_000)  # exports are written on a worker
    exported = json.loads((tmp_path / "results.json").read_text())
    assert sorted(row["path"] for row in exported) == sorted(str(c.path) for c in listed)
    assert crashes.dialog() is None and errors_logged(caplog) == []


def test_every_corpus_file_opened_in_inspect_shows_plots_or_says_why_not(window, qtbot, corpus, crashes, caplog):
    inspect = window.inspect_tab
    messages = []
    inspect.status.connect(messages.append)
    width = window.width()
    wrong = []
    for case in corpus:
        messages.clear()
        window.open_in_inspect(case.path)
        qtbot.waitUntil(lambda: not inspect.task.running, timeout=TIMEOUT_S * 1000)
        problem = inspect_problem(inspect, case, messages)
        if problem:
            wrong.append((case.name, problem))
        assert window.isVisible() and crashes.dialog() is None, case.name
    assert wrong == []
    assert errors_logged(caplog) == []
    assert window.width() == width  # the longest name and message did not widen the window


def inspect_problem(inspect, case, messages) -> str | None:
    """What is wrong with what the Inspect tab shows for `case`, or None."""
    text = inspect.verdict.text()
    if case.expect == ERROR:
        if inspect.current is not None or inspect.wave_curve_max.getData()[0] is not None or inspect.player:
            return f"plots or a player left from another clip ({text})"
        if not text.startswith(f"cannot show {case.name}: ") or "\n" in text:
            return f"verdict line {text!r}"
        if len(messages) != 1 or not one_line_naming(messages[0], case):
            return f"status {messages}"
        return None
    shown = inspect.current
    if shown is None or shown.waveform.source != str(case.path) or shown.prediction is None:
        return f"not shown ({text}; {messages})"
    if not inspect.play_button.isEnabled() or len(inspect.wave_curve_max.getData()[0]) == 0:
        return "no waveform or nothing to play"
    if not text.startswith(case.label or shown.prediction.label):
        return f"verdict {text!r}"
    return None


@pytest.mark.slow
def test_an_hour_long_file_in_both_tabs(window, qtbot, hour_long, crashes, caplog):
    tab = window.classify_tab
    tab.add_paths([hour_long.path])
    qtbot.waitUntil(lambda: len(tab.results) == 1, timeout=TIMEOUT_S * 1000)
    assert tab.table.item(0, VERDICT).text() == "speech" and tab.table.item(0, DURATION).text() == "60:00.0"
    inspect = window.inspect_tab
    window.open_in_inspect(hour_long.path)
    qtbot.waitUntil(lambda: inspect.current is not None, timeout=TIMEOUT_S * 1000)
    shown = inspect.current
    assert shown.waveform.duration_s == pytest.approx(3600.0) and inspect.verdict.text().startswith("speech")
    assert len(shown.spectrogram_db) <= SPECTROGRAM_COLUMNS  # drawn pooled, not 360,000 frames
    placed = inspect.spec_image.mapRectToParent(inspect.spec_image.boundingRect())
    assert placed.width() == pytest.approx(3600.0, abs=1.0)  # and placed over the whole hour
    assert inspect.timeline_curve.getData()[0][-1] == pytest.approx(3600.0)
    assert inspect.player.duration_s == pytest.approx(3600.0)
    assert crashes.dialog() is None and errors_logged(caplog) == []


def test_a_long_clips_spectrogram_columns_are_the_loudest_of_their_frames(music_clip):
    x = np.tile(load_audio(music_clip, 16000).samples, 4)  # 2 minutes: 11,998 frames
    spec = FeatureSpec(kind="logmel", n_mels=128, fmin_hz=0.0, fmax_hz=8000.0)
    db, per_column = spectrogram_db(x, spec)
    full = (20 / np.log(10)) * frame_features(x, spec)
    assert per_column == 4 and len(db) == 3000
    np.testing.assert_allclose(db, np.maximum.reduceat(full, np.arange(0, len(full), 4), axis=0), atol=1e-3)
    short, one = spectrogram_db(x[: 30 * 16000], spec)  # 30 s: every frame its own column
    assert one == 1
    np.testing.assert_allclose(short, full[: len(short)], atol=1e-3)


def test_decoding_damaged_mp3s_on_worker_threads_prints_no_decoder_notes(corpus):
    """The app decodes on worker threads (Classify's pipeline decodes two files at once) in a process whose
    stderr is the user's terminal or log: mpg123's notes about damaged MP3s ("Note: Illegal Audio-MPEG-Header")
    must not reach it, while a real error written to fd 2 in the middle of it all still does. Run for real in a
    child process, whose fd 2 is a pipe read here; so that the check means something, the same files read with
    soundfile directly do print those notes."""
    damaged = [str(c.path) for c in corpus if c.path.suffix == ".mp3" and ("junk" in c.name or "cut" in c.name)]
    assert len(damaged) >= 3
    code = (
        "import os, sys, soundfile as sf\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from musicspeech.core.audio import load_audio\n"
        "from musicspeech.core.errors import AudioError\n"
        "from musicspeech.core.quiet import DECODER_NOISE, filtered_stderr\n"
        "def read(p):\n"
        "    if p == 'real':\n"
        "        with filtered_stderr(DECODER_NOISE):\n"
        "            os.write(2, b'a real problem\\n')\n"
        "        return 0\n"
        "    try:\n"
        "        return len(load_audio(p, 16000).samples)\n"
        "    except AudioError:\n"
        "        return 0\n"
        "files = sys.argv[2:]\n"
        "if sys.argv[1] == 'app':\n"
        "    files = files * 3\n"
        "    files.insert(len(files) // 2, 'real')\n"
        "with ThreadPoolExecutor(2) as pool:\n"
        "    print(sum(pool.map(read, files)))\n"
        "if sys.argv[1] == 'app':  # the overlap made certain: a note written after the first capture ended\n"
        "    import threading\n"
        "    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()\n"
        "    def a():\n"
        "        with filtered_stderr(DECODER_NOISE):\n"
        "            a_in.set(); b_in.wait()\n"
        "        a_out.set()\n"
        "    def b():\n"
        "        a_in.wait()\n"
        "        with filtered_stderr(DECODER_NOISE):\n"
        "            b_in.set(); a_out.wait()\n"
        "            os.write(2, b'Note: Trying to resync...\\n')\n"
        "    threads = [threading.Thread(target=a), threading.Thread(target=b)]\n"
        "    [t.start() for t in threads]; [t.join() for t in threads]\n"
        "if sys.argv[1] == 'raw':\n"
        "    for p in sys.argv[2:]:\n"
        "        sf.read(p)\n"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", code, "app", *damaged], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert quiet.returncode == 0 and int(quiet.stdout) > 0, quiet.stderr
    assert quiet.stderr == "a real problem\n"
    raw = subprocess.run(
        [sys.executable, "-c", code, "raw", *damaged], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert "Note: " in raw.stderr or "libmpg123" in raw.stderr  # libsndfile's decoder does print them
