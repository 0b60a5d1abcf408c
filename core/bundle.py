"""The `.msmodel` file, read without TensorFlow: what classifying needs from a model.

A bundle is a zip of `bundle.json` (labels, `FeatureSpec`, model config, training settings, data summary,
metrics, versions, and the SHA-256 of each network file), `model.keras` (the network for Keras: training,
exports) and `model.tflite` (the same network as a TensorFlow Lite flatbuffer, which `core.runtime` runs with no
TensorFlow). This module reads and checks it, and writes it from those files' bytes (`write_bundle`):
`core.model.ModelBundle` saves through it, and so does a `TrainedBundle`, a network trained in another process
(`musicspeech.core.training_process`) handed over as those bytes, saved with no TensorFlow. A file of format 1 (no
`model.tflite`) is refused in one line: reading it would need TensorFlow to convert its network.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicspeech.core.atomic import atomic_path
from musicspeech.core.errors import ModelError
from musicspeech.core.features import FeatureSpec
from musicspeech.core.recipes import ModelConfig
from musicspeech.core.verdict import recorded_presets

BUNDLE_FORMAT = "musicspeech-model"
BUNDLE_VERSION = 2
READABLE_VERSIONS = (2,)
OLD_VERSIONS = (1,)  # no model.tflite inside: refused with a line saying to train the model again


@dataclass(frozen=True)
class BundleFile:
    """A bundle's settings and network files, checked: every name and checksum as `bundle.json` says."""

    path: Path
    meta: dict[str, Any]
    keras: bytes
    tflite: bytes

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.meta["labels"])

    @property
    def features(self) -> FeatureSpec:
        return _settings(self.path, lambda: FeatureSpec.from_dict(self.meta["features"]))

    @property
    def config(self) -> ModelConfig:
        return _settings(self.path, lambda: ModelConfig.from_dict(self.meta.get("model_config", {})))

    @property
    def info(self) -> dict[str, Any]:
        return self.meta.get("info", {})

    def describe(self) -> str:
        return describe(self.path, self.labels, self.features)


@dataclass
class TrainedBundle:
    """A network trained in another process, as the bytes of the files a bundle holds, with its settings: saved
    (`save`) and classified with (`musicspeech.core.inference.Classifier`) without TensorFlow."""

    labels: tuple[str, ...]
    features: FeatureSpec
    config: ModelConfig
    info: dict[str, Any]
    keras: bytes
    tflite: bytes
    versions: dict[str, str] = field(default_factory=dict)  # of the process that trained it (TensorFlow's...)
    path: Path | None = None

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle atomically: the previous file stays intact if anything fails."""
        path = write_bundle(
            path, self.labels, self.features, self.config, self.info, self.keras, self.tflite, self.versions
        )
        self.path = path
        return path

    def describe(self) -> str:
        return describe(self.path, self.labels, self.features)


def write_bundle(
    path: str | os.PathLike,
    labels: tuple[str, ...],
    features: FeatureSpec,
    config: ModelConfig,
    info: dict[str, Any],
    keras: bytes,
    tflite: bytes,
    versions: dict[str, str],
) -> Path:
    """Write a bundle of format `BUNDLE_VERSION` atomically (`musicspeech.core.atomic`): the file that was there stays
    intact if anything fails (`SaveError`)."""
    path = Path(path)
    meta = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "labels": list(labels),
        "features": features.to_dict(),
        "model_config": config.to_dict(),
        # the verdict presets this model was made for (`core.verdict.presets` reads them back)
        "verdict": recorded_presets(),
        "info": info,
        "saved": {"at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), **versions},
        "model_sha256": hashlib.sha256(keras).hexdigest(),
        "tflite_sha256": hashlib.sha256(tflite).hexdigest(),
    }
    with atomic_path(path) as tmp_path, zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bundle.json", json.dumps(meta, indent=2, default=_json_default))
        zf.writestr("model.keras", keras, compress_type=zipfile.ZIP_STORED)
        zf.writestr("model.tflite", tflite)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def describe(path: Path | None, labels: tuple[str, ...], spec: FeatureSpec) -> str:
    name = path.name if path else "unsaved model"
    return f"{name} ({'/'.join(labels)}, {spec.kind}, {spec.window_s:g} s windows)"


def read_bundle(path: str | Path) -> BundleFile:
    """Read and check a bundle; anything wrong raises `ModelError` with one readable line."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {"bundle.json", "model.keras"} <= names:
                raise ModelError(f"{path.name}: not a musicspeech model (bundle.json or model.keras missing)")
            meta = json.loads(zf.read("bundle.json"))
            keras = zf.read("model.keras")
            tflite = zf.read("model.tflite") if "model.tflite" in names else None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
        raise ModelError(f"{path.name}: not a musicspeech model, or the file is damaged ({e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{path.name}: the model's settings are damaged (bundle.json is not valid JSON)") from None
    except (OSError, zlib.error) as e:
        raise ModelError(f"{path.name}: the model file is damaged ({one_line(e)})") from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path.name}: not a musicspeech model")
    version = meta.get("format_version")
    if version in OLD_VERSIONS:
        raise ModelError(
            f"{path.name}: this model file is of an old format ({version}, without a TensorFlow Lite network "
            "inside) that this app no longer reads; train the model again (Train tab, or musicspeech train)"
        )
    if version not in READABLE_VERSIONS:
        raise ModelError(
            f"{path.name}: model format version {version} is not supported by this app (it reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}); update the app or retrain"
        )
    if (
        hashlib.sha256(keras).hexdigest() != meta.get("model_sha256")
        or tflite is None
        or hashlib.sha256(tflite).hexdigest() != meta.get("tflite_sha256")
    ):
        raise ModelError(
            f"{path.name}: the network inside was changed after the model was saved "
            "(checksum mismatch); refusing to load it"
        )
    labels = meta.get("labels")
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels)):
        raise ModelError(f"{path.name}: the model's class labels are missing or invalid")
    bundle = BundleFile(path, meta, keras, tflite)
    bundle.features, bundle.config  # noqa: B018  (settings that do not parse are refused here, not later)
    return bundle


def one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:200]


def _settings(path: Path, make):
    try:
        return make()
    except (TypeError, ValueError, KeyError) as e:
        raise ModelError(f"{path.name}: invalid settings in the model file ({e})") from None
