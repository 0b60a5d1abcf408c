"""The network and the model bundle.

`build_model` makes the seed's CNN (the TensorFlow "simple audio" recipe) from a small `ModelConfig`.
A `ModelBundle` is the network plus everything needed to use it (labels, `FeatureSpec`, settings, data
summary, metrics, versions) in one `.msmodel` file: a zip holding `bundle.json` and `model.keras`.
Saving is atomic; loading validates everything and keeps Keras `safe_mode` on, so no code in a model file runs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__
from core.atomic import atomic_path
from core.errors import ModelError, SaveError, save_problem
from core.features import FeatureSpec
from core.recipes import ModelConfig
from core.tf_runtime import keras, tf

BUNDLE_FORMAT = "musicspeech-model"
BUNDLE_VERSION = 1
MODEL_SUFFIX = ".msmodel"


def build_model(
    config: ModelConfig, spec: FeatureSpec, n_classes: int, norm_mean: float = 0.0, norm_variance: float = 1.0
) -> keras.Model:
    """The seed's CNN on (frames, bins) feature windows; outputs class probabilities.

    The Normalization layer's statistics come from the training windows (`norm_mean`, `norm_variance`).
    """
    frames, bins = spec.window_shape
    inputs = keras.Input(shape=(frames, bins), name="features")
    x = keras.layers.Reshape((frames, bins, 1))(inputs)
    if config.resize:
        x = keras.layers.Resizing(*config.resize)(x)
    x = keras.layers.Normalization(mean=norm_mean, variance=norm_variance)(x)
    if tuple(config.input_pool) != (1, 1):
        x = keras.layers.AveragePooling2D(config.input_pool)(x)
    for i, filters in enumerate(config.conv_filters):
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        if config.pool_each and i < len(config.conv_filters) - 1:
            x = keras.layers.MaxPooling2D()(x)
    if not config.global_pool:
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dropout(config.dropout_conv)(x)
    x = keras.layers.GlobalAveragePooling2D()(x) if config.global_pool else keras.layers.Flatten()(x)
    x = keras.layers.Dense(config.dense_units, activation="relu")(x)
    x = keras.layers.Dropout(config.dropout_dense)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="musicspeech_cnn")


@dataclass
class ModelBundle:
    """A trained network with what it needs to be used and what is known about it."""

    model: keras.Model
    labels: tuple[str, ...]
    features: FeatureSpec
    config: ModelConfig
    info: dict[str, Any] = field(default_factory=dict)  # training settings, data summary, metrics, ...
    path: Path | None = None

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle atomically: the previous file stays intact if anything fails."""
        path = Path(path)
        weights = keras_bytes(self.model, path)
        meta = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "labels": list(self.labels),
            "features": self.features.to_dict(),
            "model_config": self.config.to_dict(),
            "info": self.info,
            "saved": {"at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), **versions()},
            "model_sha256": hashlib.sha256(weights).hexdigest(),
        }
        with atomic_path(path) as tmp_path, zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bundle.json", json.dumps(meta, indent=2, default=_json_default))
            zf.writestr("model.keras", weights, compress_type=zipfile.ZIP_STORED)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelBundle:
        """Load and validate a bundle; anything wrong raises `ModelError` with one readable line."""
        path = Path(path)
        meta, weights = read_bundle_file(path)
        labels = tuple(meta["labels"])
        try:
            spec = FeatureSpec.from_dict(meta["features"])
            config = ModelConfig.from_dict(meta.get("model_config", {}))
        except (TypeError, ValueError) as e:
            raise ModelError(f"{path.name}: invalid settings in the model file ({e})") from None
        with tempfile.TemporaryDirectory() as tmp:
            keras_path = Path(tmp) / "model.keras"
            keras_path.write_bytes(weights)
            try:
                model = keras.saving.load_model(keras_path, compile=False, safe_mode=True)
            except Exception as e:  # Keras raises many types for a bad file; all mean the same to a user
                raise ModelError(f"{path.name}: the network inside cannot be loaded ({_one_line(e)})") from None
        expected_in = (None, *spec.window_shape)
        if tuple(model.input_shape) != expected_in or model.output_shape[-1] != len(labels):
            raise ModelError(
                f"{path.name}: the network's shape {model.input_shape} -> {model.output_shape} "
                f"does not match its settings {expected_in} -> {len(labels)} classes"
            )
        return cls(model=model, labels=labels, features=spec, config=config, info=meta.get("info", {}), path=path)

    def describe(self) -> str:
        name = self.path.name if self.path else "unsaved model"
        return f"{name} ({'/'.join(self.labels)}, {self.features.kind}, {self.features.window_s:g} s windows)"


def keras_bytes(model: keras.Model, target: Path) -> bytes:
    """The network as a `.keras` file's bytes (Keras writes only to a named file: one in the temporary folder);
    a failure there is a `SaveError` for `target`."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            keras_path = Path(tmp) / "model.keras"
            model.save(keras_path)
            return keras_path.read_bytes()
    except OSError as e:
        raise SaveError(target, f"the temporary folder {tempfile.gettempdir()}: {save_problem(e)}") from e


def read_bundle_file(path: Path) -> tuple[dict[str, Any], bytes]:
    """Read and check the bundle's zip and metadata, without TensorFlow."""
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"bundle.json", "model.keras"} <= names:
                raise ModelError(f"{path.name}: not a musicspeech model (bundle.json or model.keras missing)")
            meta = json.loads(zf.read("bundle.json"))
            weights = zf.read("model.keras")
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
        raise ModelError(f"{path.name}: not a musicspeech model, or the file is damaged ({e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path.name}: the model's settings are damaged (bundle.json is not valid JSON)") from None
    except (OSError, zlib.error) as e:
        raise ModelError(f"{path.name}: the model file is damaged ({_one_line(e)})") from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path.name}: not a musicspeech model")
    if meta.get("format_version") != BUNDLE_VERSION:
        raise ModelError(
            f"{path.name}: model format version {meta.get('format_version')} is not supported "
            f"by this app (it reads version {BUNDLE_VERSION}); update the app or retrain"
        )
    if hashlib.sha256(weights).hexdigest() != meta.get("model_sha256"):
        raise ModelError(
            f"{path.name}: the network inside was changed after the model was saved "
            "(checksum mismatch); refusing to load it"
        )
    labels = meta.get("labels")
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels)):
        raise ModelError(f"{path.name}: the model's class labels are missing or invalid")
    return meta, weights


def versions() -> dict[str, str]:
    return {
        "app": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:200]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
