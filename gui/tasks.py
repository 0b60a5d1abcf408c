"""The one way to run core work off the GUI thread.

`run_task(fn, ...)` runs `fn(ctx)` on a pool thread. `fn` reports with `ctx.progress(done, total, text)` and
checks `ctx.cancelled()`; its result or its error comes back to the callbacks ON THE GUI THREAD, through signals
of a `Task` object that lives there (a signal emitted from the worker reaches the Task's slots queued).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from musicspeech.core.errors import Cancelled, MusicSpeechError

log = logging.getLogger(__name__)


class TaskContext:
    """What a task function gets: progress reporting and the cancel flag."""

    def __init__(self, task: Task):
        self._task = task

    def progress(self, done: float, total: float, text: str = "") -> None:
        self._task._progress.emit(float(done), float(total), text)

    def emit(self, value: Any) -> None:
        """Send an intermediate value (a chart point, a table row) to `on_partial` on the GUI thread."""
        self._task._partial.emit(value)

    def cancelled(self) -> bool:
        return self._task.cancel_event.is_set()


class Task(QObject):
    """A running piece of work: cancel it with `cancel()`; `done` is emitted once, whatever the outcome."""

    _progress = Signal(float, float, str)
    _partial = Signal(object)
    _result = Signal(object)
    _error = Signal(str, str)
    _cancelled = Signal()
    done = Signal()

    def __init__(
        self,
        on_result=None,
        on_error=None,
        on_progress=None,
        on_partial=None,
        on_cancelled=None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.running = True
        self._callbacks = {
            "result": on_result,
            "error": on_error,
            "progress": on_progress,
            "partial": on_partial,
            "cancelled": on_cancelled,
        }
        self._progress.connect(self._on_progress)
        self._partial.connect(self._on_partial)
        self._result.connect(self._on_result)
        self._error.connect(self._on_error)
        self._cancelled.connect(self._on_cancelled)

    def cancel(self) -> None:
        self.cancel_event.set()

    def _call(self, name: str, *args) -> None:
        callback = self._callbacks[name]
        if callback is not None:
            callback(*args)

    @Slot(float, float, str)
    def _on_progress(self, done, total, text):
        self._call("progress", done, total, text)

    @Slot(object)
    def _on_partial(self, value):
        self._call("partial", value)

    @Slot(object)
    def _on_result(self, value):
        self.running = False
        self._call("result", value)
        self.done.emit()

    @Slot(str, str)
    def _on_error(self, message, details):
        self.running = False
        if details:
            log.error("task failed: %s\n%s", message, details)
        self._call("error", message)
        self.done.emit()

    @Slot()
    def _on_cancelled(self):
        self.running = False
        self._call("cancelled")
        self.done.emit()


class _Runner:
    def __init__(self, task: Task, fn: Callable[[TaskContext], Any]):
        self.task, self.fn = task, fn

    def run(self) -> None:
        try:
            self._run()
        except RuntimeError:  # the Task went with its owner (a closed window): nobody is waiting any more
            log.debug("task finished after its owner was deleted")

    def _run(self) -> None:
        ctx = TaskContext(self.task)
        try:
            value = self.fn(ctx)
        except Cancelled:
            self.task._cancelled.emit()
        except MusicSpeechError as e:  # expected, user-facing: the message says it all
            self.task._error.emit(str(e), "")
        except MemoryError:
            self.task._error.emit("not enough memory for this task", traceback.format_exc())
        except Exception as e:  # unexpected: a short message for the user, the traceback for the log
            self.task._error.emit(f"unexpected error: {type(e).__name__}: {e}", traceback.format_exc())
        else:
            if ctx.cancelled() and value is None:
                self.task._cancelled.emit()
            else:
                self.task._result.emit(value)


_live_tasks: set[Task] = set()
_running: set[Future] = set()  # every task not finished yet: the app waits a moment for them when it quits
_saves: set[Future] = set()  # tasks writing files the user asked for: the app waits for them when it quits
# Python threads (concurrent.futures) rather than QThreadPool, for their futures: quitting waits for the saves and
# the tasks still running on them (`finish_saves`, `finish_tasks`). And TensorFlow deadlocked in an eager op when a
# model was loaded on a QThreadPool thread after another one had classified (TF 2.21 / PySide6 6.12): training no
# longer brings TensorFlow here (`core.training_process`), nor does loading a model (format-1 files are refused),
# but classifying where LiteRT has no wheel still does.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="musicspeech-task")


def run_task(
    fn: Callable[[TaskContext], Any],
    *,
    on_result=None,
    on_error=None,
    on_progress=None,
    on_partial=None,
    on_cancelled=None,
    owner: QObject | None = None,
    saves: bool = False,
) -> Task:
    """Run `fn(ctx)` on a worker thread; callbacks run on the GUI thread. Returns the `Task` (for `cancel()`).

    With an `owner`, the Task is its child: when the owner is deleted (its window closed), the callbacks are
    dropped instead of reaching deleted widgets. A task that `saves` a file is waited for when the app quits
    (`finish_saves`), so that quitting right after Save does not lose the file.
    """
    task = Task(on_result, on_error, on_progress, on_partial, on_cancelled, parent=owner)
    _live_tasks.add(task)  # keep the Task (and its slots) alive until it is done
    task.done.connect(lambda: _live_tasks.discard(task))
    task.destroyed.connect(lambda: _live_tasks.discard(task))
    future = _pool.submit(_Runner(task, fn).run)
    _running.add(future)
    future.add_done_callback(_running.discard)
    if saves:
        _saves.add(future)
        future.add_done_callback(_saves.discard)
    return task


def finish_saves(timeout_s: float = 120.0) -> bool:
    """Wait for the files still being saved (when the app quits); False if some were not done in time (they
    are left as they were before: saving is atomic)."""
    return not wait(list(_saves), timeout=timeout_s).not_done


def cancel_all() -> None:
    """Ask every task still running to stop (the app is quitting)."""
    for task in list(_live_tasks):
        task.cancel_event.set()


def finish_tasks(timeout_s: float = 10.0) -> bool:
    """Wait for the tasks still running (after `cancel_all`); False if some did not end in time."""
    return not wait(list(_running), timeout=timeout_s).not_done
