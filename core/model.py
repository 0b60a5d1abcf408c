"""The network and the model bundle, with TensorFlow: for training, saving and exports.

`build_model` makes the seed's CNN (the TensorFlow "simple audio" recipe) from a small `ModelConfig`.
A `ModelBundle` is the Keras network plus everything needed to use it (labels, `FeatureSpec`, settings, data
summary, metrics, versions) in one `.msmodel` file (`musicspeech.core.bundle` says what it holds, and reads it without
TensorFlow for classifying). Saving is atomic and writes the network twice: `model.keras`, and `model.tflite`,
converted here, which the classifier runs. Loading validates everything and keeps Keras `safe_mode` on, so no
code in a model file runs.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicspeech.core import __version__
from musicspeech.core.bundle import TrainedBundle, describe, one_line, read_bundle, write_bundle
from musicspeech.core.errors import ModelError, SaveError, save_problem
from musicspeech.core.features import FeatureSpec
from musicspeech.core.quiet import filtered_stderr
from musicspeech.core.recipes import ModelConfig
from musicspeech.core.tf_runtime import keras, tf


def build_model(
    config: ModelConfig, spec: FeatureSpec, n_classes: int, norm_mean: float = 0.0, norm_variance: float = 1.0
) -> keras.Model:
    """The seed's CNN on (frames, bins) feature windows; outputs class probabilities.

    The Normalization layer's statistics come from the training windows (`norm_mean`, `norm_variance`).
    For `yamnet` features the network is a head on YAMNet's embeddings: dense layer, dropout, softmax.
    """
    if spec.kind == "yamnet":
        inputs = keras.Input(shape=spec.model_input_shape, name="embedding")
        x = keras.layers.Dense(config.dense_units, activation="relu")(inputs)
        x = keras.layers.Dropout(config.dropout_dense)(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="musicspeech_yamnet_head")
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
    _tflite: bytes | None = field(default=None, repr=False)

    @property
    def tflite(self) -> bytes:
        """The network as a TensorFlow Lite flatbuffer (converted once, on first use: a few seconds)."""
        if self._tflite is None:
            self._tflite = tflite_bytes(self.model)
        return self._tflite

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle atomically: the previous file stays intact if anything fails."""
        path = Path(path)
        weights = keras_bytes(self.model, path)
        write_bundle(path, self.labels, self.features, self.config, self.info, weights, self.tflite, versions())
        self.path = path
        return path

    def portable(self) -> TrainedBundle:
        """The bundle as the bytes of its network files (converted now if not yet), to hand to a process that
        has no TensorFlow (`musicspeech.core.training_process`)."""
        weights = keras_bytes(self.model, self.path or Path("model.msmodel"))
        return TrainedBundle(
            self.labels, self.features, self.config, self.info, weights, self.tflite, versions(), self.path
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelBundle:
        """Load and validate a bundle with its Keras network; anything wrong raises `ModelError` with one line."""
        file = read_bundle(path)
        path, spec, labels = file.path, file.features, file.labels
        with tempfile.TemporaryDirectory() as tmp:
            keras_path = Path(tmp) / "model.keras"
            keras_path.write_bytes(file.keras)
            try:
                model = keras.saving.load_model(keras_path, compile=False, safe_mode=True)
            except Exception as e:  # Keras raises many types for a bad file; all mean the same to a user
                raise ModelError(f"{path.name}: the network inside cannot be loaded ({one_line(e)})") from None
        expected_in = (None, *spec.model_input_shape)
        if tuple(model.input_shape) != expected_in or model.output_shape[-1] != len(labels):
            raise ModelError(
                f"{path.name}: the network's shape {model.input_shape} -> {model.output_shape} "
                f"does not match its settings {expected_in} -> {len(labels)} classes"
            )
        return cls(model, labels, spec, file.config, file.info, path, file.tflite)

    def describe(self) -> str:
        return describe(self.path, self.labels, self.features)


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


def tflite_bytes(model: keras.Model) -> bytes:
    """The Keras network converted to a TensorFlow Lite flatbuffer (through a SavedModel in a temporary folder)."""
    tmp = Path(tempfile.mkdtemp(prefix="musicspeech-convert-"))
    try:
        with filtered_stderr(_CONVERTER_NOISE):
            model.export(tmp / "saved_model", format="tf_saved_model", verbose=False)
            return tf.lite.TFLiteConverter.from_saved_model(str(tmp / "saved_model")).convert()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_CONVERTER_NOISE = re.compile(
    r"^W0000 |^I0000 |^WARNING: All log messages before absl|tf_tfl_flatbuffer_helpers|Ignored output_format|"
    r"Ignored drop_control_dependency|Reading SavedModel|Reading meta graph|SavedModel|Restoring SavedModel|"
    r"loader\.cc|fingerprinting|Running initialization op"
)


def versions() -> dict[str, str]:
    return {
        "app": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
