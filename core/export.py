"""Exports of a bundle for other programs: `.keras`, `.tflite`, and a JSON that states the exact preprocessing.

The network takes feature windows, not audio: the JSON says how to make them (rate, resampling, frames,
FFT, mel bands, log offset, window normalisation, windows and hop) so that another program can reproduce them.
`parity` runs each export on windows of reference clips and reports the largest probability difference from
the bundle's own network.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musicspeech.core.atomic import write_bytes, write_text
from musicspeech.core.model import ModelBundle, keras_bytes
from musicspeech.core.runtime import Network
from musicspeech.core.tf_runtime import keras


def preprocessing(bundle: ModelBundle) -> dict:
    """Everything another program needs to turn audio into this network's input, and its output into labels."""
    s = bundle.features
    if s.kind == "yamnet":
        return _yamnet_preprocessing(bundle)
    steps = [
        "decode; mix channels down to mono as their mean; scale integers to [-1, 1)",
        f"resample to {s.rate_hz} Hz (soxr, quality HQ)",
        f"cut frames of {s.frame_length} samples every {s.frame_step} samples (no padding at the ends)",
        f"multiply each frame by a periodic Hann window of {s.frame_length} samples",
        f"|rfft| with n={s.fft_length} (the frame zero-padded at its end)",
    ]
    if s.kind == "logmel":
        steps += [
            f"multiply by {s.n_mels} triangular mel filters (HTK mel scale, {s.fmin_hz:g}-{s.fmax_hz:g} Hz, "
            "as tf.signal.linear_to_mel_weight_matrix; the DC bin has no weight)",
            f"natural log of (mel + {s.log_offset:g})",
        ]
    steps.append(
        f"windows of {s.frames_per_window} consecutive frames every {s.hop_frames} frames "
        f"({s.window_s:g} s every {s.hop_samples / s.rate_hz:g} s); a signal shorter than one window "
        "is zero-padded to one window"
    )
    if s.window_norm:
        steps.append("subtract each window's mean over all its frames and bins")
    steps.append(f"input: float32 [batch, {s.frames_per_window}, {s.n_bins}] (time, frequency)")
    return {
        **_outputs(bundle, s.window_shape),
        "features": s.to_dict(),
        "derived": {
            "frames_per_window": s.frames_per_window,
            "hop_frames": s.hop_frames,
            "window_samples": s.window_samples,
            "hop_samples": s.hop_samples,
            "n_bins": s.n_bins,
        },
        "steps": steps,
    }


def export(bundle: ModelBundle, out_dir: Path, stem: str) -> dict[str, Path]:
    """Write `<stem>.keras`, `<stem>.tflite` and `<stem>.preprocessing.json` into `out_dir`, each atomically."""
    out_dir = Path(out_dir)
    paths = {
        "keras": out_dir / f"{stem}.keras",
        "tflite": out_dir / f"{stem}.tflite",
        "preprocessing": out_dir / f"{stem}.preprocessing.json",
    }
    write_bytes(paths["keras"], keras_bytes(bundle.model, paths["keras"]))
    write_bytes(paths["tflite"], bundle.tflite)
    write_text(paths["preprocessing"], json.dumps(preprocessing(bundle), indent=2))
    return paths


def parity(bundle: ModelBundle, paths: dict[str, Path], windows: np.ndarray) -> dict[str, float]:
    """Largest absolute probability difference of each export from the bundle's network, on `windows`."""
    reference = bundle.model.predict(windows, batch_size=256, verbose=0)
    reloaded = keras.saving.load_model(paths["keras"], compile=False, safe_mode=True)
    keras_probs = reloaded.predict(windows, batch_size=256, verbose=0)
    network = Network(paths["tflite"].read_bytes(), windows.shape[1:], reference.shape[-1], paths["tflite"].name)
    tflite_probs = network(windows)  # the exported file, run as the app runs it
    return {
        "keras": float(np.max(np.abs(keras_probs - reference))),
        "tflite": float(np.max(np.abs(tflite_probs - reference))),
    }


def _yamnet_preprocessing(bundle: ModelBundle) -> dict:
    """A head on YAMNet's embeddings: the network takes YAMNet's 1,024 numbers for each window, not audio."""
    from musicspeech.core.yamnet import EMBEDDING_TENSOR, LICENCE_NOTE, YAMNET_SHA256, YAMNET_URL

    s = bundle.features
    return {
        **_outputs(bundle, s.model_input_shape),
        "features": s.to_dict(),
        "yamnet": {"url": YAMNET_URL, "sha256": YAMNET_SHA256, "embedding_tensor": EMBEDDING_TENSOR},
        "steps": [
            "decode; mix channels down to mono as their mean; scale integers to [-1, 1)",
            f"resample to {s.rate_hz} Hz (soxr, quality HQ)",
            f"windows of {s.window_samples} samples every {s.hop_samples} samples; a signal shorter than one "
            "window is zero-padded to one window",
            "run yamnet.tflite on each window (input float32 [1, 15600]) and read the tensor "
            f"{EMBEDDING_TENSOR} (float32 [1, 1024]; open the interpreter with experimental_preserve_all_tensors)",
            f"input: float32 [batch, {s.model_input_shape[0]}] ({LICENCE_NOTE})",
        ],
    }


def _outputs(bundle, input_shape) -> dict:
    """What every preprocessing description says of the network's input, output and the clip's verdict."""
    return {
        "labels": list(bundle.labels),
        "input_shape": [None, *input_shape],
        "output": "probabilities [batch, n_labels] (softmax), in the order of `labels`",
        "clip_verdict": (
            "simplest: mean of the window probabilities, the label with the largest mean; the app adds its verdict "
            "policy (windows under -55 dBFS and a `noise` label are silence, labels smoothed by Viterbi: "
            "core/verdict.py)"
        ),
    }
