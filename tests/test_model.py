"""The network and the model bundle: round trip, atomic save, and refusal of bad model files."""

import json
import zipfile

import keras
import numpy as np
import pytest

from musicspeech.core.atomic import atomic_path
from musicspeech.core.errors import ModelError
from musicspeech.core.features import FeatureSpec
from musicspeech.core.model import ModelBundle, build_model
from musicspeech.core.recipes import ModelConfig


def test_the_seed_cnn_has_the_tutorial_layers():
    spec = FeatureSpec(kind="stft", frame_length=255, frame_step=128, fft_length=256)
    model = build_model(ModelConfig(), spec, 2)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer",
        "Reshape",
        "Resizing",
        "Normalization",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert model.input_shape == (None, 124, 129) and model.output_shape == (None, 2)
    probs = model(np.random.default_rng(0).random((3, 124, 129), dtype=np.float32)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_the_shipped_recipe_network_is_small_and_pools_over_time_and_frequency():
    from musicspeech.core.recipes import SHIPPED

    model = build_model(SHIPPED.model, SHIPPED.features, 2)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "Resizing" not in kinds and kinds.count("MaxPooling2D") == 2 and "GlobalAveragePooling2D" in kinds
    assert model.input_shape == (None, 98, 64) and model.count_params() < 150_000


def test_a_saved_bundle_loads_with_everything_it_needs(trained, tmp_path):
    result, path = trained
    bundle = ModelBundle.load(path)
    assert bundle.labels == ("music", "speech")
    assert bundle.features == result.bundle.features and bundle.config == result.bundle.config
    info = bundle.info
    assert info["metrics"]["clip_accuracy"] == result.evaluation.clip_accuracy
    assert set(info["data"]["train_clips"]).isdisjoint(info["data"]["val_clips"])
    assert info["training"]["seed"] == 1 and info["data"]["summary"]["counts"] == {"music": 12, "speech": 12}
    meta = json.loads(zipfile.ZipFile(path).read("bundle.json"))
    assert meta["saved"]["tensorflow"] and meta["saved"]["app"]
    x = np.random.default_rng(1).standard_normal((4, *bundle.features.window_shape)).astype(np.float32)
    np.testing.assert_allclose(bundle.model(x).numpy(), result.bundle.model(x).numpy(), atol=1e-6)


def test_an_interrupted_save_keeps_the_previous_file(tmp_path):
    target = tmp_path / "model.msmodel"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half written")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.msmodel"]


def rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin:
        files = {name: zin.read(name) for name in zin.namelist()}
    change(files)
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in files.items():
            zout.writestr(name, data)
    return dst


def test_bad_model_files_are_refused_with_a_clear_message(trained, tmp_path):
    _, good = trained
    data = good.read_bytes()
    cases = {
        "truncated.msmodel": ("damaged|not a musicspeech model", lambda p: p.write_bytes(data[: len(data) // 2])),
        "random.msmodel": ("not a musicspeech model", lambda p: p.write_bytes(np.random.bytes(5000))),
        "empty.msmodel": ("not a musicspeech model", lambda p: p.write_bytes(b"")),
        "missing.msmodel": ("no such model file", lambda p: None),
        "nojson.msmodel": (
            "bundle.json or model.keras missing",
            lambda p: rewrite(good, p, lambda f: f.pop("bundle.json")),
        ),
        "tampered.msmodel": (
            "checksum mismatch",
            lambda p: rewrite(good, p, lambda f: f.update({"model.keras": f["model.keras"][:-10] + b"0123456789"})),
        ),
        "future.msmodel": (
            "format version 99",
            lambda p: rewrite(
                good,
                p,
                lambda f: f.update(
                    {"bundle.json": json.dumps({**json.loads(f["bundle.json"]), "format_version": 99}).encode()}
                ),
            ),
        ),
        "badjson.msmodel": ("not valid JSON", lambda p: rewrite(good, p, lambda f: f.update({"bundle.json": b"{"}))),
    }
    for name, (message, make) in cases.items():
        path = tmp_path / name
        make(path)
        with pytest.raises(ModelError, match=message) as info:
            ModelBundle.load(path)
        assert "\n" not in str(info.value), name


def test_code_inside_a_model_file_never_runs(trained, tmp_path):
    """A bundle whose network holds a Lambda layer (arbitrary Python) is refused by Keras safe_mode."""
    import hashlib

    _, good = trained
    marker = tmp_path / "ran"
    inputs = keras.Input(shape=(98, 64))
    marker_name = str(marker)
    outputs = keras.layers.Lambda(lambda x: (open(marker_name, "w").close(), x)[1])(inputs)  # noqa: SIM115
    evil = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(outputs)))
    marker.unlink(missing_ok=True)
    keras_file = tmp_path / "evil.keras"
    evil.save(keras_file)
    weights = keras_file.read_bytes()

    def swap(files):
        meta = json.loads(files["bundle.json"])
        meta["model_sha256"] = hashlib.sha256(weights).hexdigest()  # the attacker fixes the checksum too
        files.update({"model.keras": weights, "bundle.json": json.dumps(meta).encode()})

    path = rewrite(good, tmp_path / "evil.msmodel", swap)
    with pytest.raises(ModelError, match="cannot be loaded.*arbitrary code execution"):
        ModelBundle.load(path)
    assert not marker.exists()


def test_a_network_that_does_not_fit_its_settings_is_refused(trained, tmp_path):
    _, good = trained

    def other_spec(files):
        meta = json.loads(files["bundle.json"])
        meta["features"]["window_s"] = 2.0
        files["bundle.json"] = json.dumps(meta).encode()

    with pytest.raises(ModelError, match="does not match its settings"):
        ModelBundle.load(rewrite(good, tmp_path / "mismatch.msmodel", other_spec))


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from musicspeech.core.atomic import write_text

    path = write_text(tmp_path / "settings.json", "{}")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
