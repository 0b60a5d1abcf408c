"""Exceptions whose messages a user can act on: one line, naming the thing that is wrong."""

import errno


class MusicSpeechError(Exception):
    """Base of every error the core raises on purpose."""


class AudioError(MusicSpeechError):
    """A file that cannot be read as audio ("cannot read song.mp3: not an audio file")."""

    def __init__(self, source: object, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"cannot read {self.source}: {problem}")


class DatasetError(MusicSpeechError):
    """A data source that is missing, empty, or not laid out as expected."""


class DownloadError(MusicSpeechError):
    """A download that failed: no network, host down, dropped connection, bad checksum."""


class ModelError(MusicSpeechError):
    """A model file that is missing, incompatible, corrupt or tampered with."""


class Cancelled(MusicSpeechError):
    """The user cancelled a long task."""


class SaveError(MusicSpeechError):
    """A file that cannot be written ("cannot save take.wav: the disk is full"). Saving is atomic, so the file
    that was there before is left as it was."""

    def __init__(self, target: object, problem: str):
        self.target = str(target)
        self.problem = problem
        super().__init__(f"cannot save {self.target}: {problem}")


# What an errno means to someone saving a file; anything else gets the system's own words.
_SAVE_PROBLEMS = {
    errno.EROFS: "the folder is read-only",
    errno.EACCES: "no permission to write in that folder",
    errno.EPERM: "no permission to write in that folder",
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", -1): "the disk quota is used up",
    errno.ENOENT: "the folder does not exist (any more)",
    errno.ENOTDIR: "part of the path is a file, not a folder",
    errno.EEXIST: "part of the path is a file, not a folder",  # from creating the folder
    errno.EISDIR: "a folder of that name is in the way",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EFBIG: "the file is too large for that disk",
    errno.EIO: "the disk reported an input/output error",
}


def save_problem(error: OSError) -> str:
    """Why a write failed, in a few words ("the folder is read-only", "the disk is full")."""
    known = _SAVE_PROBLEMS.get(error.errno)
    if known:
        return known
    return (error.strerror or str(error) or type(error).__name__).splitlines()[0].lower()


def save_error(target: object, error: OSError) -> SaveError:
    """The one line a user reads when `target` could not be written because of `error`."""
    return SaveError(target, save_problem(error))
