"""TensorFlow and Keras, imported once and quietly.

TensorFlow's C++ runtime writes start-up notices (oneDNN, CUDA probing, CPU features) straight to file
descriptor 2 before its log level applies. They mean nothing to a user, so they are filtered out
(`musicspeech.core.quiet`); anything else written meanwhile (by another thread, or a real import error) is passed on.
"""

from __future__ import annotations

import os
import re

from musicspeech.core.quiet import filtered_stderr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations|cuda|CUDA|TensorRT|"
    r"This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler flags|"
    r"computation placer already registered|Unable to register cu"
)


def _import_quietly():
    with filtered_stderr(_NOISE):
        import keras
        import tensorflow
    return tensorflow, keras


tf, keras = _import_quietly()
tf.get_logger().setLevel("ERROR")  # e.g. retracing notices when many models are trained in one process
