"""Exports for other programs: .keras, .tflite and the preprocessing JSON, checked against the app's own model."""

import json

import numpy as np
import pytest
import soundfile as sf
import soxr

from musicspeech.core.export import export, parity
from musicspeech.core.features import frame_features, windows
from musicspeech.core.inference import Classifier
from musicspeech.core.model import ModelBundle

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    bundle = ModelBundle.load(trained[1])
    return bundle, export(bundle, tmp_path_factory.mktemp("export"), "subset")


def test_exports_agree_with_the_bundle(exported, music_clip, speech_clip):
    bundle, paths = exported
    assert {p.suffix for p in paths.values()} == {".keras", ".tflite", ".json"}
    spec = bundle.features
    ref = np.concatenate(
        [windows(frame_features(Classifier(bundle).load(p).samples, spec), spec) for p in (music_clip, speech_clip)]
    )
    diffs = parity(bundle, paths, ref)
    assert diffs["keras"] < 1e-5 and diffs["tflite"] < 1e-4


def test_another_program_can_follow_the_preprocessing_json(exported):
    """Re-implement the features from the JSON alone with TensorFlow's own signal ops, run the .tflite export,
    and get the app's verdicts."""
    from musicspeech.core.tf_runtime import tf

    bundle, paths = exported
    recipe = json.loads(paths["preprocessing"].read_text())
    f = recipe["features"]
    d = recipe["derived"]
    interpreter = tf.lite.Interpreter(model_path=str(paths["tflite"]))
    classifier = Classifier(bundle)
    for path in (GTZAN_MUSIC / "jazz.wav", GTZAN_SPEECH / "news1.wav"):
        x, rate = sf.read(path, dtype="float32")
        x = soxr.resample(x, rate, f["rate_hz"], quality="HQ").astype(np.float32)
        stft = tf.abs(tf.signal.stft(x, f["frame_length"], f["frame_step"], f["fft_length"]))
        if f["kind"] == "logmel":
            mel = tf.signal.linear_to_mel_weight_matrix(
                f["n_mels"], f["fft_length"] // 2 + 1, f["rate_hz"], f["fmin_hz"], f["fmax_hz"]
            )
            feats = tf.math.log(tf.matmul(stft, mel) + f["log_offset"]).numpy()
        else:
            feats = stft.numpy()
        n = d["frames_per_window"]
        wins = np.stack([feats[i : i + n] for i in range(0, len(feats) - n + 1, d["hop_frames"])])
        if f["window_norm"]:
            wins = wins - wins.mean(axis=(1, 2), keepdims=True)
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(wins.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], wins.astype(np.float32))
        interpreter.invoke()
        probs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).mean(axis=0)
        ours = classifier.classify_path(path)
        assert recipe["labels"][int(np.argmax(probs))] == ours.label
        assert np.max(np.abs(probs - ours.probabilities)) < 0.05
