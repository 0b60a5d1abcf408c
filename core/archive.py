"""Classifying archives: thousands of files on every core or on a Ray cluster, with results that survive.

- `ResultFile`: the `--output` file (JSON lines or CSV), appended a whole file's row(s) at a time and read back
  on `--resume` (which files it holds, by path, size and modification time).
- `local_results`: the files classified by N worker processes, each loading the model once (LiteRT; no
  TensorFlow), fed a few paths at a time (`task_groups`: short files in groups, so that the cost of a task
  does not outweigh a short file's; a long file alone); results come back as each group is done (in input
  order with one job, where the files go through `Classifier.classify_files` in this process).
- `cluster_results`: the same work as Ray tasks (`pip install musicspeech[cluster]`), each worker process
  loading the model once; a task whose worker dies is retried by Ray, and the driver writes each file once.

Every result is a `musicspeech.core.inference.FileResult`, as the one-process CLI and the app make them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from musicspeech.core.atomic import append_whole
from musicspeech.core.errors import MusicSpeechError, save_error
from musicspeech.core.inference import Classifier, FileResult
from musicspeech.core.quiet import DECODER_NOISE, filtered_stderr  # noqa: F401  (DECODER_NOISE: the CLI's)

FSYNC_EVERY_S = 5.0  # the output is flushed to the OS at every row, and to the disk at most this often
TASK_FILES = 8  # files in one worker task at most: a task costs milliseconds, a 10 s clip about 15 ms of work
TASK_BYTES = 8 << 20  # and their sizes together at most this (a long file goes alone: what a kill loses stays small)


# Which file ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKey:
    """A file as `--resume` knows it: the path as given, its size and modification time (ns)."""

    path: str
    size: int | None
    mtime_ns: int | None

    @classmethod
    def of(cls, path: str | os.PathLike) -> FileKey:
        try:
            st = os.stat(path)
        except (OSError, ValueError):  # missing, unreadable: its error row says so, and a resume tries again
            return cls(str(path), None, None)
        return cls(str(path), st.st_size, st.st_mtime_ns)


# The output file -----------------------------------------------------------------------------------------

FORMATS = {".jsonl": "jsonl", ".json-lines": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def output_format(path: Path, fallback: str | None = None) -> str:
    """'jsonl' or 'csv', from the file's extension, else from `fallback` ('json' or 'csv', the --format)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None and fallback in ("json", "csv"):
        fmt = "jsonl" if fallback == "json" else "csv"
    if fmt is None:
        raise MusicSpeechError(f"{path}: name the output .jsonl or .csv (or give --format json or csv)")
    return fmt


def csv_columns(labels: Sequence[str], segments: bool, identity: bool) -> list[str]:
    """One row per file, or with `segments` one row per segment (`segment` is i of `segments`)."""
    probs = [f"p_{label}" for label in labels]
    ident = ["size", "mtime_ns"] if identity else []
    if segments:
        return ["path", *ident, "segment", "segments", "start_s", "end_s", "label", *probs, "error"]
    return ["path", *ident, "label", "confidence", *probs, "duration_s", "error"]


def csv_rows(result: FileResult, labels: Sequence[str], segments: bool, key: FileKey | None = None) -> list[list]:
    ident = [] if key is None else ["" if key.size is None else key.size, "" if key.mtime_ns is None else key.mtime_ns]
    path, p = str(result.path), result.prediction
    blank_probs = [""] * len(labels)
    if segments:
        if p is None:
            return [[path, *ident, "", "", "", "", "", *blank_probs, result.error or ""]]
        n = len(p.segments)
        return [
            [
                path,
                *ident,
                i,
                n,
                f"{s.start_s:.3f}",
                f"{s.end_s:.3f}",
                s.label,
                *[f"{s.probabilities.get(label, 0.0):.4f}" for label in labels],
                "",
            ]
            for i, s in enumerate(p.segments, start=1)
        ]
    if p is None:
        return [[path, *ident, "", "", *blank_probs, "", result.error or ""]]
    probs = p.probability_dict()
    return [
        [
            path,
            *ident,
            p.label,
            f"{p.confidence:.4f}",
            *[f"{probs.get(label, 0.0):.4f}" for label in labels],
            f"{p.duration_s:.3f}",
            "",
        ]
    ]


def json_row(result: FileResult, key: FileKey | None = None) -> dict:
    row = result.to_dict()
    if key is not None:
        row["size"], row["mtime_ns"] = key.size, key.mtime_ns
    return row


class ResultFile:
    """The `--output` file: each file's result appended as whole row(s) in one `write` call, so that a process
    killed outright leaves whole rows only; flushed at every row, synced to the disk every `FSYNC_EVERY_S` and at
    `close`. Opened again (`--resume`), a torn tail (a power cut mid-row; in a CSV of segments, a file whose
    segments are not all there) is cut off, and `held` tells which files it has. `write` never writes a file
    that the output already holds. Failures raise `SaveError` ("cannot save out.csv: the disk is full")."""

    def __init__(self, path: str | os.PathLike, fmt: str, labels: Sequence[str], segments: bool, resume: bool):
        self.path, self.fmt, self.labels, self.segments = Path(path), fmt, tuple(labels), segments
        self.columns = csv_columns(self.labels, segments, identity=True)
        self.held: set[FileKey] = set()
        self.rows_at_open = 0
        self._fd = -1
        self._synced = time.monotonic()
        try:
            exists = self.path.exists() and self.path.stat().st_size > 0
            if exists and not resume:
                raise MusicSpeechError(f"{self.path} already exists: --resume to go on with it, or name another file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            self._read_back()
        except OSError as e:
            self.close()
            raise save_error(self.path, e) from e
        except BaseException:
            self.close()
            raise

    # reading back -------------------------------------------------------------------------------------------

    def _read_back(self) -> None:
        size = os.lseek(self._fd, 0, os.SEEK_END)
        os.lseek(self._fd, 0, os.SEEK_SET)
        data = b""
        while len(data) < size:
            chunk = os.read(self._fd, size - len(data))
            if not chunk:
                break
            data += chunk
        end = self._whole_end(data)
        if end < len(data):
            os.ftruncate(self._fd, end)
        if end == 0 and self.fmt == "csv":
            self._append(_csv_bytes([self.columns]))

    def _whole_end(self, data: bytes) -> int:
        """Reads the rows back into `held`; returns where the whole rows end (what follows is torn)."""
        lines, offset = [], 0
        for line in data.splitlines(keepends=True):
            lines.append((offset, line))
            offset += len(line)
        if self.fmt == "jsonl":
            return self._read_jsonl(lines, len(data))
        return self._read_csv(lines, len(data))

    def _not_ours(self, why: str) -> MusicSpeechError:
        return MusicSpeechError(f"{self.path} is not a results file of these settings ({why}): name another file")

    def _read_jsonl(self, lines, size: int) -> int:
        for offset, line in lines:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn")
                row = json.loads(line)
                key = FileKey(row["path"], row.get("size"), row.get("mtime_ns"))
            except (ValueError, KeyError, TypeError):
                if offset + len(line) == size:  # the last row, cut short: dropped
                    return offset
                raise self._not_ours(f"line {len(self.held) + 1} is not a result") from None
            self._hold(key)
        return size

    def _read_csv(self, lines, size: int) -> int:
        if not lines:
            return 0
        header_end = lines[0][0] + len(lines[0][1])
        header = _parse_csv(lines[0][1])
        if not lines[0][1].endswith(b"\n") and len(lines) == 1:
            return 0  # only a torn header
        if header != self.columns:
            raise self._not_ours("other columns: other labels, or with/without --segments")
        index = {name: i for i, name in enumerate(self.columns)}
        whole = header_end
        group_start, pending = header_end, None  # a file whose segment rows are not all read yet
        for offset, line in lines[1:]:
            row = _parse_csv(line) if line.endswith(b"\n") else None
            if row is None or len(row) != len(self.columns):
                if offset + len(line) == size:
                    return group_start if pending else offset
                raise self._not_ours(f"a row at byte {offset} does not fit")
            key = FileKey(row[0], _int(row[index["size"]]), _int(row[index["mtime_ns"]]))
            if self.segments and row[index["segment"]]:
                i, n = int(row[index["segment"]]), int(row[index["segments"]])
                if i == 1:
                    group_start, pending = offset, key
                if i == n:
                    self._hold(key)
                    pending = None
            else:
                self._hold(key)
                pending = None
            whole = offset + len(line)
            if pending is None:
                group_start = whole
        return group_start if pending else whole

    def _hold(self, key: FileKey) -> None:
        self.held.add(key)
        self.rows_at_open += 1

    # writing ------------------------------------------------------------------------------------------------

    def holds(self, key: FileKey) -> bool:
        return key.size is not None and key in self.held  # a file that could not even be looked at: tried again

    def write(self, result: FileResult, key: FileKey) -> bool:
        """Append `result` (whole, in one write); False if the output already holds this file."""
        if key in self.held:
            return False
        if self.fmt == "jsonl":
            data = (json.dumps(json_row(result, key), ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        else:
            data = _csv_bytes(csv_rows(result, self.labels, self.segments, key))
        self._append(data)
        self.held.add(key)
        if time.monotonic() - self._synced > FSYNC_EVERY_S:
            self.sync()
        return True

    def _append(self, data: bytes) -> None:
        append_whole(self._fd, data, self.path)

    def sync(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as e:
                raise save_error(self.path, e) from e
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            try:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1


def _csv_bytes(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8", "backslashreplace")


def _parse_csv(line: bytes) -> list[str] | None:
    try:
        rows = list(csv.reader(io.StringIO(line.decode("utf-8", "surrogateescape"))))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _int(text: str) -> int | None:
    return int(text) if text else None


# Classifying: a task's files ------------------------------------------------------------------------------


def classify_task(classifier: Classifier, paths: Sequence[str | os.PathLike]) -> list[FileResult]:
    """A worker's task (one file, or a group of them) through the same pipeline as the CLI's one-process run;
    decoder notices filtered out."""
    with filtered_stderr(DECODER_NOISE):
        return list(classifier.classify_files(paths, workers=1))


# Classifying: worker processes on this machine ------------------------------------------------------------

_worker_classifier: Classifier | None = None


def _start_local_worker(model_path: str, parent: int) -> None:
    """In each worker process: the model, loaded once; Ctrl+C is the parent's to handle; and an exit of its own
    when the parent is gone (killed outright), so no worker outlives a run."""
    global _worker_classifier
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _worker_classifier = Classifier.from_path(model_path)
    except Exception:  # the command loads it once more to say why, in one line (not a worker's traceback)
        os._exit(3)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _classify_in_local_worker(paths: list[str]) -> list[FileResult]:
    assert _worker_classifier is not None
    return classify_task(_worker_classifier, paths)


def task_groups(paths: Sequence[Path], files: int = TASK_FILES, size: int = TASK_BYTES) -> Iterator[list[Path]]:
    """`paths` in order, in groups of consecutive files of at most `files` files and `size` bytes together
    (a file larger than `size`, or one whose size cannot be read, alone)."""
    group: list[Path] = []
    total = 0
    for path in paths:
        try:
            n = os.stat(path).st_size
        except OSError:
            n = size
        if group and (len(group) >= files or total + n > size):
            yield group
            group, total = [], 0
        group.append(path)
        total += n
    if group:
        yield group


def local_results(
    model_path: Path,
    paths: Sequence[Path],
    jobs: int,
    cancel: Callable[[], bool] | None = None,
    classifier: Classifier | None = None,
) -> Iterator[FileResult]:
    """Classify `paths` with `jobs` worker processes, results as each group of files (`task_groups`) is done.
    `jobs=1`: in this process, through `Classifier.classify_files` (`classifier` if given), in input order."""
    if not paths:
        return
    if jobs <= 1:
        yield from (classifier or Classifier.from_path(model_path)).classify_files(paths, cancel=cancel)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    jobs = min(jobs, len(paths))
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a process that runs threads
        initializer=_start_local_worker,
        initargs=(str(model_path), os.getpid()),
    )
    pending: dict = {}
    todo = task_groups(paths, files=max(1, min(TASK_FILES, len(paths) // (2 * jobs))))  # every worker busy
    try:
        while True:
            while len(pending) < 2 * jobs and (group := next(todo, None)) is not None:
                pending[pool.submit(_classify_in_local_worker, [str(p) for p in group])] = group
            if not pending:
                return
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if cancel and cancel():
                from musicspeech.core.errors import Cancelled

                raise Cancelled("classification cancelled")
            for future in done:
                group = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool:
                    Classifier.from_path(model_path)  # a model the workers could not load: its own error line
                    raise MusicSpeechError(
                        "a worker process died (out of memory, or killed); what is done is kept: "
                        "--resume goes on from there"
                    ) from None
                for path, result in zip(group, results, strict=True):
                    yield FileResult(path, result.prediction, result.error)
    finally:
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()  # a long file in progress is not waited for: it is in flight, and lost
        pool.shutdown(wait=True, cancel_futures=True)


# Classifying: a Ray cluster -------------------------------------------------------------------------------

RAY_RETRIES = 3  # a task whose worker process (or node) dies is run again this many times
_ray_models: dict[str, Classifier] = {}


def _classify_on_ray(model: tuple[str, bytes], path: str) -> FileResult:
    """A Ray task: the model, loaded once per worker process (kept by its hash), classifies one file."""
    digest, data = model
    classifier = _ray_models.get(digest)
    if classifier is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="musicspeech-") as tmp:
            file = Path(tmp) / "model.msmodel"
            file.write_bytes(data)
            classifier = Classifier.from_path(file)
        _ray_models.clear()
        _ray_models[digest] = classifier
    return classify_task(classifier, [path])[0]


RAY_NOTICES = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+ [IW] \d+ \d+\] ")
"""Ray's own warnings and notices, printed straight to stderr by its C++ core while it connects ("Failed to
determine local IP via external connectivity ..." on a machine with no route out); its errors still show."""


def _check_reachable(address: str) -> None:
    """A HOST:PORT that does not answer is said at once (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # 'auto', or a scheme of Ray's own: Ray says what is wrong
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as e:
        problem = e.strerror or str(e) or type(e).__name__
        raise MusicSpeechError(f"cannot reach the Ray cluster at {address}: {problem.lower()}") from None


def cluster_results(
    address: str,
    model_path: Path,
    paths: Sequence[Path],
    cancel: Callable[[], bool] | None = None,
    lost: list[str] | None = None,
) -> Iterator[FileResult]:
    """Classify `paths` as Ray tasks on the cluster at `address` (a `ray start --head` address, or `auto`),
    results as each file is done. The files must be readable at the same path on every node (a shared folder).
    A file whose task fails even after `RAY_RETRIES` retries is named in `lost` (no row: a resume tries it)."""
    if not paths:
        return
    try:
        import ray
    except ImportError:
        raise MusicSpeechError(
            "--cluster needs Ray: pip install 'musicspeech[cluster]' (on this machine and on every node)"
        ) from None
    import hashlib
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    data = Path(model_path).read_bytes()
    _check_reachable(address)
    try:
        with filtered_stderr(RAY_NOTICES):
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise MusicSpeechError(f"cannot reach the Ray cluster at {address}: {first}") from None
    try:
        model = ray.put((hashlib.sha256(data).hexdigest(), data))
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False)(_classify_on_ray)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        pending: dict = {}
        todo = iter(paths)
        while True:
            while len(pending) < 2 * cpus and (path := next(todo, None)) is not None:
                pending[task.remote(model, str(path))] = path
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
            if cancel and cancel():
                from musicspeech.core.errors import Cancelled

                raise Cancelled("classification cancelled")
            for ref in done:
                path = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as e:
                    if lost is not None:
                        lost.append(f"{path}: {type(e).__name__}")
                    continue
                yield FileResult(path, result.prediction, result.error)
    finally:
        for ref in list(locals().get("pending", {})):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        ray.shutdown()
