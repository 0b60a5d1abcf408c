"""The network at inference time: the bundle's TensorFlow Lite flatbuffer, run by LiteRT. No TensorFlow.

Classifying needs none of TensorFlow: LiteRT (the `ai-edge-litert` package, TensorFlow Lite's runtime) imports
in milliseconds, takes a few tens of MB, and runs this small CNN with XNNPACK on a fraction of the CPU time
TensorFlow needs (measured here on batches of 128 log-mel windows: 24 ms of CPU against 63 ms). TensorFlow is
loaded only to train, to convert a network and to write exports. Where LiteRT has no wheel (Windows), the same
flatbuffer runs in TensorFlow's own `tf.lite.Interpreter`.

An interpreter is not thread-safe, and the live loop, the Classify pipeline and Inspect may classify at the same
time: each thread gets its own, made on first use and resized when the batch size changes.
"""

from __future__ import annotations

import re
import threading
import warnings

import numpy as np

from musicspeech.core.errors import ModelError
from musicspeech.core.quiet import filtered_stderr

_NOTICES = re.compile(r"Created TensorFlow Lite XNNPACK delegate")  # printed once per process, on fd 2


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # no LiteRT wheel for this system
        from musicspeech.core.tf_runtime import tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter announces its move to ai-edge-litert
            return tf.lite.Interpreter
    return Interpreter


class Network:
    """(n, frames, bins) float32 windows -> (n, classes) probabilities, with a TensorFlow Lite flatbuffer."""

    def __init__(self, tflite: bytes, window_shape: tuple[int, int], n_classes: int, name: str = "the model"):
        self.tflite, self.window_shape, self.n_classes = tflite, tuple(window_shape), n_classes
        self._Interpreter = _interpreter_class()
        self._local = threading.local()
        try:
            interpreter = self._interpreter()  # checked now: a network that does not load or fit is refused here
        except ValueError as e:
            raise ModelError(f"{name}: the network inside cannot be loaded ({str(e).splitlines()[0][:200]})") from None
        shape = tuple(interpreter.get_input_details()[0]["shape_signature"])
        out = tuple(interpreter.get_output_details()[0]["shape_signature"])
        if shape[1:] != self.window_shape or out[-1] != n_classes:
            raise ModelError(
                f"{name}: the network's shape {shape} -> {out} does not match its settings "
                f"{(None, *self.window_shape)} -> {n_classes} classes"
            )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        interpreter = self._interpreter()
        state = self._local
        if state.batch != len(x):
            interpreter.resize_tensor_input(state.input, [len(x), *self.window_shape])
            interpreter.allocate_tensors()
            state.batch = len(x)
        interpreter.set_tensor(state.input, np.ascontiguousarray(x, dtype=np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(state.output).copy()  # the interpreter reuses its buffer

    def _interpreter(self):
        state = self._local
        if getattr(state, "interpreter", None) is None:
            # One thread each: the classify pipeline decodes and cuts windows on the other cores meanwhile.
            with filtered_stderr(_NOTICES):
                interpreter = self._Interpreter(model_content=self.tflite, num_threads=1)
                interpreter.allocate_tensors()  # where the delegate is made (and says so)
            state.input = interpreter.get_input_details()[0]["index"]
            state.output = interpreter.get_output_details()[0]["index"]
            state.batch = None
            state.interpreter = interpreter
        return state.interpreter


def network_for(tflite: bytes, spec, n_classes: int, name: str = "the model"):
    """The network a bundle's features call for: its flatbuffer on feature windows, or for `yamnet` features
    YAMNet's embeddings first (`musicspeech.core.yamnet.EmbeddingNetwork`, which needs YAMNet's downloaded weights)."""
    if spec.kind == "yamnet":
        from musicspeech.core.yamnet import EmbeddingNetwork

        return EmbeddingNetwork(tflite, n_classes, name)
    return Network(tflite, spec.window_shape, n_classes, name)
