"""Where things live: the shipped resources and the user's own data, cache and log folders."""

import sys
from pathlib import Path

import platformdirs

APP_NAME = "musicspeech"


def resources_dir() -> Path:
    """The `resources/` folder, in a source checkout and in the frozen app alike."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def shipped_model_path() -> Path:
    return resources_dir() / "models" / "musicspeech.msmodel"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def readable(text: str | Path) -> str:
    """A file name (or a message holding one) as text for people and for Qt: the bytes of a name that is not
    valid UTF-8 (Python holds them as lone surrogates, which Qt drops without a word) shown as U+FFFD."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
