"""GTZAN music/speech through tensorflow-datasets: the app's default data source.

`tfds.load('gtzan_music_speech')` downloads the original archive and prepares it. Two things make that
unfriendly as it is: offline, tensorflow-datasets retries for minutes before it fails, and its download cannot
be cancelled. So the URL is probed first (a plain message within seconds when it is unreachable), and the
download-and-prepare step runs in a child process that reports progress through the bytes it writes and is
terminated on cancel; what it leaves half-done is removed.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.datasets import Clip, Dataset
from core.errors import Cancelled, DownloadError

log = logging.getLogger(__name__)

DATASET = "gtzan_music_speech"
GTZAN_URL = "http://opihi.cs.uvic.ca/sound/music_speech.tar.gz"  # the builder's own default
SOURCE_NAME = "tensorflow-datasets gtzan_music_speech"
IMPORT_HINT = (
    "Import the archive or its extracted folder instead: `musicspeech train --data "
    "music_speech.tar.gz` (or `--data FOLDER`), or in the app: Train > Import archive or folder."
)

ProgressFn = Callable[[int, "int | None"], None]


def default_data_dir() -> Path:
    from core.paths import user_data_dir

    return user_data_dir() / "tensorflow_datasets"


def is_prepared(data_dir: Path | None = None) -> bool:
    """True if the data set is already prepared in `data_dir` (no network needed)."""
    root = Path(data_dir or default_data_dir()) / DATASET
    return any((d / "dataset_info.json").is_file() for d in root.glob("*") if "incomplete" not in d.name)


def download_gtzan(
    data_dir: Path | None = None,
    url: str = GTZAN_URL,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    connect_timeout_s: float = 10.0,
) -> Path:
    """Download and prepare GTZAN music/speech into `data_dir`; returns `data_dir`.

    Raises `DownloadError` (one plain line, with what to do instead) or `Cancelled`.
    """
    data_dir = Path(data_dir or default_data_dir())
    if is_prepared(data_dir):
        return data_dir
    total = probe(url, connect_timeout_s)
    data_dir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    child = context.Process(target=_prepare_in_child, args=(str(data_dir), url, errors), daemon=True)
    child.start()
    try:
        while child.is_alive():
            if cancel and cancel():
                child.terminate()
                child.join(5)
                raise Cancelled("download cancelled")
            if progress:
                progress(_bytes_under(data_dir / "downloads"), total)
            child.join(0.1)
    except BaseException:
        if child.is_alive():
            child.kill()
            child.join(5)
        _remove_partial(data_dir)
        raise
    message = errors.get() if not errors.empty() else None
    if child.exitcode != 0 or message:
        _remove_partial(data_dir)
        raise DownloadError(
            f"GTZAN could not be downloaded or prepared: {message or f'exit {child.exitcode}'}. " + IMPORT_HINT
        )
    shutil.rmtree(data_dir / "downloads" / "extracted", ignore_errors=True)  # prepared records hold the audio
    if progress and total:
        progress(total, total)
    return data_dir


def load_gtzan(
    data_dir: Path | None = None,
    download: bool = True,
    url: str = GTZAN_URL,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Dataset:
    """GTZAN music/speech as a `Dataset` of in-memory clips (22,050 Hz), downloading it first if needed."""
    data_dir = Path(data_dir or default_data_dir())
    if not is_prepared(data_dir):
        if not download:
            raise DownloadError(f"GTZAN is not downloaded yet (looked in {data_dir}). " + IMPORT_HINT)
        download_gtzan(data_dir, url, progress, cancel)
    from core.tf_runtime import tf  # noqa: F401  (imported quietly before tensorflow-datasets pulls it in)

    tfds = _tfds()

    builder = tfds.builder(DATASET, data_dir=str(data_dir))
    names = builder.info.features["label"].names
    rate_hz = int(builder.info.features["audio"].sample_rate)
    clips = []
    for example in tfds.as_numpy(builder.as_dataset(split="train")):
        label = names[int(example["label"])]
        filename = example["audio/filename"].decode()
        samples = np.asarray(example["audio"]).astype(np.int16)  # int64 holding 16-bit values
        clips.append(Clip(name=f"{label}/{filename}", label=label, samples=samples, rate_hz=rate_hz))
    if not clips:
        raise DownloadError(f"the prepared GTZAN in {data_dir} holds no clips; delete it and download again")
    clips.sort(key=lambda c: c.name)
    return Dataset(tuple(clips), source=SOURCE_NAME)


def _tfds():
    import tensorflow_datasets

    return tensorflow_datasets


def probe(url: str, timeout_s: float = 10.0) -> int | None:
    """Check that `url` answers; return its size if the server says. Raises `DownloadError` in plain words."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "musicspeech"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length and length.isdigit() else None
    except urllib.error.HTTPError as e:
        reason = f"the server answered {e.code} {e.reason}"
    except urllib.error.URLError as e:
        reason = _network_reason(e.reason)
    except (TimeoutError, OSError) as e:
        reason = _network_reason(e)
    raise DownloadError(
        f"cannot download GTZAN from {url}: {reason}. Its host has been reported unreachable for years "
        "(tensorflow/datasets#4090, pytorch/audio#2743). " + IMPORT_HINT
    )


def _network_reason(error: object) -> str:
    text = str(error).lower()
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "getaddrinfo" in text
        or "temporary failure in name resolution" in text
    ):
        return "the host name cannot be resolved (no network?)"
    if "refused" in text:
        return "the connection was refused"
    if "timed out" in text or isinstance(error, TimeoutError):
        return "the connection timed out"
    if "unreachable" in text:
        return "the network is unreachable"
    return str(error) or type(error).__name__


def _prepare_in_child(data_dir: str, url: str, errors) -> None:
    """Runs in a child process: point the builder at `url`, then download and prepare."""
    import logging as child_logging
    import os
    import sys

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (tensorflow-datasets prints its own banner)
    from core.tf_runtime import tf  # noqa: F401  (quietly, first)

    try:
        import tensorflow_datasets as tfds
        from tensorflow_datasets.audio.gtzan_music_speech import gtzan_music_speech as module

        child_logging.getLogger("absl").setLevel(child_logging.ERROR)
        tfds.disable_progress_bar()
        module._DOWNLOAD_URL = url  # the builder reads this module constant when it downloads
        builder = tfds.builder(DATASET, data_dir=data_dir)
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(max_examples_per_split=None))
    except BaseException as e:  # the parent turns this into a DownloadError
        text = str(e).strip()
        if "IncompleteRead" in text or "Connection broken" in text or "ConnectionError" in type(e).__name__:
            errors.put("the connection dropped before the download finished")
        else:
            errors.put(f"{type(e).__name__}: {text.splitlines()[0][:300] if text else ''}")
        raise SystemExit(1) from None


def _bytes_under(folder: Path) -> int:
    total = 0
    if folder.is_dir():
        for p in folder.rglob("*"):
            try:
                if p.is_file():
                    total += p.stat().st_size
            except OSError:
                pass
    return total


def _remove_partial(data_dir: Path) -> None:
    """Remove what an interrupted download or preparation leaves: temporary downloads, incomplete data."""
    downloads = data_dir / "downloads"
    if downloads.is_dir():
        for p in downloads.rglob("*"):
            if ".tmp." in p.name or p.name.endswith((".incomplete", ".part")):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        shutil.rmtree(downloads / "extracted", ignore_errors=True)
    for p in (data_dir / DATASET).glob("*incomplete*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in (data_dir / DATASET).rglob("*incomplete*"):
        shutil.rmtree(p, ignore_errors=True)
    log.info("removed partial download state under %s", data_dir)
