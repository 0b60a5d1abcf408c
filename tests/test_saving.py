"""Saving when it fails for real: a read-only folder and a full disk (real mounts, `faulty_folders`), a cancel, and
a process killed mid-write. Each time the previous file is left byte for byte, nothing half-written takes its
name, and the user reads one line naming the file and the cause, from the core, the CLI and Qt's settings."""

import csv
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings

from musicspeech.core.atomic import remove_strays, write_bytes, write_text
from musicspeech.core.audio import Waveform, load_audio, write_wav
from musicspeech.core.datasets import add_to_class_folder, from_archive, from_folder, split_train_val
from musicspeech.core.errors import Cancelled, DatasetError, SaveError
from musicspeech.core.export import export
from musicspeech.core.feature_cache import FeatureCache
from musicspeech.core.features import FeatureSpec
from musicspeech.core.live import LiveAnalyzer, LiveListener, LiveSession, LiveSettings, SegmentLog
from musicspeech.core.model import ModelBundle, keras_bytes
from musicspeech.core.paths import shipped_model_path
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import clip_features

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO, link_subset

LEAVE = 16 * 1024  # free bytes left on a "full" disk: every file saved here is larger, so it fails midway


@pytest.fixture(scope="module")
def bundle(trained):
    return ModelBundle.load(trained[1])  # a copy: saving sets its path


@pytest.fixture(scope="module")
def recording(music_clip):
    x, rate = sf.read(music_clip, dtype="float32", frames=10 * 22050)
    return Waveform(x, rate, "recording")


def results_json(n=400):
    return json.dumps([{"path": f"/music/{i}.wav", "label": "music", "confidence": 0.9} for i in range(n)])


# What the app saves, each by its own code: (file name, save(bundle, recording, target)).
SAVERS = {
    "model bundle": ("model.msmodel", lambda b, r, target: b.save(target)),
    "recording (WAV)": ("take.wav", lambda b, r, target: write_wav(target, r)),
    "export (.keras first)": ("subset.keras", lambda b, r, target: export(b, target.parent, "subset")),
    "results (CSV, JSON, labels)": ("results.json", lambda b, r, target: write_text(target, results_json())),
}


def previous_file(kind, bundle, recording, target):
    """The file a save replaces, as that save writes it (an export's .keras without its slow .tflite)."""
    if kind.startswith("export"):
        write_bytes(target, keras_bytes(bundle.model, target))
    else:
        SAVERS[kind][1](bundle, recording, target)
    return target.read_bytes()


@pytest.mark.parametrize("kind", SAVERS)
def test_saving_into_a_read_only_folder_says_so_and_keeps_the_previous_file(kind, bundle, recording, read_only_folder):
    name, save = SAVERS[kind]
    target = read_only_folder.path / name
    before = previous_file(kind, bundle, recording, target)
    read_only_folder.freeze()
    with pytest.raises(SaveError) as error:
        save(bundle, recording, target)
    assert str(error.value) == f"cannot save {target}: {read_only_folder.problem}"
    assert target.read_bytes() == before
    assert sorted(p.name for p in read_only_folder.path.iterdir()) == [name]


@pytest.mark.parametrize("kind", SAVERS)
def test_saving_onto_a_full_disk_says_so_keeps_the_previous_file_and_frees_what_it_wrote(
    kind, bundle, recording, small_disk
):
    name, save = SAVERS[kind]
    target = small_disk.path / name
    before = previous_file(kind, bundle, recording, target)
    assert len(before) > LEAVE  # the new file (as large) runs out of room midway
    small_disk.fill(leave=LEAVE)
    with pytest.raises(SaveError) as error:
        save(bundle, recording, target)
    assert str(error.value) == f"cannot save {target}: the disk is full"
    assert target.read_bytes() == before
    assert small_disk.files() == [name] and small_disk.free() == LEAVE
    (small_disk.path / ".filler").unlink()  # room again: the same save works
    save(bundle, recording, target)
    written = ["subset.keras", "subset.preprocessing.json", "subset.tflite"] if kind.startswith("export") else [name]
    assert small_disk.files() == written


def test_a_clip_added_to_a_read_only_or_full_training_folder_says_so(recording, read_only_folder, small_disk):
    for folder in (read_only_folder, small_disk):
        kept = add_to_class_folder(folder.path, "music", recording)
        before = kept.read_bytes()
        if folder is read_only_folder:
            folder.freeze()
        else:
            folder.fill(leave=LEAVE)
        with pytest.raises(SaveError, match=r"^cannot save .*/music/live-.*\.wav: ") as error:
            add_to_class_folder(folder.path, "music", recording)
        problem = read_only_folder.problem if folder is read_only_folder else "the disk is full"
        assert str(error.value).endswith(f": {problem}")
        assert kept.read_bytes() == before and [p.name for p in (folder.path / "music").iterdir()] == [kept.name]


# Cancel ------------------------------------------------------------------------------------------------------


def test_a_wav_save_cancelled_midway_keeps_the_previous_file(recording, tmp_path):
    target = tmp_path / "take.wav"
    write_wav(target, Waveform(recording.samples[:22050], recording.rate_hz))
    before = target.read_bytes()
    checks = []

    def cancelled():
        checks.append(1)
        return len(checks) > 2  # after two blocks were written

    with pytest.raises(Cancelled):
        write_wav(target, recording, cancelled=cancelled)
    assert len(checks) == 3 and target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]


LONG_WAV_WRITER = """
import signal, sys, time
import numpy as np
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl+C as in a terminal, even if started in the background
from musicspeech.core.audio import Waveform, write_wav
take = Waveform(np.random.default_rng(0).uniform(-0.5, 0.5, 48000 * 600).astype(np.float32), 48000)  # 10 min
blocks = 0
def cancelled():  # asked before each block: after 50 of them (6.5 of 57.6 MB), say so and wait mid-write
    global blocks
    blocks += 1
    if blocks == 50:
        print("mid-write", flush=True)
        time.sleep(600)
    return False
write_wav(sys.argv[1], take, cancelled=cancelled)
"""


def start_writer(code, *args):
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    line = proc.stdout.readline()
    assert line, proc.stderr.read().decode()
    return proc, line.decode().strip()


def test_ctrl_c_while_a_long_recording_is_written_keeps_the_previous_file_and_leaves_nothing(recording, tmp_path):
    target = tmp_path / "take.wav"
    write_wav(target, recording)
    before = target.read_bytes()
    proc, said = start_writer(LONG_WAV_WRITER, target)
    assert said == "mid-write" and len(list(tmp_path.glob(".take.wav.*.part"))) == 1
    proc.send_signal(signal.SIGINT)  # what Ctrl+C does to the CLI: KeyboardInterrupt inside the writer
    _, err = proc.communicate(timeout=60)
    assert b"KeyboardInterrupt" in err
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["take.wav"]


# A process killed mid-write ------------------------------------------------------------------------------------


def test_a_process_killed_while_writing_a_long_recording_leaves_the_previous_file_and_the_next_save_cleans_up(
    recording, tmp_path
):
    target = tmp_path / "take.wav"
    write_wav(target, recording)
    before = target.read_bytes()
    proc, said = start_writer(LONG_WAV_WRITER, target)
    assert said == "mid-write"
    [part] = tmp_path.glob(".take.wav.*.part")
    assert part.stat().st_size > 6_000_000
    assert remove_strays(tmp_path, "take.wav") == [] and part.exists()  # a save in progress is never touched
    proc.kill()
    proc.wait(timeout=30)
    assert target.read_bytes() == before
    assert sf.info(target).frames == len(recording.samples)
    assert part.exists()  # left by the killed writer, hidden, in nobody's way...
    write_wav(target, Waveform(recording.samples[:22050], recording.rate_hz))
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]  # ...until the next save of that name
    assert sf.info(target).frames == 22050


MODEL_SAVER = """
import sys
from musicspeech.core.model import ModelBundle
bundle = ModelBundle.load(sys.argv[1])
print("saving", flush=True)
while True:
    bundle.save(sys.argv[2])
"""


def test_a_process_killed_while_saving_a_model_leaves_a_model_that_loads(trained, tmp_path):
    target = tmp_path / "model.msmodel"
    target.write_bytes(trained[1].read_bytes())
    proc, said = start_writer(MODEL_SAVER, trained[1], target)
    assert said == "saving"
    try:
        for _ in range(20_000):  # stop the saver until it is caught with a half-written model (a few tries)
            if any(tmp_path.glob(".model.msmodel.*.part")):
                proc.send_signal(signal.SIGSTOP)
                parts = list(tmp_path.glob(".model.msmodel.*.part"))
                if parts and parts[0].stat().st_size > 0:
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.001)
        else:
            pytest.fail("the saver was never caught mid-write")
        before = target.read_bytes()  # the previous file of the save in flight
        assert remove_strays(tmp_path, "model.msmodel") == []  # locked by the stopped saver
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert target.read_bytes() == before
    assert ModelBundle.load(target).labels == ("music", "speech")
    assert parts[0].exists()
    ModelBundle.load(trained[1]).save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["model.msmodel"]


# The live segment log (appended, not replaced) ------------------------------------------------------------------


def segment_rows(path):
    return list(csv.reader(path.open(newline="")))


def speech_and_music(seconds):
    speech = load_audio(GTZAN_SPEECH / "male.wav", 16000).samples[: seconds * 16000]
    music = load_audio(GTZAN_MUSIC / "corea.wav", 16000).samples[: seconds * 16000]
    return speech, music


def fill_log(path, classifier, seconds=10):
    """Log real segments (speech, then music) as live mode does; returns them."""
    log = SegmentLog(path)
    segments = []

    class Log(LiveListener):
        def segment(self, segment):
            log.write(segment)
            segments.append(segment)

    analyzer = LiveAnalyzer(classifier, LiveSettings(), Log())
    analyzer.feed(np.concatenate(speech_and_music(seconds)))
    analyzer.finish()
    log.close()
    return segments


class Problems(LiveListener):
    def __init__(self):
        self.said = []

    def problem(self, message):
        self.said.append(message)


@pytest.fixture(scope="module")
def classifier():
    from musicspeech.core.inference import Classifier

    return Classifier.from_path(shipped_model_path())


def test_a_segment_log_in_a_read_only_folder_says_so_and_is_left_as_it_was(classifier, read_only_folder):
    path = read_only_folder.path / "segments.csv"
    fill_log(path, classifier)
    before = path.read_bytes()
    read_only_folder.freeze()
    with pytest.raises(SaveError) as error:
        SegmentLog(path)
    assert str(error.value) == f"cannot save {path}: {read_only_folder.problem}"
    assert path.read_bytes() == before


def test_a_segment_log_on_a_full_disk_keeps_whole_rows_and_the_session_says_it_stopped(classifier, small_disk):
    path = small_disk.path / "segments.csv"
    fill_log(path, classifier)
    small_disk.fill()
    listener = Problems()
    session = LiveSession(classifier, LiveSettings(), listener=listener)
    session.log_segments(path)  # no device needed: the session's analyzer is fed directly
    speech, music = speech_and_music(3)
    kept, rows = path.read_bytes(), 0
    for i in range(400):  # the file's last page has room for some rows; then one is cut short by the full disk
        session.analyzer.feed(speech if i % 2 else music)
        if listener.said:
            break
        kept, rows = path.read_bytes(), len(segment_rows(path))
    assert listener.said == [f"segments are no longer logged: cannot save {path}: the disk is full"]
    assert session.log_error == f"cannot save {path}: the disk is full"
    assert rows > 2 and path.read_bytes() == kept  # the row that did not fit is gone entirely
    assert kept.endswith(b"\r\n") and all(len(r) == 5 for r in segment_rows(path))


def test_a_row_torn_by_a_crash_is_cut_off_when_the_log_is_opened_again(classifier, tmp_path):
    path = tmp_path / "segments.csv"
    first = fill_log(path, classifier)
    whole = path.read_bytes()
    with open(path, "ab") as f:  # what a power cut in the middle of a row leaves
        f.write(b"2026-01-01T00:00:00,12.300,14")
    second = fill_log(path, classifier)
    rows = segment_rows(path)
    assert path.read_bytes().startswith(whole) and rows[0] == list(SegmentLog.FIELDS)
    assert len(rows) == 1 + len(first) + len(second) and all(len(r) == 5 for r in rows)

    other = tmp_path / "mine.csv"  # somebody else's file without a last newline: its last line is kept
    other.write_bytes(b"a,b\n1,2")
    fill_log(other, classifier)
    assert other.read_bytes().startswith(b"a,b\n1,2\n")


# The training feature cache and extracted archives ----------------------------------------------------------


def test_a_full_or_read_only_feature_cache_only_makes_training_slower(tmp_path, small_disk, read_only_folder, caplog):
    data = from_folder(link_subset(tmp_path / "few", ["blues", "jazz"], ["acomic", "amal"]))
    train_clips, val_clips = split_train_val(data.clips, 0.5, 0)
    other = TrainSettings(features=FeatureSpec(window_norm=True))  # other features: another cache entry
    for folder, problem in ((small_disk, "the disk is full"), (read_only_folder, read_only_folder.problem)):
        cache = FeatureCache(folder.path)
        first = clip_features(train_clips, val_clips, TrainSettings(), cache=cache)
        [entry] = folder.path.glob("*.npz")
        before = entry.read_bytes()
        if folder is small_disk:
            folder.fill(leave=LEAVE)
            assert len(before) > LEAVE
        else:
            folder.freeze()
        caplog.clear()
        again = clip_features(train_clips, val_clips, other, cache=cache)
        assert len(again.train) == len(first.train) and len(again.val) == len(first.val)
        assert f"training features not kept in the cache: cannot save {folder.path}/" in caplog.text
        assert caplog.text.rstrip().endswith(problem)
        assert [p.name for p in folder.path.iterdir() if p.name != ".filler"] == [entry.name]
        assert entry.read_bytes() == before
        cached = clip_features(train_clips, val_clips, TrainSettings(), cache=cache)  # still read
        np.testing.assert_array_equal(cached.train[0][1], first.train[0][1])


def test_an_archive_extracted_onto_a_full_disk_or_into_a_read_only_folder_leaves_nothing(
    tmp_path, small_disk, read_only_folder
):
    archive = tmp_path / "music_speech.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for src in [GTZAN_MUSIC / "blues.wav", GTZAN_SPEECH / "acomic.wav"]:
            tar.add(src, arcname=f"music_speech/{src.parent.name}/{src.name}")
    small_disk.fill(leave=LEAVE)
    read_only_folder.freeze()
    for folder, problem in ((small_disk, "the disk is full"), (read_only_folder, read_only_folder.problem)):
        with pytest.raises(DatasetError) as error:
            from_archive(archive, cache_dir=folder.path)
        assert str(error.value) == f"cannot extract {archive} into {folder.path}: {problem}"
        assert [p.name for p in folder.path.iterdir() if p.name != ".filler"] == []


# The command line ------------------------------------------------------------------------------------------------


def cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "musicspeech", *map(str, args)],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_into_a_read_only_folder_says_so_before_training(subset_dir, read_only_folder):
    target = read_only_folder.path / "model.msmodel"
    read_only_folder.freeze()
    proc = cli("train", "--data", subset_dir, "--epochs", "1", "--out", target)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: cannot save {target}: {read_only_folder.problem}"  # no training, no trace


@pytest.mark.slow  # a whole training run in a child (10-20 s); quick: the read-only folder test above
def test_train_onto_a_full_disk_says_so_and_keeps_the_previous_model(trained, subset_dir, small_disk):
    target = small_disk.path / "model.msmodel"
    before = write_bytes(target, trained[1].read_bytes()).read_bytes()
    small_disk.fill(leave=64 * 1024)  # room for the check before training, not for a model
    proc = cli("train", "--data", subset_dir, "--epochs", "1", "--out", target)
    assert proc.returncode == 2 and "epoch 1/1" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: cannot save {target}: the disk is full"
    assert target.read_bytes() == before and small_disk.files() == ["model.msmodel"]


def test_live_with_a_log_in_a_read_only_folder_says_so_before_listening(read_only_folder):
    log = read_only_folder.path / "segments.csv"
    read_only_folder.freeze()
    proc = cli("live", "--duration", "1", "--log", log)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: cannot save {log}: {read_only_folder.problem}"


# Settings: Qt writes them (QSaveFile) --------------------------------------------------------------------------


def test_qt_leaves_the_settings_file_as_it_was_in_a_read_only_folder_and_on_a_full_disk(read_only_folder, small_disk):
    for folder in (read_only_folder, small_disk):
        path = folder.path / "settings.ini"
        settings = QSettings(str(path), QSettings.IniFormat)
        settings.setValue("recent/files", ["/music/a.wav"])
        settings.sync()
        before = path.read_bytes()
        if folder is read_only_folder:
            folder.freeze()
        else:
            folder.fill(leave=8192)  # room for Qt's lock file, not for the settings
        settings.setValue("live/log_path", "x" * 100_000)
        settings.sync()
        assert settings.status() == QSettings.AccessError
        assert path.read_bytes() == before
        assert [p.name for p in folder.path.iterdir() if p.name != ".filler"] == ["settings.ini"]


SETTINGS_WRITER = """
import sys
from PySide6.QtCore import QSettings
settings = QSettings(sys.argv[1], QSettings.IniFormat)
for i in range(1_000_000):
    settings.setValue("live/log_path", str(i % 10) * 1_000_000)
    settings.sync()
    print(i, flush=True)
"""


def test_settings_survive_a_process_killed_while_writing_them(tmp_path):
    path = tmp_path / "settings.ini"
    proc = subprocess.Popen(
        [sys.executable, "-c", SETTINGS_WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    for _ in range(3):
        assert proc.stdout.readline()  # three saves done, the fourth under way
    proc.kill()
    proc.wait(timeout=30)
    settings = QSettings(str(path), QSettings.IniFormat)
    value = settings.value("live/log_path")
    assert len(value) == 1_000_000 and len(set(value)) == 1  # one whole value, not a mix or a cut
    settings.setValue("window/geometry", "x")
    settings.sync()  # Qt's lock file, left by the killed writer, is seen to be stale
    assert settings.status() == QSettings.NoError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.ini"]
