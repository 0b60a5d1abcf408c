"""The command line, run as a user runs it: in a subprocess, on real audio, with a real model."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO


def run(*args, check_code=None, timeout=300, env=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "musicspeech", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check_code is not None:
        assert proc.returncode == check_code, proc.stderr
    return proc


def test_help_is_instant_and_imports_neither_qt_nor_tensorflow():
    code = (
        "import sys, contextlib, io, musicspeech\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    musicspeech.main(['--help'])\n"
        "print(out.getvalue()); print(sorted(m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert "classify" in proc.stdout and "train" in proc.stdout and "evaluate" in proc.stdout
    assert proc.stdout.strip().endswith("[]")


def test_classify_json_one_object_per_line_and_failures_do_not_stop_the_rest(
    trained, music_clip, speech_clip, tmp_path
):
    bad = tmp_path / "notes.mp3"
    bad.write_text("this is not audio")
    proc = run("classify", music_clip, bad, speech_clip, "--model", trained[1], "--format", "json")
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(music_clip), str(bad), str(speech_clip)]
    good = rows[0]
    assert set(good) == {"path", "label", "confidence", "probabilities", "shares", "duration_s", "segments"}
    assert good["label"] == "music" and rows[2]["label"] == "speech"
    assert set(good["probabilities"]) == {"music", "speech"}  # the model's labels (this one has no noise class)
    assert good["confidence"] == max(good["probabilities"].values())
    assert good["duration_s"] == pytest.approx(30.0, abs=0.01)
    assert set(good["segments"][0]) == {"start_s", "end_s", "label", "probabilities"}
    assert set(rows[1]) == {"path", "error"} and "notes.mp3" in rows[1]["error"] and "\n" not in rows[1]["error"]
    assert "Traceback" not in proc.stderr


def test_classify_a_folder_as_table_and_csv(trained, subset_dir):
    proc = run("classify", subset_dir / "speech", "--model", trained[1], check_code=0)
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["verdict", "conf"] and len(lines) == 13
    assert sum(line.startswith("speech") for line in lines[1:]) >= 11
    proc = run("classify", subset_dir / "music", "--model", trained[1], "--format", "csv", check_code=0)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 12 and set(rows[0]) >= {"path", "label", "confidence", "p_music", "p_speech"}
    assert sum(r["label"] == "music" for r in rows) >= 11


@pytest.mark.slow  # trains 2 epochs on 24 clips (~40 s); quick: test_saving's train onto a full disk
def test_train_then_evaluate_from_the_command_line(subset_dir, tmp_path):
    model = tmp_path / "cli.msmodel"
    proc = run("train", "--data", subset_dir, "--epochs", "2", "--out", model, check_code=0)
    assert model.is_file()
    assert "music: 12 clips" in proc.stderr and "epoch 2/2" in proc.stderr
    assert "validation: clip accuracy" in proc.stdout
    proc = run("evaluate", subset_dir, "--model", model, "--format", "json", check_code=0)
    result = json.loads(proc.stdout)
    assert result["clips"] == 24 and result["clip_accuracy"] >= 0.75
    assert sum(map(sum, result["confusion"])) == 24 and result["called"] == ["music", "speech", "silence"]


def test_the_trainings_evaluation_is_what_evaluate_says_of_the_saved_model(trained, tmp_path):
    """`musicspeech evaluate` of the saved model on the held-out clips calls each clip what the training's
    evaluation called it (both are the app's analyser on the same network); its JSON names the columns."""
    result, model = trained
    ev = result.evaluation
    tree = tmp_path / "held-out"
    for o in ev.clips:
        (tree / o.name).parent.mkdir(parents=True, exist_ok=True)
        (tree / o.name).symlink_to(o.source)
    said = json.loads(run("evaluate", tree, "--model", model, "--format", "json", check_code=0).stdout)
    assert said["called"] == list(ev.called) == ["music", "speech", "silence"]
    assert said["confusion"] == ev.confusion and said["clips"] == len(ev.clips) == 6
    assert said["clip_accuracy"] == ev.clip_accuracy and said["window_accuracy"] == ev.window_accuracy
    assert [(w["name"], w["predicted"]) for w in said["wrong"]] == [(o.name, o.predicted) for o in ev.wrong]


def test_clear_errors_for_a_missing_model_and_bad_data(tmp_path, music_clip):
    proc = run("classify", music_clip, "--model", tmp_path / "nope.msmodel", check_code=2)
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.msmodel'}: no such model file"
    proc = run("train", "--data", tmp_path / "nothing", check_code=2)
    assert "no such file or folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # prepares and trains (~15 s); quick: test_tfds_source's download
def test_download_then_train_on_tfds_from_the_command_line(tmp_path, gtzan_dir):
    """`download` fetches through tensorflow-datasets (from a local mirror), and `train --data tfds` uses it."""
    import tarfile

    import soundfile as sf

    from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, SUBSET_MUSIC, SUBSET_SPEECH
    from .test_tfds_source import Server

    tree = tmp_path / "archive" / "music_speech"
    for folder, names in ((GTZAN_MUSIC, SUBSET_MUSIC[:4]), (GTZAN_SPEECH, SUBSET_SPEECH[:4])):
        (tree / folder.name).mkdir(parents=True)
        for name in names:
            x, rate = sf.read(folder / f"{name}.wav", dtype="int16", frames=4 * 22050)
            sf.write(tree / folder.name / f"{name}.wav", x, rate, subtype="PCM_16")
    archive = tmp_path / "music_speech.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="music_speech")
    env = {"XDG_DATA_HOME": str(tmp_path / "home")}  # where the app keeps tensorflow-datasets' data
    server = Server(archive.read_bytes())
    try:
        proc = run("download", "--url", server.url, env=env, check_code=2)  # not the original archive
        assert "not the GTZAN archive" in proc.stderr and "Traceback" not in proc.stderr
        proc = run("download", "--url", server.url, "--no-checksum", env=env, check_code=0)
    finally:
        server.close()
    assert "GTZAN music/speech is ready in" in proc.stdout and str(tmp_path / "home") in proc.stdout
    model = tmp_path / "tfds.msmodel"
    proc = run("train", "--data", "tfds", "--epochs", "1", "--out", model, env=env, check_code=0)
    assert "tensorflow-datasets gtzan_music_speech: 4 music, 4 speech" in proc.stderr
    assert model.is_file()


def test_evaluate_lists_the_clips_it_got_wrong_as_a_table(tmp_path, gtzan_dir):
    """The app's verdicts: a silent file filed as speech is called silence, in a column of its own, and wrong."""
    from .conftest import GTZAN_MUSIC, GTZAN_SPEECH
    from .test_training import silent_wav

    tree = tmp_path / "data"
    for label, src in (("music", GTZAN_MUSIC / "jazz.wav"), ("speech", GTZAN_SPEECH / "acomic.wav")):
        (tree / label).mkdir(parents=True)
        (tree / label / src.name).symlink_to(src)
    (tree / "speech" / "blues.wav").symlink_to(GTZAN_MUSIC / "blues.wav")  # music, filed as speech
    silent_wav(tree / "speech" / "quiet.wav")  # digital silence, filed as speech
    proc = run("evaluate", tree, check_code=0)
    lines = proc.stdout.splitlines()
    assert lines[1].split() == ["true", "\\", "called", "music", "speech", "silence"]
    # the shipped model has a noise class: a row of its own, folded into silence as a column
    assert [line.split()[0] for line in lines[2:5]] == ["music", "noise", "speech"]
    assert lines[4].split() == ["speech", "1", "1", "1"]  # blues called music, acomic speech, quiet silence
    start = lines.index("wrong (2 of 4 clips):")
    assert lines[start + 1].split() == ["true", "called", "conf", "clip"]
    wrong = sorted(line.split() for line in lines[start + 2 : start + 4])
    assert wrong[0][0:2] == ["speech", "music"] and wrong[0][-1] == "speech/blues.wav"
    assert wrong[1] == ["speech", "silence", "100%", "speech/quiet.wav"]
    assert "{" not in proc.stdout  # no Python dicts
