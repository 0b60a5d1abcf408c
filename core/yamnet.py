"""YAMNet as a frozen front end: its weights (downloaded once), and its 1,024-number embedding of each window.

The "yamnet" recipe trains only a small head on YAMNet's embeddings. A bundle of that recipe says so in its
features (`FeatureSpec(kind="yamnet")`: windows of 0.975 s of the waveform itself, one YAMNet patch each); its
own TensorFlow Lite network is the head, which takes an embedding. Classifying runs `yamnet.tflite` on each
window, then the head, both in LiteRT (`EmbeddingNetwork`: the same call as `core.runtime.Network`, windows in,
probabilities out), so files, live audio and the verdict policy work as with any other bundle. YAMNet is not
inside the bundle: it is 4 MB under its own licence, downloaded once into the user's data folder.

YAMNet (Google, AudioSet; Apache-2.0, tensorflow/models research/audioset/yamnet). The file is the TensorFlow
Lite conversion published in the public repository Jaskaran197/Speaker-Detector (pinned to one commit below);
it is checked against its SHA-256 whatever the URL. Its embedding is the intermediate tensor
`yamnet_frames/global_average_pooling2d/Mean`, read with `experimental_preserve_all_tensors`.

The download: progress, cancel, a resumed or clean restart (an unfinished download is kept as
`yamnet.tflite.download` and continued with an HTTP range request when the server allows it), the SHA-256
checked before the file is put in place atomically (`musicspeech.core.atomic`), and one plain line when it fails.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musicspeech.core.atomic import atomic_path
from musicspeech.core.errors import Cancelled, DownloadError, ModelError
from musicspeech.core.features import YAMNET_EMBEDDING_SIZE, YAMNET_PATCH_SAMPLES
from musicspeech.core.quiet import filtered_stderr
from musicspeech.core.runtime import _NOTICES, Network, _interpreter_class

YAMNET_URL = (
    "https://github.com/Jaskaran197/Speaker-Detector/raw/4ec29b6938f1051fe36b46786f8d486d8b74a38e/yamnet.tflite"
)
YAMNET_SHA256 = "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194"
YAMNET_SIZE = 4_078_224
FILE_NAME = "yamnet.tflite"
PARTIAL_SUFFIX = ".download"
EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"
LICENCE_NOTE = "YAMNet: Copyright Google, Apache License 2.0 (tensorflow/models, research/audioset/yamnet)"

ProgressFn = Callable[[int, int | None], None]
"""progress(bytes_done, bytes_total or None)"""

_CHUNK = 64 * 1024


def weights_dir() -> Path:
    """Where YAMNet's weights live: `$MUSICSPEECH_YAMNET_DIR`, or `<user data dir>/yamnet`."""
    override = os.environ.get("MUSICSPEECH_YAMNET_DIR")
    if override:
        return Path(override)
    from musicspeech.core.paths import user_data_dir

    return user_data_dir() / "yamnet"


def weights_path(folder: str | os.PathLike | None = None) -> Path:
    return Path(folder or weights_dir()) / FILE_NAME


def have_weights(folder: str | os.PathLike | None = None) -> bool:
    """Whether the weights are in place (their size; the checksum is checked when they are loaded)."""
    path = weights_path(folder)
    return path.is_file() and path.stat().st_size == YAMNET_SIZE


def _offline_hint(folder: Path) -> str:
    return f"To work offline, copy yamnet.tflite (SHA-256 {YAMNET_SHA256[:12]}...) into {folder}"


def download_weights(
    folder: str | os.PathLike | None = None,
    url: str | None = None,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    timeout_s: float = 20.0,
    sha256: str = YAMNET_SHA256,
) -> Path:
    """Download `yamnet.tflite` into `folder` (default `weights_dir()`) unless it is there; returns its path.
    `url` default: `$MUSICSPEECH_YAMNET_URL` (a mirror), else `YAMNET_URL`.

    A download cut short (cancel, network) leaves `yamnet.tflite.download`, which the next call continues
    (or starts afresh if the server ignores the range). The whole file must have `sha256`, or it is deleted
    and `DownloadError` says so. Raises `DownloadError` (one plain line) or `Cancelled`; the weights file
    itself only ever appears complete and checked."""
    folder = Path(folder or weights_dir())
    url = url or os.environ.get("MUSICSPEECH_YAMNET_URL") or YAMNET_URL
    target = folder / FILE_NAME
    if target.is_file() and _sha256(target) == sha256:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"Cannot create {folder} for YAMNet's weights: {e.strerror or e}") from None
    partial = folder / (FILE_NAME + PARTIAL_SUFFIX)
    _fetch(url, partial, progress, cancel, timeout_s)
    if _sha256(partial) != sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"The file downloaded from {url} is not YAMNet's yamnet.tflite (its SHA-256 differs); it was deleted, "
            "so trying again downloads it afresh"
        )
    with atomic_path(target) as tmp:
        os.replace(partial, tmp)
    return target


def _fetch(
    url: str, partial: Path, progress: ProgressFn | None, cancel: Callable[[], bool] | None, timeout_s: float
) -> None:
    """Download `url` into `partial`, continuing what is there when the server takes a range request."""
    from musicspeech.core.tfds_source import _network_reason  # the GTZAN download's plain words for network failures

    have = partial.stat().st_size if partial.is_file() else 0
    headers = {"User-Agent": "musicspeech"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if (response.headers.get("Content-Type") or "").lower().startswith("text/html"):
                raise _unreachable(url, "the server answered with a web page, not the file", partial.parent)
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.strip().isdigit() else None
            if response.status == 206:  # the rest of the file
                done, mode = have, "ab"
                total = have + size if size is not None else None
            else:  # the whole file: a clean restart
                done, mode, total = 0, "wb", size
            if progress:
                progress(done, total)
            with open(partial, mode) as out:
                while True:
                    if cancel and cancel():
                        raise Cancelled("download cancelled")
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as e:
                        raise DownloadError(
                            f"Cannot write YAMNet's weights to {partial.parent}: {e.strerror or e}"
                        ) from None
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            if total is not None and done < total:
                raise _unreachable(url, "the connection dropped before the download finished", partial.parent)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the range starts at the end: what is there is the whole file
            return
        raise _unreachable(url, f"the server answered HTTP {e.code} {e.reason}".rstrip(), partial.parent) from None
    except urllib.error.URLError as e:
        raise _unreachable(url, _network_reason(e.reason, timeout_s), partial.parent) from None
    except (DownloadError, Cancelled):
        raise
    except http.client.HTTPException:  # IncompleteRead and the like: the server went away mid-file
        raise _unreachable(url, "the connection dropped before the download finished", partial.parent) from None
    except OSError as e:
        if isinstance(e, TimeoutError | ConnectionError) or e.filename is None:
            raise _unreachable(url, _network_reason(e, timeout_s), partial.parent) from None
        raise DownloadError(f"Cannot write YAMNet's weights to {partial.parent}: {e.strerror or e}") from None


def _unreachable(url: str, reason: str, folder: Path) -> DownloadError:
    return DownloadError(f"Cannot download YAMNet's weights from {url}: {reason}. {_offline_hint(folder)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_weights_message(folder: Path | None = None) -> str:
    folder = Path(folder or weights_dir())
    return (
        f"this model needs YAMNet's weights ({FILE_NAME}), which are not in {folder}: download them with "
        f"`musicspeech download --yamnet` or by training the YAMNet recipe in the app. {_offline_hint(folder)}"
    )


class Embedder:
    """(n, 15600) float32 patches of 16 kHz audio -> (n, 1024) YAMNet embeddings, in LiteRT (one patch per call:
    this conversion has a fixed batch of 1). One interpreter per thread, as `musicspeech.core.runtime.Network`."""

    def __init__(self, tflite: bytes):
        self.tflite = tflite
        self._Interpreter = _interpreter_class()
        self._local = threading.local()
        try:
            self._interpreter()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{FILE_NAME}: cannot be loaded ({str(e).splitlines()[0][:200]})") from None

    @classmethod
    def load(cls, folder: str | os.PathLike | None = None) -> Embedder:
        """The weights in `folder` (default `weights_dir()`), checked; `ModelError` in one line if missing."""
        path = weights_path(folder)
        if not path.is_file():
            raise ModelError(missing_weights_message(path.parent))
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != YAMNET_SHA256:
            raise ModelError(
                f"{path} is not YAMNet's yamnet.tflite (its SHA-256 differs): delete it and download it again"
            )
        return _shared(data)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        interpreter, state = self._interpreter(), self._local
        patches = np.ascontiguousarray(np.asarray(patches, dtype=np.float32).reshape(-1, YAMNET_PATCH_SAMPLES))
        out = np.empty((len(patches), YAMNET_EMBEDDING_SIZE), np.float32)
        for i in range(len(patches)):
            interpreter.set_tensor(state.input, patches[i : i + 1])
            interpreter.invoke()
            out[i] = interpreter.get_tensor(state.embedding)[0]
        return out

    def _interpreter(self):
        state = self._local
        if getattr(state, "interpreter", None) is None:
            with filtered_stderr(_NOTICES), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "preserve_all_tensors is meant for debugging": it is what we need
                interpreter = self._Interpreter(
                    model_content=self.tflite, num_threads=1, experimental_preserve_all_tensors=True
                )
                interpreter.allocate_tensors()
            names = {t["name"]: t["index"] for t in interpreter.get_tensor_details()}
            if EMBEDDING_TENSOR not in names:
                raise ValueError(f"no tensor {EMBEDDING_TENSOR}")
            state.input = interpreter.get_input_details()[0]["index"]
            state.embedding = names[EMBEDDING_TENSOR]
            state.interpreter = interpreter
        return state.interpreter


_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def _shared(data: bytes) -> Embedder:
    """One `Embedder` per process for the same weights (its interpreters are per thread anyway)."""
    key = hashlib.sha256(data).hexdigest()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Embedder(data)
        return _SHARED[key]


class EmbeddingNetwork:
    """A yamnet bundle's network: (n, frames, bins) windows of the waveform -> YAMNet embeddings -> the head ->
    (n, classes) probabilities. The same call as `musicspeech.core.runtime.Network`."""

    def __init__(self, head_tflite: bytes, n_classes: int, name: str = "the model", embedder: Embedder | None = None):
        self.head = Network(head_tflite, (YAMNET_EMBEDDING_SIZE,), n_classes, name)
        self.embedder = embedder or Embedder.load()
        self.n_classes = n_classes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.head(self.embedder(x))
