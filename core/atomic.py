"""Atomic saving: write to a temporary file beside the target, flush it to disk, then rename over the target.

An interrupted save (crash, full disk, read-only folder, cancel) leaves the previous file as it was and no
half-written file. A failure is raised as `SaveError`: one line naming the file and the cause ("cannot save
take.wav: the disk is full"), for the CLI and the app alike.

The temporary file is `.<name>.<random>.part`, locked (`flock`) for as long as it is written. A save killed
outright (SIGKILL, power cut) leaves it behind, hidden, never read and never in the way of the next save (each
save gets a new name); the next save of the same name removes the ones whose lock is free, i.e. whose writer is
gone. Without `fcntl` (Windows) such files are left alone. `atomic_dir` does the same for a folder filled in one
go (an extracted archive).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from musicspeech.core.errors import save_error

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, strays are left alone
    fcntl = None

PART = ".part"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target`. On failure it is removed, and an
    `OSError` is raised as `SaveError`, anything else (a cancel, a bug) as it was."""
    target = Path(target)
    tmp, lock = _begin(target, folder=False)
    try:
        try:
            yield tmp
            _fsync_file(tmp)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        finally:
            _release(lock)
    except OSError as e:
        if e.errno is None:  # not the system's (a bad gzip stream read inside, ...): as it was
            raise
        raise save_error(target, e) from e


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside `target` (which must not exist yet); on success it is renamed to
    `target`, on failure it is removed with everything in it."""
    target = Path(target)
    tmp, lock = _begin(target, folder=True)
    try:
        try:
            yield tmp
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _release(lock)
    except OSError as e:
        if e.errno is None:  # not the system's (a bad gzip stream read inside, ...): as it was
            raise
        raise save_error(target, e) from e


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """UTF-8; a file name in `text` that is not UTF-8 (lone surrogates in Python) as `\\udce9`, a JSON escape."""
    return write_bytes(target, text.encode("utf-8", "backslashreplace"))


def append_whole(fd: int, data: bytes, path: str | os.PathLike) -> None:
    """Append `data` to the open file `fd` whole or not at all: a write that fails part-way (the disk filling
    up) is cut back off, so the file holds what it held before. Raises `SaveError` naming `path`. For logs that
    grow a row at a time (a rename cannot save them)."""
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        done = 0
        while done < len(data):  # a short write (the disk filling up) is followed by one that fails
            done += os.write(fd, data[done:])
    except OSError as e:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)  # no half row
        raise save_error(Path(path), e) from e


def check_writable(target: str | os.PathLike) -> None:
    """Raise `SaveError` now if `target` cannot be saved (read-only folder, no permission, full disk), before
    long work whose result would be lost: a small file is written beside it and removed."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=PART, dir=target.parent)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    except OSError as e:
        raise save_error(target, e) from e


def remove_strays(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporary files (and folders) that saves of `name` into `folder` left when they were killed
    mid-write; those still being written are locked and kept. Returns what was removed. `name=None` takes every
    hidden `.part` file: only for the app's own folders (a browser's unfinished download could match)."""
    if fcntl is None:
        return []
    pattern = (glob.escape(_prefix(Path(name))) if name else ".") + "*" + PART
    return [stray for stray in Path(folder).glob(pattern) if _remove_if_abandoned(stray)]


def _prefix(target: Path) -> str:
    return f".{target.name}."


def _begin(target: Path, folder: bool) -> tuple[Path, int | None]:
    """A new temporary file or folder beside `target`, and the descriptor that holds its lock."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_strays(target.parent, target.name)
        for _ in range(5):
            if folder:
                tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=PART, dir=target.parent))
                os.chmod(tmp, 0o777 & ~_umask())
                if fcntl is None:
                    return tmp, None
                try:
                    fd = os.open(tmp, os.O_RDONLY)
                except FileNotFoundError:  # taken for a stray in the instant before it was locked
                    continue
            else:
                fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=PART, dir=target.parent)
                tmp = Path(name)
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private
                if fcntl is None:
                    os.close(fd)  # Windows cannot rename a file that is open
                    return tmp, None
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(tmp, fd):
                return tmp, fd
            os.close(fd)  # removed as a stray in the instant before it was locked: take another name
        raise OSError(f"no temporary file beside {target} could be kept")
    except OSError as e:
        raise save_error(target, e) from e


def _release(lock: int | None) -> None:
    if lock is not None:
        os.close(lock)


def _same_file(path: Path, fd: int) -> bool:
    try:
        a, b = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _remove_if_abandoned(path: Path) -> bool:
    """Remove `path` if no save holds its lock (its writer is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not _same_file(path, fd):
            return False
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except OSError:  # locked by a save in progress, or the folder is read-only: leave it
        return False
    finally:
        os.close(fd)


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
