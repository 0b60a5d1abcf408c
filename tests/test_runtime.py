"""Classifying without TensorFlow: the bundle's TensorFlow Lite network run by LiteRT gives the Keras network's
probabilities, from several threads at once; a file of the first format (no TensorFlow Lite network) is refused
in one line without loading TensorFlow, and a damaged or swapped network is refused."""

import hashlib
import json
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from musicspeech.core.errors import ModelError
from musicspeech.core.features import frame_features, windows
from musicspeech.core.inference import Classifier
from musicspeech.core.model import ModelBundle
from musicspeech.core.paths import shipped_model_path

from .conftest import REPO


def rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    change(files)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return dst


def clip_windows(classifier, *clips):
    spec = classifier.spec
    return np.concatenate([windows(frame_features(classifier.load(c).samples, spec), spec) for c in clips])


def test_the_tflite_network_gives_the_keras_networks_probabilities(trained, music_clip, speech_clip):
    _, path = trained
    bundle = ModelBundle.load(path)
    classifier = Classifier.from_path(path)
    x = clip_windows(classifier, music_clip, speech_clip)
    np.testing.assert_allclose(classifier.window_probabilities(x), bundle.model(x).numpy(), atol=1e-5)


def test_classifying_a_saved_model_needs_no_tensorflow(trained, speech_clip):
    code = (
        "import sys, json; from musicspeech.core.inference import Classifier; "
        f"c = Classifier.from_path({str(trained[1])!r}); (r,) = c.classify_files([{str(speech_clip)!r}]); "
        "print(json.dumps([r.prediction.label, 'tensorflow' in sys.modules, 'keras' in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == ["speech", False, False]
    assert proc.stderr == ""  # LiteRT's notice about its CPU delegate is not passed on


def test_many_threads_classify_at_once_with_the_same_results(trained, music_clip, speech_clip):
    classifier = Classifier.from_path(trained[1])
    x = clip_windows(classifier, music_clip, speech_clip)
    expected = classifier.window_probabilities(x)
    results, errors = {}, []

    def work(i):
        try:  # each thread its own batch sizes, so each resizes its interpreter
            results[i] = np.concatenate(
                [classifier.window_probabilities(x[a : a + 7 + i]) for a in range(0, len(x), 7 + i)]
            )
        except Exception as e:  # pragma: no cover  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(6):
        np.testing.assert_allclose(results[i], expected, atol=1e-6)


def test_a_model_file_of_the_first_format_is_refused_in_one_line_without_tensorflow(tmp_path):
    def first_format(files):
        meta = json.loads(files["bundle.json"])
        meta["format_version"] = 1
        del meta["tflite_sha256"]
        files["bundle.json"] = json.dumps(meta).encode()
        del files["model.tflite"]

    old = rewrite(shipped_model_path(), tmp_path / "old.msmodel", first_format)
    code = (
        "import sys, json\n"
        "from musicspeech.core.errors import ModelError\n"
        "from musicspeech.core.inference import Classifier\n"
        "try:\n"
        f"    Classifier.from_path({str(old)!r})\n"
        "except ModelError as e:\n"
        "    print(json.dumps([str(e), 'tensorflow' in sys.modules, 'keras' in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    message, tensorflow, keras = json.loads(proc.stdout)
    assert message == (
        "old.msmodel: this model file is of an old format (1, without a TensorFlow Lite network inside) that this "
        "app no longer reads; train the model again (Train tab, or musicspeech train)"
    )
    assert not tensorflow and not keras
    with pytest.raises(ModelError, match="old format") as info:
        ModelBundle.load(old)  # training's way in refuses it too, in the same line
    assert str(info.value) == message


def test_a_changed_or_damaged_tflite_network_is_refused(trained, tmp_path):
    def changed(files):
        files["model.tflite"] = files["model.tflite"][:-64] + bytes(64)

    with pytest.raises(ModelError, match="checksum mismatch"):
        Classifier.from_path(rewrite(trained[1], tmp_path / "changed.msmodel", changed))

    def damaged_with_its_checksum(files):
        junk = b"not a flatbuffer" * 100
        meta = json.loads(files["bundle.json"])
        meta["tflite_sha256"] = hashlib.sha256(junk).hexdigest()
        files.update({"model.tflite": junk, "bundle.json": json.dumps(meta).encode()})

    with pytest.raises(ModelError, match="cannot be loaded") as info:
        Classifier.from_path(rewrite(trained[1], tmp_path / "damaged.msmodel", damaged_with_its_checksum))
    assert "\n" not in str(info.value)

    def other_window(files):  # settings that do not fit the network
        meta = json.loads(files["bundle.json"])
        meta["features"]["window_s"] = 2.0
        files["bundle.json"] = json.dumps(meta).encode()

    with pytest.raises(ModelError, match="does not match its settings"):
        Classifier.from_path(rewrite(trained[1], tmp_path / "other.msmodel", other_window))
