"""Exceptions whose messages a user can act on: one line, naming the thing that is wrong."""


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
