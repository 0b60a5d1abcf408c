"""TensorFlow and Keras, imported once and quietly.

TensorFlow's C++ runtime writes start-up notices (oneDNN, CUDA probing, CPU features) straight to file
descriptor 2 before its log level applies. They mean nothing to a user, so the import runs with fd 2
captured; anything else written meanwhile (by another thread, or a real import error) is passed on.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations|cuda|CUDA|TensorRT|"
    r"This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler flags|"
    r"computation placer already registered|Unable to register cu"
)


def _import_quietly():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (frozen GUI app, captured test output)
        fd = None
    if fd is None:
        import keras
        import tensorflow

        return tensorflow, keras
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), fd)
        try:
            import keras
            import tensorflow
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not _NOISE.search(line):
                    sys.stderr.write(line)
    return tensorflow, keras


tf, keras = _import_quietly()
tf.get_logger().setLevel("ERROR")  # e.g. retracing notices when many models are trained in one process
