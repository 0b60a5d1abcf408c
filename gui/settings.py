"""Every setting the app keeps between runs, declared here and nowhere else: its key, type and default, and
the version of the layout with the migration from older layouts.

Qt keeps the values (`QSettings`: an INI file in the user's config folder on Linux, written through QSaveFile,
so a save is atomic). Reads are typed: a value that is missing, damaged or of another type (an INI file keeps
everything as text; a one-item list comes back as a plain string) gives the declared default, never an error.

    from musicspeech.gui import settings as S
    S.EPOCHS.read(store)          # an int, whatever the file holds
    S.EPOCHS.write(store, 12)
    S.folder("export").read(store)

Only the GUI keeps settings (the command line takes everything as arguments), so this module lives in `gui/`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from musicspeech.core.recipes import RECIPES

log = logging.getLogger(__name__)

T = TypeVar("T")

SETTINGS_VERSION = 2  # 1: the layout before settings were versioned (the same keys, no version key)
VERSION_KEY = "settings/version"

JSON = object  # `kind` of a setting kept as JSON text (any JSON value; `valid` says which are accepted)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per setting
class Setting(Generic[T]):
    """One kept setting: where it is kept (`key`), its type (`kind`: str, int, float, bool, bytes, list of str,
    or JSON), what it is when nothing usable is kept (`default`) and which values are usable (`valid`)."""

    key: str
    kind: type
    default: T
    valid: Callable[[Any], bool] | None = None

    def read(self, store: QSettings) -> T:
        """The kept value as `kind`; the default if there is none, or it is damaged, of another type or invalid."""
        raw = store.value(self.key)
        if raw is None:
            return _fresh(self.default)
        try:
            value = _parse(self.kind, raw)
        except (TypeError, ValueError) as e:
            log.warning("setting %s ignored (%s): the default is used", self.key, e)
            return _fresh(self.default)
        if self.valid is not None and not self.valid(value):
            log.warning("setting %s ignored (%r is not a usable value): the default is used", self.key, value)
            return _fresh(self.default)
        return value

    def write(self, store: QSettings, value: T) -> None:
        store.setValue(self.key, _stored(self.kind, _parse(self.kind, value)))

    def kept(self, store: QSettings) -> bool:
        return store.contains(self.key)


def _fresh(value):
    return list(value) if isinstance(value, list) else value


def _parse(kind: type, raw: Any) -> Any:
    """`raw` (as QSettings gives it back, or as the app gives it) as `kind`; TypeError/ValueError if it is not."""
    if kind is str:
        if not isinstance(raw, str):
            raise TypeError(f"text expected, not {type(raw).__name__}")
        return raw
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError(f"{raw!r} is not true or false")
    if kind is int:
        if isinstance(raw, bool):
            raise TypeError("a whole number expected, not true/false")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            return int(raw.strip())
        raise TypeError(f"a whole number expected, not {type(raw).__name__}")
    if kind is float:
        if isinstance(raw, bool):
            raise TypeError("a number expected, not true/false")
        if isinstance(raw, int | float | str):
            value = float(raw.strip() if isinstance(raw, str) else raw)
            if not math.isfinite(value):
                raise ValueError(f"{raw!r} is not a finite number")
            return value
        raise TypeError(f"a number expected, not {type(raw).__name__}")
    if kind is bytes:
        if isinstance(raw, QByteArray):
            return bytes(raw.data())
        if isinstance(raw, bytes | bytearray):
            return bytes(raw)
        raise TypeError(f"bytes expected, not {type(raw).__name__}")
    if kind is list:  # a list of strings
        if isinstance(raw, str):  # how an INI file gives back a list of one
            return [raw]
        if isinstance(raw, list | tuple) and all(isinstance(x, str) for x in raw):
            return list(raw)
        raise TypeError("a list of text expected")
    if kind is JSON:
        if isinstance(raw, str):
            return json.loads(raw)
        json.dumps(raw)  # TypeError if it cannot be kept
        return raw
    raise TypeError(f"no such kind of setting: {kind}")


def _stored(kind: type, value: Any) -> Any:
    if kind is bytes:
        return QByteArray(value)
    if kind is JSON:
        return json.dumps(value)
    return value


def _positive(x) -> bool:
    return x > 0


# The settings ----------------------------------------------------------------------------------------------------

WINDOW_GEOMETRY = Setting("window/geometry", bytes, b"")  # QMainWindow.saveGeometry; empty: the default size
RECENT_FILES = Setting("recent/files", list, [])  # newest first (File > Open recent)
MODEL_PATH = Setting("model/path", str, "")  # the model chosen with Load model; empty: the shipped one

AUDIO_INPUT = Setting("audio/input", str, "")  # a device's name; empty: the system's default
AUDIO_OUTPUT = Setting("audio/output", str, "")

TRAIN_RECIPE = Setting("train/recipe", str, "shipped", lambda name: name in RECIPES)
TRAIN_EPOCHS = Setting("train/epochs", int, RECIPES["shipped"].epochs, _positive)
TRAIN_BATCH_SIZE = Setting("train/batch_size", int, 64, _positive)
TRAIN_LEARNING_RATE = Setting("train/learning_rate", float, 1e-3, _positive)
TRAIN_WINDOW_S = Setting("train/window_s", float, 1.0, _positive)
TRAIN_SOURCE = Setting("train/source", str, "")  # a folder, an archive, or "tfds"; empty: none chosen
TRAIN_RUNS = Setting("train/runs", JSON, [], lambda runs: isinstance(runs, list))  # the runs table, oldest first

LIVE_WINDOW_S = Setting("live/window_s", float, 1.0, _positive)  # musicspeech.core.live.LiveSettings' defaults
LIVE_HOP_S = Setting("live/hop_s", float, 0.1, _positive)
LIVE_KEEP_S = Setting("live/keep_n_s", int, 10, _positive)  # "the last N seconds" to save or add
LIVE_TRAINING_FOLDER = Setting("live/training_folder", str, "")
LIVE_LOG_PATH = Setting("live/log_path", str, "")

# The folder each file dialog opens in (the one last used for that purpose).
FOLDER_PURPOSES = ("open", "model", "data", "classify", "export")
_FOLDERS = {purpose: Setting(f"folders/{purpose}", str, "") for purpose in FOLDER_PURPOSES}


def folder(purpose: str) -> Setting[str]:
    return _FOLDERS[purpose]  # KeyError for a purpose not declared above


ALL: tuple[Setting, ...] = (
    WINDOW_GEOMETRY,
    RECENT_FILES,
    MODEL_PATH,
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    TRAIN_RECIPE,
    TRAIN_EPOCHS,
    TRAIN_BATCH_SIZE,
    TRAIN_LEARNING_RATE,
    TRAIN_WINDOW_S,
    TRAIN_SOURCE,
    TRAIN_RUNS,
    LIVE_WINDOW_S,
    LIVE_HOP_S,
    LIVE_KEEP_S,
    LIVE_TRAINING_FOLDER,
    LIVE_LOG_PATH,
    *_FOLDERS.values(),
)


# Versions and migration --------------------------------------------------------------------------------------------


def stored_version(store: QSettings) -> int:
    """The layout the store is in: 1 if it has no version (kept by an app from before settings were versioned)."""
    raw = store.value(VERSION_KEY)
    if raw is None:
        return 1
    try:
        return _parse(int, raw)
    except (TypeError, ValueError):
        return 1


def _from_1(store: QSettings) -> None:
    """Unversioned -> 2: the same keys. Each value is rewritten as its declared type (an INI file had kept numbers
    as text and a one-item list as a plain string), and a value that cannot be used is removed (it would only
    ever give the default), so the store holds what the app reads."""
    for setting in ALL:
        if not setting.kept(store):
            continue
        raw = store.value(setting.key)
        try:
            value = _parse(setting.kind, raw)
            usable = setting.valid is None or setting.valid(value)
        except (TypeError, ValueError):
            usable = False
        if usable:
            store.setValue(setting.key, _stored(setting.kind, value))
        else:
            log.warning("setting %s removed: %r cannot be used", setting.key, raw)
            store.remove(setting.key)


MIGRATIONS: dict[int, Callable[[QSettings], None]] = {1: _from_1}  # from version N to N + 1


def migrate(store: QSettings) -> QSettings:
    """Bring `store` to SETTINGS_VERSION (a store already there is left alone; one written by a newer app is
    read as it is, each value through its type, and keeps its version)."""
    version = stored_version(store)
    if version > SETTINGS_VERSION:
        log.warning("settings version %s is newer than this app's (%s): read as they are", version, SETTINGS_VERSION)
        return store
    while version < SETTINGS_VERSION:
        MIGRATIONS[version](store)
        version += 1
        store.setValue(VERSION_KEY, version)
        log.info("settings migrated to version %s", version)
    return store


def open_settings(store: QSettings | None = None) -> QSettings:
    """`store` (the user's settings if None), brought to the current layout."""
    return migrate(store if store is not None else QSettings())
