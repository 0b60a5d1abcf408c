"""scripts/make_model.py, the one command that rebuilds the shipped model: the teacher first, then the distilled
network, run for real on a few GTZAN clips with a short schedule."""

import json
import subprocess
import sys
import zipfile

import pytest

from musicspeech.core.inference import Classifier
from musicspeech.core.recipes import SHIPPED_TEACHER_WEIGHT

from .conftest import GTZAN_DIR, REPO
from .test_yamnet import WEIGHTS_DIR

# the four clips the script checks the exports' parity on, and six more (five of each class: five folds)
MUSIC = ["blues", "jazz", "classical", "rock", "bigband"]
SPEECH = ["acomic", "news1", "comedy", "voices", "allison"]


def subset(folder):
    for label, names in (("music", MUSIC), ("speech", SPEECH)):
        (folder / label).mkdir(parents=True)
        for name in names:
            (folder / label / f"{name}.wav").symlink_to(GTZAN_DIR / "music_speech" / f"{label}_wav" / f"{name}.wav")
    return folder


def make_model(*args):
    command = [sys.executable, str(REPO / "scripts" / "make_model.py"), "--epochs", "2", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow  # two trainings (about a minute); the teacher itself is tested in test_distillation.py
def test_make_model_trains_the_teacher_then_the_shipped_network_it_teaches(tmp_path):
    data, out, teacher = subset(tmp_path / "data"), tmp_path / "out", tmp_path / "teacher" / "teacher.msmodel"
    said = make_model("--data", data, "--out", out, "--teacher", teacher, "--yamnet", WEIGHTS_DIR)
    assert "teacher: training the YAMNet head" in said and teacher.is_file()
    with zipfile.ZipFile(teacher) as zf:
        assert json.loads(zf.read("bundle.json"))["features"]["kind"] == "yamnet"
    assert sorted(p.name for p in out.iterdir()) == [
        "musicspeech.keras",
        "musicspeech.msmodel",
        "musicspeech.preprocessing.json",
        "musicspeech.tflite",
    ]
    model = Classifier.from_path(out / "musicspeech.msmodel")
    info = model.bundle.info
    assert info["training"]["teacher"] == {
        "name": "teacher.msmodel",
        "weight": SHIPPED_TEACHER_WEIGHT,
        "true_only": [],
    }
    assert info["recipe"] == "shipped" and model.bundle.features.kind == "logmel"
    prediction = model.classify_path(GTZAN_DIR / "music_speech" / "music_wav" / "blues.wav")
    assert prediction.label in ("music", "speech")

    # a teacher already there is used as it is, if it was trained on the same clips; --no-teacher: the recipe alone
    teacher_bytes = teacher.read_bytes()
    said = make_model("--data", data, "--out", out, "--teacher", teacher, "--yamnet", WEIGHTS_DIR)
    assert f"teacher: using {teacher} as it is" in said and teacher.read_bytes() == teacher_bytes
    other = subset(tmp_path / "other")
    (other / "speech" / "allison.wav").unlink()
    (other / "speech" / "amal.wav").symlink_to(GTZAN_DIR / "music_speech" / "speech_wav" / "amal.wav")
    command = [sys.executable, str(REPO / "scripts" / "make_model.py"), "--data", str(other), "--out", str(out)]
    refused = subprocess.run([*command, "--teacher", str(teacher)], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "was trained on other clips than this run's" in refused.stderr
    said = make_model("--data", data, "--out", out, "--no-teacher")
    assert "teacher" not in said
    assert "teacher" not in Classifier.from_path(out / "musicspeech.msmodel").bundle.info["training"]
