"""Folders where saving fails for real: a read-only folder, and a small disk that can be filled up.

The tests run as root, whom chmod does not stop, so a read-only folder is a tmpfs mounted there and remounted
read-only; the disk is a small tmpfs. Not root, a folder is made read-only with chmod 0o555 instead, and a full
disk cannot be made (mounting needs root): those tests are skipped, saying why. Every mount is unmounted when
the test ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _run(*command: str) -> str | None:
    """Run a mount command; None when it worked, else what it said."""
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"{command[0]} exited {proc.returncode}")


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    problem = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if problem:
        pytest.skip(f"cannot mount a tmpfs at {path} ({problem}); as root, chmod would not stop writes either")


def _unmount(path: Path) -> None:
    if _run("umount", str(path)):  # still busy (a child process killed mid-write may not be reaped yet)
        _run("umount", "-l", str(path))


class ReadOnlyFolder:
    """A folder the test fills first, then `freeze()`s: from then on nothing can be written in it."""

    def __init__(self, path: Path):
        self.path = path
        self.frozen = False
        # what a user is told: root meets a read-only mount, anyone else a folder without write permission
        self.problem = "the folder is read-only" if IS_ROOT else "no permission to write in that folder"

    def freeze(self) -> None:
        if IS_ROOT:
            problem = _run("mount", "-o", "remount,ro", str(self.path))
            if problem:
                pytest.fail(f"cannot remount {self.path} read-only: {problem}")
        else:
            for folder, dirs, _files in os.walk(self.path):
                for d in [folder, *(os.path.join(folder, d) for d in dirs)]:
                    os.chmod(d, 0o555)
        self.frozen = True
        with pytest.raises(OSError) as refused:  # the fault is real: a plain write is refused
            (self.path / ".probe").write_bytes(b"x")
        assert refused.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[ReadOnlyFolder]:
    if IS_ROOT:
        _mount_tmpfs(path, "64m")
        try:
            yield ReadOnlyFolder(path)
        finally:
            _unmount(path)
    else:
        path.mkdir(parents=True, exist_ok=True)
        try:
            yield ReadOnlyFolder(path)
        finally:
            for folder, dirs, _files in os.walk(path):
                for d in [folder, *(os.path.join(folder, d) for d in dirs)]:
                    os.chmod(d, 0o755)  # so that pytest can remove it


class SmallDisk:
    """A tmpfs of its own: the test puts the previous files on it, then `fill()`s it."""

    def __init__(self, path: Path):
        self.path = path

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, leaving `leave` bytes (whole 4 KiB pages) free."""
        filler = self.path / ".filler"
        block = bytes(1 << 16)
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(block)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
            if leave:
                size = os.fstat(f.fileno()).st_size
                os.ftruncate(f.fileno(), max(0, size - leave))
        assert self.free() == leave, f"{self.free()} bytes free, not {leave}"

    def free(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def files(self) -> list[str]:
        """What is on the disk, but the filler."""
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.name != ".filler")


@contextlib.contextmanager
def small_disk(path: Path, size: str = "64m") -> Iterator[SmallDisk]:
    if not IS_ROOT:
        pytest.skip("a full disk is a small tmpfs mount, and mounting needs root")
    _mount_tmpfs(path, size)
    try:
        yield SmallDisk(path)
    finally:
        _unmount(path)
