"""The settings kept between runs (gui/settings.py): declared defaults, typed reads that fall back to the default
for a damaged or wrong-typed value, a round trip through the file, and the migration from the layout kept before
settings had a version. Real QSettings INI files in a temporary folder; the window is the real one."""

import pytest
from PySide6.QtCore import QSettings

from musicspeech.gui import settings as S
from musicspeech.gui.active_model import ActiveModel
from musicspeech.gui.main_window import MainWindow


def ini(path) -> QSettings:
    return QSettings(str(path), QSettings.IniFormat)


def test_every_setting_is_declared_once_with_a_default_of_its_type(tmp_path):
    keys = [s.key for s in S.ALL]
    assert len(keys) == len(set(keys))
    store = ini(tmp_path / "empty.ini")
    for setting in S.ALL:
        value = setting.read(store)
        assert value == setting.default, setting.key
        assert isinstance(value, dict | list) if setting.kind is S.JSON else isinstance(value, setting.kind)
        assert setting.valid is None or setting.valid(value), setting.key
    with pytest.raises(KeyError):
        S.folder("nowhere")


def test_the_default_list_is_not_shared_between_reads(tmp_path):
    store = ini(tmp_path / "empty.ini")
    S.RECENT_FILES.read(store).append("/x.wav")
    assert S.RECENT_FILES.read(store) == []


KEPT = {
    S.WINDOW_GEOMETRY: b"\x01\xd9\xd0\xcb\x00\x03\x00\x00geometry",
    S.RECENT_FILES: ["/music/a b.wav"],  # one item: an INI file would give it back as a plain string
    S.MODEL_PATH: "/models/mine.msmodel",
    S.AUDIO_INPUT: "pulse",
    S.TRAIN_RECIPE: "baseline",
    S.TRAIN_EPOCHS: 7,
    S.TRAIN_LEARNING_RATE: 0.002,
    S.TRAIN_RUNS: [{"recipe": "shipped", "epochs": 3, "curve": [[1, 0.9]]}],
    S.LIVE_HOP_S: 0.25,
    S.LIVE_KEEP_S: 3,
    S.folder("export"): "/home/me/exports",
}


def test_settings_come_back_from_the_file_as_they_were_written(tmp_path):
    path = tmp_path / "settings.ini"
    store = S.open_settings(ini(path))
    for setting, value in KEPT.items():
        setting.write(store, value)
    store.sync()
    assert store.status() == QSettings.NoError
    again = ini(path)  # read back from the text of the file
    assert S.stored_version(again) == S.SETTINGS_VERSION
    for setting, value in KEPT.items():
        read = setting.read(again)
        assert read == value and type(read) is type(value), setting.key


def test_a_damaged_or_wrong_typed_value_gives_the_default(tmp_path, caplog):
    path = tmp_path / "settings.ini"
    path.write_text(
        "[settings]\nversion=2\n"
        "[train]\nepochs=many\nlearning_rate=nan\nbatch_size=-4\nrecipe=no such recipe\nruns={not json\n"
        "window_s=true\n"
        "[live]\nhop_s=\nkeep_n_s=2.5\n"
        "[window]\ngeometry=x\n"
        "[model]\npath=a, b\n"  # a list in INI syntax where text is declared
    )
    store = ini(path)
    for setting in (
        S.TRAIN_EPOCHS,
        S.TRAIN_LEARNING_RATE,
        S.TRAIN_BATCH_SIZE,
        S.TRAIN_RECIPE,
        S.TRAIN_RUNS,
        S.TRAIN_WINDOW_S,
        S.LIVE_HOP_S,
        S.LIVE_KEEP_S,
        S.WINDOW_GEOMETRY,
        S.MODEL_PATH,
    ):
        assert setting.read(store) == setting.default, setting.key
    assert "setting train/epochs ignored" in caplog.text


def test_a_settings_file_of_junk_gives_the_defaults_and_the_window_opens(qtbot, tmp_path):
    path = tmp_path / "settings.ini"
    path.write_bytes(bytes(range(256)) * 20)
    window = MainWindow(ActiveModel(), ini(path))
    qtbot.addWidget(window)
    assert window.train_tab.epochs.value() == S.TRAIN_EPOCHS.default
    assert window.live_tab.keep_box.value() == S.LIVE_KEEP_S.default
    assert window.recent_files() == []


def old_layout(path, **raw) -> None:
    """Settings as the app kept them before they had a version: the same keys, no settings/version, every
    value written as that app wrote it (INI keeps them as text)."""
    store = ini(path)
    for key, value in raw.items():
        store.setValue(key.replace("__", "/"), value)
    store.sync()
    assert "settings/version" not in ini(path).allKeys()


def test_settings_of_the_unversioned_layout_are_migrated_and_kept(tmp_path):
    path = tmp_path / "settings.ini"
    old_layout(
        path,
        train__epochs=7,
        train__learning_rate=0.002,
        train__recipe="baseline",
        train__runs='[{"recipe": "shipped", "epochs": 2}]',
        recent__files=["/music/only.wav"],
        live__keep_n_s=3,
        live__hop_s="oops",  # unusable: removed, so the default is what is read and kept
        audio__output="pulse",
        folders__data="/data",
        other__key="not ours",  # a key this app does not declare is left alone
    )
    store = S.open_settings(ini(path))
    store.sync()
    text = path.read_text()
    assert "[settings]\nversion=2" in text
    again = ini(path)
    assert S.stored_version(again) == 2
    assert S.TRAIN_EPOCHS.read(again) == 7 and S.TRAIN_LEARNING_RATE.read(again) == 0.002
    assert S.TRAIN_RECIPE.read(again) == "baseline"
    assert S.TRAIN_RUNS.read(again) == [{"recipe": "shipped", "epochs": 2}]
    assert S.RECENT_FILES.read(again) == ["/music/only.wav"]
    assert S.LIVE_KEEP_S.read(again) == 3 and S.AUDIO_OUTPUT.read(again) == "pulse"
    assert S.folder("data").read(again) == "/data"
    assert not again.contains("live/hop_s") and S.LIVE_HOP_S.read(again) == S.LIVE_HOP_S.default
    assert again.value("other/key") == "not ours"
    before = path.read_bytes()
    S.open_settings(ini(path)).sync()  # already current: left as it is
    assert path.read_bytes() == before


def test_the_window_opens_with_the_settings_of_the_unversioned_layout(qtbot, tmp_path):
    path = tmp_path / "settings.ini"
    recent = tmp_path / "kept.wav"
    recent.write_bytes(b"")
    old_layout(
        path,
        train__epochs=7,
        train__batch_size=32,
        recent__files=[str(recent)],
        live__keep_n_s=3,
        live__window_s=2.5,
    )
    window = MainWindow(ActiveModel(), ini(path))
    qtbot.addWidget(window)
    assert window.train_tab.epochs.value() == 7 and window.train_tab.batch.value() == 32
    assert window.live_tab.keep_box.value() == 3 and window.live_tab.window_box.value() == 2.5
    assert window.recent_files() == [str(recent)]
    assert S.stored_version(window.settings) == S.SETTINGS_VERSION


def test_settings_of_a_newer_app_are_read_as_they_are_and_keep_their_version(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_text("[settings]\nversion=9\n[train]\nepochs=11\n")
    store = S.open_settings(ini(path))
    assert S.stored_version(store) == 9 and S.TRAIN_EPOCHS.read(store) == 11
