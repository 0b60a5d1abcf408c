"""Training in a child process, so that the process that asks for it (the app) never loads TensorFlow.

`train_in_child(source, settings, listener, cancel)` is `core.training.train` run in a child process started with
multiprocessing's spawn method (a fresh interpreter; in the frozen app, the app's own executable, which
`multiprocessing.freeze_support()` turns into the child). The child reads the data (`load_source`: a folder, an
archive, or GTZAN through tensorflow-datasets, downloaded if need be), trains, converts the network, and sends
everything back through a pipe:

* progress, as `TrainingListener` calls: `stage` (downloading: GTZAN, or YAMNet's weights for its recipe;
  loading, features, embeddings; evaluating: the held-out clips through the app's analyser; converting),
  `data` (the data summary), `batch` and `epoch` (loss and accuracy for the live chart), replayed on the
  caller's listener;
* at the end one of: the `TrainResult`, whose bundle is a `core.bundle.TrainedBundle` (the network files' bytes:
  saving it and classifying with it need no TensorFlow); `cancelled`; or an error as one line.

Cancel sets an event the child checks at every clip and every batch: it stops there, and sends the best weights
so far as `train` does (or `Cancelled` before the first epoch ended). What the child writes (the feature cache,
YAMNet's weights, GTZAN) is written atomically or removed when cancelled; the model is saved by the caller, from
the result. If the child dies (killed, out of memory, a crash in native code), the caller gets
a `TrainingError` in one line and can carry on; if the caller's process dies, the child stops too.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from musicspeech.core.datasets import Dataset, DataSummary
from musicspeech.core.errors import Cancelled, MusicSpeechError
from musicspeech.core.recipes import TrainSettings
from musicspeech.core.training import TrainingListener, TrainResult

log = logging.getLogger(__name__)

TFDS = "tfds"  # the data source that means GTZAN through tensorflow-datasets
POLL_S = 0.1  # how often the caller checks its cancel flag while waiting for the child
CANCEL_GRACE_S = 60.0  # after Cancel, how long the child may take to send the best weights so far (converted)

_children: set[multiprocessing.process.BaseProcess] = set()
_stopped: set[multiprocessing.process.BaseProcess] = set()  # ended by `stop_all`: a cancel, not a death
_children_lock = threading.Lock()


class TrainingError(MusicSpeechError):
    """The training process failed, or ended without a word (killed, out of memory, a crash)."""


def load_source(
    source: str, listener: TrainingListener | None = None, cancel: Callable[[], bool] | None = None
) -> Dataset:
    """The data set `source` names: `TFDS` (GTZAN through tensorflow-datasets, downloaded if need be, with
    `listener.stage("downloading", done, total)`), or a folder or archive on disk."""
    if source == TFDS:
        from musicspeech.core import tfds_source

        listener = listener or TrainingListener()
        return tfds_source.load_gtzan(
            progress=lambda done, total: listener.stage("downloading", done, total or 0), cancel=cancel
        )
    from musicspeech.core.datasets import open_source

    return open_source(source)


def train_in_child(
    source: str,
    settings: TrainSettings,
    listener: TrainingListener | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train on `source` (see `load_source`) in a child process; the listener hears its progress here, in the
    calling thread. Returns the `TrainResult` (its bundle a `TrainedBundle`); raises `Cancelled`, or a
    `MusicSpeechError` in one line (`TrainingError` when the child failed unexpectedly or died)."""
    listener = listener or TrainingListener()
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    stop = context.Event()
    # Not a daemon: a daemonic process may not start processes, and the GTZAN download runs in one of its own.
    child = context.Process(
        target=_child_main, args=(source, settings, writer, stop), name="musicspeech-training", daemon=False
    )
    with _children_lock:
        child.start()
        _children.add(child)
    writer.close()  # the child holds the only writing end: the reader gets EOF when the child is gone
    cancelled_at: float | None = None
    try:
        while True:
            if cancelled_at is None and cancel is not None and cancel():
                stop.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                raise Cancelled("training cancelled (the training process did not stop in time and was ended)")
            if not reader.poll(POLL_S):
                continue
            try:
                message = reader.recv()
            except (EOFError, OSError):  # the child is gone without a last word
                child.join(5)
                if cancelled_at is not None or child in _stopped:
                    raise Cancelled("training cancelled") from None
                raise TrainingError(_died(child.exitcode)) from None
            kind, args = message[0], message[1:]
            if kind == "result":
                return args[0]
            if kind == "cancelled":
                raise Cancelled(args[0])
            if kind == "error":
                text, details = args
                if details:
                    log.error("training process: %s\n%s", text, details)
                raise TrainingError(text)
            getattr(listener, kind)(*args)  # stage, data, batch, epoch
    finally:
        reader.close()
        _end(child, wait_s=5)
        with _children_lock:
            _children.discard(child)
            _stopped.discard(child)


def stop_all() -> None:
    """End every training process at once (the app is quitting): no result is waited for."""
    with _children_lock:
        children = list(_children)
        _stopped.update(children)
    for child in children:
        _end(child, wait_s=0)


atexit.register(stop_all)


def _end(child: multiprocessing.process.BaseProcess, wait_s: float = 10.0) -> None:
    """Wait a little for the child to end on its own (it has sent its last word), then terminate, then kill it."""
    if child.pid is None:
        return
    if wait_s:
        child.join(wait_s)
    for end in (child.terminate, child.kill):
        if child.exitcode is not None:
            break
        end()
        child.join(3)


def _died(exitcode: int | None) -> str:
    """Why the child ended, for one line."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = f"it was killed ({name}"
        return f"the training process ended unexpectedly: {why}{', out of memory?' if exitcode == -9 else ''})"
    return f"the training process ended unexpectedly (exit status {exitcode})"


# The child ------------------------------------------------------------------------------------------------


class _Sender(TrainingListener):
    """The child's listener: every call goes to the parent through the pipe, from any thread. If the parent is
    gone (the pipe broke), the run stops at the next cancel check."""

    def __init__(self, conn):
        self.conn = conn
        self.lock = threading.Lock()
        self.gone = False

    def send(self, *message: Any) -> None:
        with self.lock:
            if self.gone:
                return
            try:
                self.conn.send(message)
            except (BrokenPipeError, EOFError, OSError):
                self.gone = True

    def stage(self, name: str, done: int, total: int) -> None:
        self.send("stage", name, done, total)

    def data(self, summary: DataSummary) -> None:
        self.send("data", summary)

    def batch(self, epoch: int, batch: int, batches: int, logs: dict[str, float]) -> None:
        self.send("batch", epoch, batch, batches, logs)

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        self.send("epoch", epoch, epochs, logs)


def _child_main(source: str, settings: TrainSettings, conn, stop) -> None:
    """The child process: load the data, train, convert the network, send the result (or why not)."""
    _exit_with_parent()
    signal.signal(signal.SIGTERM, _terminated)  # ended by `stop_all`: stop as a cancel does, cleaning up
    sender = _Sender(conn)

    def cancelled() -> bool:
        return stop.is_set() or sender.gone

    try:  # everything inside: whatever happens, the parent hears it in one line
        from musicspeech.core.feature_cache import FeatureCache
        from musicspeech.core.training import train

        if settings.features.kind == "yamnet":  # YAMNet's weights first, once
            from musicspeech.core.yamnet import download_weights, have_weights

            if not have_weights():
                download_weights(progress=lambda d, t: sender.stage("downloading YAMNet", d, t or 0), cancel=cancelled)
        dataset = load_source(source, sender, cancelled)
        result = train(dataset, settings, sender, cancel=cancelled, cache=FeatureCache())
        sender.stage("converting", 0, 1)
        sender.send("result", dataclasses.replace(result, bundle=result.bundle.portable()))
    except Cancelled as e:
        sender.send("cancelled", str(e))
    except MusicSpeechError as e:  # expected, user-facing: the message says it all
        sender.send("error", str(e), "")
    except MemoryError:
        sender.send("error", "not enough memory to train", traceback.format_exc())
    except BaseException as e:  # unexpected: one line for the user, the traceback for the log
        sender.send("error", f"unexpected error: {type(e).__name__}: {e}".splitlines()[0], traceback.format_exc())
    finally:
        conn.close()
    # Everything is sent and nothing is left to write: leave without the interpreter's and TensorFlow's teardown
    # (seconds), which nobody needs to wait for.
    for stream in (sys.stdout, sys.stderr):  # None in a frozen app without a console
        if stream is not None:
            stream.flush()
    os._exit(0)


def _terminated(signum, frame) -> None:
    """SIGTERM in the child: raised as a cancel, once, so that what is under way stops the way a cancel stops it
    (the GTZAN download ends its own process and removes what it left half-done)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Cancelled("training stopped")


def _exit_with_parent() -> None:
    """End this process, and the processes it started, when its parent ends, whatever it is doing (a parent
    killed outright cannot say so)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        for child in multiprocessing.active_children():  # the GTZAN download's
            child.kill()
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
