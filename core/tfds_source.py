"""GTZAN music/speech through tensorflow-datasets: the app's default data source.

`tfds.load('gtzan_music_speech')` downloads the original archive and prepares it. As it is, that is unfriendly
in three ways: offline, tensorflow-datasets retries for minutes before it fails; its download cannot be
cancelled; and a server that stops sending leaves it waiting for ever. So here:

* the URL is probed first (a plain message within seconds when the host cannot be reached);
* download-and-prepare runs in a child process ("spawn"), which is terminated on cancel; the parent reports
  progress from the bytes the child writes, and stops it when the download has not grown for
  `STALL_TIMEOUT_S` (tensorflow-datasets downloads through requests with no timeout at all);
* what tensorflow-datasets leaves half-done is removed, and so is a downloaded file that turned out not to be
  the archive (tensorflow-datasets registers no checksum for this URL, so it would reuse a bad file for ever);
* the archive's size and SHA-256 are checked against those recorded for it in tensorflow-datasets' source tree
  (`GTZAN_ARCHIVE`; the published package lacks them) before anything is extracted: another file at the URL
  (a mirror's different copy, a damaged transfer) is refused and deleted, and the next try downloads afresh.

Where tensorflow-datasets 4.9.10 writes, under `data_dir`:
`downloads/gtzan_music_speech/<url name>.tmp.<hex>/` while downloading, then `<url name>` beside a `.INFO`
file; `downloads/extracted/incomplete.<hex>_TAR_GZ.<url name>/` while extracting, then without the prefix;
`gtzan_music_speech/incomplete.<6 chars>_1.0.0/` while preparing, renamed to `1.0.0/` at the very end.
A prepared data set holds the audio itself, so the extracted copy is removed afterwards; the downloaded
archive is kept (preparing again needs no network).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import multiprocessing
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicspeech.core.datasets import Clip, Dataset
from musicspeech.core.errors import Cancelled, DatasetError, DownloadError

log = logging.getLogger(__name__)

DATASET = "gtzan_music_speech"
GTZAN_URL = "http://opihi.cs.uvic.ca/sound/music_speech.tar.gz"  # the builder's own default
SOURCE_NAME = "tensorflow-datasets gtzan_music_speech"


@dataclass(frozen=True)
class ArchiveChecksum:
    size: int
    sha256: str


GTZAN_ARCHIVE = ArchiveChecksum(297_055_930, "8753bc4129fc0a916d6efcf25dbcaf30e06b41acb44ad7c3d0b5c9d9c90ff546")
"""The original music_speech.tar.gz: size and SHA-256 from tensorflow-datasets' checksums.tsv for this data set."""

STALL_TIMEOUT_S = 60.0
"""A download that has not grown for this long is given up (read by `download_gtzan` at each call)."""
POLL_S = 0.1

HOST_NOTE = (
    "The GTZAN download host has been reported unreachable for years (tensorflow/datasets#4090, pytorch/audio#2743)."
)
IMPORT_HINT = (
    "If you have music_speech.tar.gz or its extracted folder, import it instead: "
    "`musicspeech train --data PATH/music_speech.tar.gz` (or `--data FOLDER`), "
    'or in the app: Train tab, "Import archive or folder".'
)

ProgressFn = Callable[[int, int | None], None]
"""progress(bytes_done, bytes_total or None)"""

_WORK_DIR = ".musicspeech-download"  # the child's temporary files and log, removed after every run
_VERSION_DIR = re.compile(r"^\d+\.\d+\.\d+$")
_PREPARED_FILES = ("dataset_info.json", "features.json")  # written last, just before the rename


def default_data_dir() -> Path:
    """Where the app keeps tensorflow-datasets' data: `<user data dir>/tensorflow_datasets`."""
    from musicspeech.core.paths import user_data_dir

    return user_data_dir() / "tensorflow_datasets"


def is_prepared(data_dir: Path | None = None) -> bool:
    """Whether GTZAN is prepared in `data_dir`, so that it loads with no network."""
    return _prepared_dir(Path(data_dir) if data_dir else default_data_dir()) is not None


def download_gtzan(
    data_dir: Path | None = None,
    url: str = GTZAN_URL,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    connect_timeout_s: float = 10.0,
    checksum: ArchiveChecksum | None = GTZAN_ARCHIVE,
) -> Path:
    """Download and prepare GTZAN music/speech into `data_dir` (if not done yet); returns `data_dir`.

    The file must have `checksum`'s size and SHA-256 (the original archive's, whatever the URL; None: any file
    in the archive's layout). Raises `DownloadError` (one plain line, saying what to do instead) or
    `Cancelled`; either way nothing half-written is left behind.
    """
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if is_prepared(data_dir):
        return data_dir
    _remove_partial(data_dir)  # left by a run that was killed outright
    cached = _cached_download(data_dir, url)
    if cached is not None:  # downloaded before, preparing did not finish: no network needed
        log.info("GTZAN archive already downloaded: %s", cached)
        total: int | None = cached.stat().st_size
    else:
        total = probe(url, connect_timeout_s, cancel)
        if checksum is not None and total is not None and total != checksum.size:  # no need to fetch it to know
            raise DownloadError(
                f"{_FAILURES['checksum'].split(';')[0]}: {url} offers {total:,} bytes, the archive has "
                f"{checksum.size:,}. " + IMPORT_HINT
            )
    data_dir.mkdir(parents=True, exist_ok=True)
    kind, detail = _prepare_in_child_process(data_dir, url, total, progress, cancel, checksum)
    if kind == "ok" and is_prepared(data_dir):
        _remove_partial(data_dir)
        log.info("GTZAN prepared in %s", data_dir)
        return data_dir
    if kind in ("bad_archive", "no_clips", "checksum"):
        _remove_cached_download(data_dir, url)  # or the next try would reuse it
    _remove_partial(data_dir)
    raise DownloadError(f"{_FAILURES.get(kind, 'Preparing GTZAN failed')}{detail}. " + IMPORT_HINT)


def load_gtzan(
    data_dir: Path | None = None,
    download: bool = True,
    url: str = GTZAN_URL,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    checksum: ArchiveChecksum | None = GTZAN_ARCHIVE,
) -> Dataset:
    """GTZAN music/speech as a `Dataset` of in-memory 16-bit clips (22,050 Hz), downloaded if needed."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    prepared = _prepared_dir(data_dir)
    if prepared is None:
        if not download:
            raise DownloadError(
                f"GTZAN is not downloaded yet (nothing prepared in {data_dir}); download it with "
                "`musicspeech download`. " + IMPORT_HINT
            )
        download_gtzan(data_dir, url, progress, cancel, checksum=checksum)
        prepared = _prepared_dir(data_dir)
        if prepared is None:  # pragma: no cover  (download_gtzan raises rather than return unprepared)
            raise DownloadError(f"GTZAN was downloaded but is not prepared in {data_dir}")
    return _read_prepared(prepared, cancel)


def probe(url: str, timeout_s: float = 10.0, cancel: Callable[[], bool] | None = None) -> int | None:
    """Check that `url` answers with a file; return its size if the server says so.

    Raises `DownloadError` in plain words (no network, host not found, refused, HTTP status, web page) or
    `Cancelled`. Runs in a thread so that a slow name lookup can be cancelled, and gives up after
    `timeout_s` + 5 s whatever happens.
    """
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["size"] = _probe_once(url, timeout_s)
        except BaseException as e:  # handed over to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=run, name="gtzan-probe", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s + 5.0
    while thread.is_alive():
        if cancel and cancel():
            raise Cancelled("download cancelled")
        if time.monotonic() > deadline:
            raise _unreachable(url, f"no answer within {timeout_s + 5.0:.0f} s")
        thread.join(POLL_S)
    error = box.get("error")
    if isinstance(error, BaseException):
        raise error
    size = box.get("size")
    return size if isinstance(size, int) else None


# Probe ---------------------------------------------------------------------------------------------------


def _probe_once(url: str, timeout_s: float) -> int | None:
    request = urllib.request.Request(url, headers={"User-Agent": "musicspeech"})
    try:
        # A GET whose body is not read (some servers refuse HEAD); closing drops the connection.
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            content_type = (response.headers.get("Content-Type") or "").lower()
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as e:
        raise _unreachable(url, f"the server answered HTTP {e.code} {e.reason}".rstrip()) from None
    except urllib.error.URLError as e:
        raise _unreachable(url, _network_reason(e.reason, timeout_s)) from None
    except (OSError, ValueError) as e:  # timeouts and resets after connecting; a malformed URL
        raise _unreachable(url, _network_reason(e, timeout_s)) from None
    if content_type.startswith("text/html"):  # a captive portal, a "moved" notice, a login page
        raise _unreachable(url, "the server answered with a web page, not the archive")
    return int(length) if length and length.strip().isdigit() else None


def _unreachable(url: str, reason: str) -> DownloadError:
    return DownloadError(f"Cannot download GTZAN from {url}: {reason}. {HOST_NOTE} {IMPORT_HINT}")


def _network_reason(error: object, timeout_s: float) -> str:
    if isinstance(error, socket.gaierror):
        return "the host name could not be looked up (no network, or no such host)"
    if isinstance(error, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(error, TimeoutError):  # socket.timeout too
        return f"no answer within {timeout_s:.0f} s"
    if isinstance(error, ConnectionResetError):
        return "the connection was reset"
    if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "the network is unreachable (no network?)"
    text = str(error).strip()
    if "refused" in text.lower():
        return "the connection was refused"
    if "timed out" in text.lower():
        return f"no answer within {timeout_s:.0f} s"
    return _first_line(text) or type(error).__name__


# The child process ---------------------------------------------------------------------------------------

_FAILURES = {
    "drop": "Cannot download GTZAN: the connection dropped before the download finished",
    "stall": "Cannot download GTZAN: the server stopped sending data",
    "net": "Cannot download GTZAN: ",
    "bad_archive": "The downloaded file is not a readable music_speech.tar.gz archive",
    "checksum": "The downloaded file is not the GTZAN archive (its size or SHA-256 is not the original's); it was "
    "deleted, so trying again downloads it afresh",
    "no_clips": "The downloaded archive holds no music_speech/music_wav or speech_wav clips",
    "disk": "Not enough disk space to download and prepare GTZAN",
    "crash": "The download stopped unexpectedly",
    "other": "Preparing GTZAN failed: ",
}


def _prepare_in_child_process(
    data_dir: Path,
    url: str,
    total: int | None,
    progress: ProgressFn | None,
    cancel: Callable[[], bool] | None,
    checksum: ArchiveChecksum | None = None,
) -> tuple[str, str]:
    """Run tensorflow-datasets' download-and-prepare in a child; returns (outcome kind, detail)."""
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    work = data_dir / _WORK_DIR
    child = context.Process(
        target=_child_main,
        args=(str(data_dir), url, str(work), writer, checksum),
        name="gtzan-download",
        daemon=True,
    )
    stall_timeout_s = float(STALL_TIMEOUT_S)
    meter = _Meter(data_dir, url, total, progress)
    try:
        child.start()
        writer.close()  # the child holds the only writing end: EOF when it dies
        while child.exitcode is None and not reader.poll():  # until the child reports, or dies
            if cancel and cancel():
                raise Cancelled("download cancelled")
            if meter.poll() > stall_timeout_s:  # requests waits for ever on a silent server
                _stop(child)
                return "stall", f" for {stall_timeout_s:.0f} s"
            child.join(POLL_S)
        outcome = reader.recv() if reader.poll() else None
    except EOFError:  # died without a word
        outcome = None
    except BaseException:
        _stop(child)
        _remove_partial(data_dir)
        raise
    finally:
        reader.close()
    child.join(10)  # the work is done; tensorflow's teardown should not keep anyone waiting
    _stop(child)
    if outcome is None:
        _log_child_output(work)
        return "crash", f" (exit code {child.exitcode})"
    kind, detail = outcome
    if kind == "ok":
        meter.finish()
    else:
        _log_child_output(work)
    return kind, detail


def _stop(child: multiprocessing.process.BaseProcess) -> None:
    if child.pid is None:  # never started
        return
    if child.exitcode is None:
        child.terminate()
        child.join(3)
    if child.exitcode is None:
        child.kill()
        child.join(3)


def _child_main(data_dir: str, url: str, work_dir: str, conn, checksum: ArchiveChecksum | None = None) -> None:
    """The child process: point the builder at `url`, download and prepare; send back (kind, detail).

    With a `checksum`, it is registered for `url` the way tensorflow-datasets registers the checksums of its own
    data sets: the download is checked before it is extracted (`NonMatchingChecksumError`), and a cached copy that
    does not match is downloaded again."""
    import sys
    import tempfile
    import traceback

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out = open(work / "child.log", "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    # TensorFlow's C++ notices, tqdm bars and banners go to the log, not to the user's terminal.
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(out.fileno(), fd)
    sys.stdout = sys.stderr = out
    tempfile.tempdir = str(work)  # tensorflow-datasets leaves an empty temporary folder behind per builder
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow_datasets as tfds
        from tensorflow_datasets.audio.gtzan_music_speech import gtzan_music_speech as module

        tfds.disable_progress_bar()
        module._DOWNLOAD_URL = url  # the builder reads this module constant when it downloads
        if checksum is not None:
            from tensorflow_datasets.core.download.checksums import UrlInfo

            expected = UrlInfo(size=checksum.size, checksum=checksum.sha256, filename="music_speech.tar.gz")
            module.GTZANMusicSpeech.url_infos = {url: expected}  # shadows the (empty) class property
        builder = tfds.builder(DATASET, data_dir=data_dir)
        builder.download_and_prepare()
        outcome = ("ok", "")
    except BaseException as e:
        traceback.print_exc(file=out)
        outcome = _classify(e, data_dir)
    try:
        conn.send(outcome)
    except OSError:  # the parent is gone
        pass
    finally:
        conn.close()
        out.flush()


def _classify(error: BaseException, data_dir: str) -> tuple[str, str]:
    """What went wrong in the child, as (kind, detail) for `_FAILURES`."""
    chain = list(_exception_chain(error))
    names = {type(e).__name__ for e in chain} | {
        base.__name__ for e in chain for base in type(e).__mro__ if base is not object
    }
    text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain):
        return "disk", f" in {data_dir}"
    if "NonMatchingChecksumError" in names:
        return "checksum", ""
    if "Compressed file ended" in text or "EOFError" in names:
        return "bad_archive", " (the file is cut short)"
    if "could not be opened successfully" in text:  # tensorflow-datasets tried gz, bz2, xz and tar
        return "bad_archive", " (it is not a tar or tar.gz file)"
    if names & {"ExtractError", "ReadError", "BadGzipFile", "CouldntDecodeError"} or "zlib" in text.lower():
        return "bad_archive", f" ({_first_line(str(chain[-1]))[:200]})"
    if "No examples were yielded" in text:
        return "no_clips", ""
    if names & {"ReadTimeout", "ReadTimeoutError", "ConnectTimeout", "TimeoutError"} or "timed out" in text:
        return "stall", ""
    if "refused" in text.lower():  # the host went away between the probe and the download
        return "net", "the connection was refused"
    match = re.search(r"HTTP code: (\d+)|too many (\d+) error responses", text)
    if match:
        return "net", f"the server answered HTTP {match.group(1) or match.group(2)}"
    if names & {"ChunkedEncodingError", "IncompleteRead", "ProtocolError", "RemoteDisconnected"} or (
        names & {"ConnectionError", "ConnectionResetError"}
    ):
        return "drop", ""
    return "other", f"{type(error).__name__}: {_first_line(str(error))[:300]}"


def _exception_chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _log_child_output(work: Path) -> None:
    try:
        lines = (work / "child.log").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    if lines:
        log.debug("tensorflow-datasets said (last lines):\n%s", "\n".join(lines[-30:]))


class _Meter:
    """Progress, and stalls, from the size of the file the child is downloading (tensorflow-datasets'
    `.tmp.` folder)."""

    def __init__(self, data_dir: Path, url: str, total: int | None, progress: ProgressFn | None):
        self.data_dir, self.url, self.total, self.progress = data_dir, url, total, progress
        self.done, self.complete = 0, False
        self.last: tuple[int, int | None] | None = None
        self.size, self.since = -1, time.monotonic()

    def poll(self) -> float:
        """Report progress; returns how long (s) the download has not grown, 0 when not downloading."""
        tmp_dirs = _download_tmp_dirs(self.data_dir)
        if tmp_dirs:
            size = sum(_size(f) for d in tmp_dirs for f in _files(d))
            self._report(size, self.total)
            if size != self.size:
                self.size, self.since = size, time.monotonic()
            return time.monotonic() - self.since
        if not self.complete:  # finished (or cached before): the file is under its cache name
            cached = _cached_download(self.data_dir, self.url)
            if cached is not None:
                self.complete = True
                self._report(self.total or _size(cached), self.total)
        self.size, self.since = -1, time.monotonic()
        return 0.0

    def finish(self) -> None:
        """The download is complete: report (size, size)."""
        if self.progress is None:
            return
        cached = _cached_download(self.data_dir, self.url)
        final = self.total or (_size(cached) if cached is not None else self.done)
        self._report(final, final)

    def _report(self, done: int, total: int | None) -> None:
        if total:
            done = min(done, total)
        self.done = max(self.done, done)
        if self.progress is not None and (self.done, total) != self.last:
            self.last = (self.done, total)
            self.progress(self.done, total)


def _files(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:  # renamed or removed meanwhile
        return []


# Files under data_dir ------------------------------------------------------------------------------------


def _prepared_dir(data_dir: Path) -> Path | None:
    """The newest complete `<data_dir>/gtzan_music_speech/<version>/`, if any."""
    root = data_dir / DATASET
    if not root.is_dir():
        return None
    versions = [
        d for d in root.iterdir() if _VERSION_DIR.match(d.name) and all((d / f).is_file() for f in _PREPARED_FILES)
    ]
    return max(versions, key=lambda d: tuple(int(x) for x in d.name.split(".")), default=None)


def _download_dirs(data_dir: Path) -> list[Path]:
    """`downloads/` and its per-dataset folders (4.9.10 writes to `downloads/gtzan_music_speech/`)."""
    downloads = data_dir / "downloads"
    if not downloads.is_dir():
        return []
    return [downloads, *(d for d in downloads.iterdir() if d.is_dir() and d.name != "extracted")]


def _download_tmp_dirs(data_dir: Path) -> list[Path]:
    try:
        return [p for d in _download_dirs(data_dir) for p in d.iterdir() if ".tmp." in p.name and p.is_dir()]
    except OSError:  # renamed or removed while listed
        return []


def _info_files(data_dir: Path) -> list[Path]:
    return [p for d in _download_dirs(data_dir) for p in d.glob("*.INFO")]


def _info_urls(info: Path) -> list[str]:
    try:
        return list(json.loads(info.read_text(encoding="utf-8")).get("urls", []))
    except (OSError, ValueError, AttributeError):
        return []


def _cached_download(data_dir: Path, url: str) -> Path | None:
    """The file tensorflow-datasets downloaded from `url` and keeps in its cache, if it is there."""
    for info in _info_files(data_dir):
        target = info.with_name(info.name[: -len(".INFO")])
        if url in _info_urls(info) and target.is_file():
            return target
    return None


def _remove_cached_download(data_dir: Path, url: str) -> None:
    for info in _info_files(data_dir):
        if url in _info_urls(info):
            info.with_name(info.name[: -len(".INFO")]).unlink(missing_ok=True)
            info.unlink(missing_ok=True)
            log.info("removed the bad download %s", info.name[: -len(".INFO")])


def _remove_partial(data_dir: Path) -> None:
    """Remove what an interrupted download or preparation leaves; keep complete downloads and data."""
    removed = []
    for d in _download_dirs(data_dir):
        for p in list(d.iterdir()):
            if ".tmp." in p.name or p.name.startswith("incomplete."):
                removed.append(p)
    for info in _info_files(data_dir):  # tensorflow-datasets writes .INFO just before it moves the file in
        if not info.with_name(info.name[: -len(".INFO")]).exists():
            removed.append(info)
    removed.append(data_dir / "downloads" / "extracted")  # the prepared records hold the audio
    root = data_dir / DATASET
    if root.is_dir():
        removed.extend(p for p in root.iterdir() if p.name.startswith("incomplete."))
        removed.extend(root.glob("*/incomplete.*"))
    removed.append(data_dir / _WORK_DIR)
    for p in removed:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists() or p.is_symlink():
            with contextlib.suppress(OSError):
                p.unlink()
    for d in [*reversed(_download_dirs(data_dir)), root]:  # folders emptied above
        with contextlib.suppress(OSError):
            d.rmdir()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# Reading the prepared data set ---------------------------------------------------------------------------


def _read_prepared(prepared: Path, cancel: Callable[[], bool] | None) -> Dataset:
    """Clips from a prepared data set folder (no network; the builder's code is not needed)."""
    from musicspeech.core.tf_runtime import tf  # quietly, before tensorflow-datasets imports it

    with _quiet_absl():
        import tensorflow_datasets as tfds

        try:
            builder = tfds.builder_from_directory(str(prepared))
            names = builder.info.features["label"].names  # the data set's own class names, by index
            rate_hz = int(builder.info.features["audio"].sample_rate)
            clips = []
            for example in tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False)):
                if cancel and cancel():
                    raise Cancelled("loading cancelled")
                label = names[int(example["label"])]
                filename = example["audio/filename"].decode("utf-8", errors="replace")
                samples = _pcm(np.asarray(example["audio"]), f"{label}/{filename}")
                clips.append(Clip(name=f"{label}/{filename}", label=label, samples=samples, rate_hz=rate_hz))
        except (tf.errors.OpError, OSError, ValueError, KeyError, AssertionError) as e:
            raise DatasetError(
                f"the prepared GTZAN in {prepared} cannot be read ({_first_line(str(e))[:200]}); "
                "delete that folder and download again"
            ) from None
    if not clips:
        raise DatasetError(f"the prepared GTZAN in {prepared} holds no clips; delete it and download again")
    clips.sort(key=lambda c: c.name)
    return Dataset(tuple(clips), source=SOURCE_NAME)


def _pcm(samples: np.ndarray, name: str) -> np.ndarray:
    """tensorflow-datasets' int64 samples as the integer type whose full scale they use."""
    if samples.size == 0:
        return samples.astype(np.int16)
    lo, hi = int(samples.min()), int(samples.max())
    if lo >= -(2**15) and hi < 2**15:  # GTZAN is 16-bit
        return samples.astype(np.int16)
    if lo >= -(2**31) and hi < 2**31:  # pydub widens 24-bit audio to 32-bit
        log.warning("%s: samples beyond 16 bits, read as 32-bit audio", name)
        return samples.astype(np.int32)
    raise DatasetError(f"{name}: samples out of range for PCM audio ({lo}..{hi})")


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """tensorflow-datasets logs deprecation notices and progress through absl: keep them below ERROR."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
