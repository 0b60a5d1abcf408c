"""The window as a user meets it (pytest-qt, offscreen, real widgets and model): long messages never widen it,
mnemonics are unique, the Classify and Train tabs fit 1024x640, exports never overwrite one result with another,
the Train tab's summary, clip table and runs table."""

import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QAbstractButton, QApplication

from musicspeech.core.audio import Waveform, write_wav
from musicspeech.gui.app import create_window
from musicspeech.gui.classify_tab import FILE, FOLDER, STATUS

OFFLINE = (
    "cannot download GTZAN: tensorflow-datasets could not reach "
    + "/".join(["https://storage.googleapis.com/some/very/long/path"] * 30)
    + " (Temporary failure in name resolution)"
)


def settle(qtbot):
    QApplication.processEvents()
    qtbot.wait(50)
    QApplication.processEvents()


def test_a_long_message_never_widens_the_window(window, qtbot):
    window.resize(1024, 640)
    settle(qtbot)
    train, classify = window.train_tab, window.classify_tab
    for tab in (train, classify):
        window.tabs.setCurrentWidget(tab)
        settle(qtbot)
    train._failed(OFFLINE)  # Train -> Download GTZAN -> Start while offline
    train.source_label.setText(OFFLINE)
    train.summary.setText("\n".join([OFFLINE] * 3))
    window.model_label.setText(f"model not loaded: {OFFLINE}")
    classify.status.emit(OFFLINE)
    classify.hint.setText(OFFLINE)
    for tab in (train, classify):
        window.tabs.setCurrentWidget(tab)
        settle(qtbot)
        assert window.width() == 1024 and window.minimumSizeHint().width() <= 1024
    assert train.evaluation_label.text() == f"Training stopped: {OFFLINE}. The active model is unchanged."
    assert train.evaluation_label.toolTip() == train.evaluation_label.text()  # the whole message on hover
    shown = train.evaluation_label.shown_text()
    assert shown.endswith("…") and len(shown) < len(OFFLINE)


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("inspect", "verdict"),  # "cannot show NAME: reason"
        ("live", "problem"),  # a device error line
    ],
)
def test_a_long_message_in_inspect_or_live_never_widens_the_window(window, qtbot, key, label):
    window.resize(1024, 640)
    tab = getattr(window, f"{key}_tab")
    window.tabs.setCurrentWidget(tab)
    settle(qtbot)
    getattr(tab, label).setText(OFFLINE)
    settle(qtbot)
    assert window.width() == 1024 and window.minimumSizeHint().width() <= 1024


def mnemonics(text: str) -> list[str]:
    return [m.lower() for m in re.findall(r"&(\w)", text.replace("&&", ""))]


def window_mnemonics(window) -> list[str]:
    """Every Alt+letter of the window while the current tab shows: menus, tabs and the tab's visible buttons."""
    found = []
    for action in window.menuBar().actions():
        found += mnemonics(action.text())
    for i in range(window.tabs.count()):
        found += mnemonics(window.tabs.tabText(i))
    tab = window.tabs.currentWidget()
    for button in tab.findChildren(QAbstractButton):
        if button.isVisibleTo(tab):
            found += mnemonics(button.text())
    return found


@pytest.mark.parametrize("key", ["classify", "train", "inspect", "live"])
def test_every_mnemonic_is_unique_in_the_window_for_each_tab(window, qtbot, key):
    window.tabs.setCurrentWidget(getattr(window, f"{key}_tab"))
    settle(qtbot)
    found = window_mnemonics(window)
    assert len(found) >= 7 + 3
    assert sorted(found) == sorted(set(found)), [m for m in set(found) if found.count(m) > 1]


def test_add_as_music_and_speech_have_mnemonics(window, qtbot):
    live = window.live_tab
    qtbot.waitUntil(lambda: window.model.classifier is not None and len(live.add_buttons) >= 2)
    labels = window.model.classifier.labels  # one button per class of the model (the shipped one has noise too)
    texts = [b.text() for b in live.add_buttons]
    assert [t.replace("&", "") for t in texts] == [f"Add as {label}" for label in labels]
    assert [len(mnemonics(t)) for t in texts] == [1] * len(labels)
    assert len({m for t in texts for m in mnemonics(t)}) == len(labels)
    assert not {m for t in texts for m in mnemonics(t)} & set("fahticl")


def inside(widget, window) -> bool:
    """Shown, not clipped away and within the window's own area."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    area = QRect(top_left, widget.size())
    shown = widget.viewport() if hasattr(widget, "viewport") else widget  # a view: its viewport is what shows
    return widget.isVisible() and not shown.visibleRegion().isEmpty() and window.rect().contains(area)


def test_classify_and_train_are_usable_at_1024x640(window, qtbot, trained):
    window.resize(1024, 640)
    classify, train = window.classify_tab, window.train_tab
    window.tabs.setCurrentWidget(classify)
    settle(qtbot)
    assert (window.width(), window.height()) == (1024, 640)
    for w in (
        classify.table,
        classify.add_button,
        classify.add_folder_button,
        classify.cancel_button,
        classify.export_button,
        classify.clear_button,
    ):
        assert inside(w, window), w
    assert classify.table.viewport().height() >= 150
    header = classify.table.horizontalHeader()  # every column in view, the status keeps a useful width
    assert header.length() <= classify.table.viewport().width() and header.sectionSize(STATUS) >= 90
    window.tabs.setCurrentWidget(train)
    train._finished(trained[0])  # a real run's result: the confusion matrix and the evaluation shown
    train.confusion.cellClicked.emit(0, 0)
    settle(qtbot)
    assert (window.width(), window.height()) == (1024, 640)
    for w in (
        train.tfds_button,
        train.folder_button,
        train.archive_button,
        train.start_button,
        train.cancel_button,
        train.save_button,
        train.progress,
        train.epochs,
        train.chart,
        train.legend,
        train.confusion,
        train.cell_clips,
        train.runs_table,
    ):
        assert inside(w, window), w
    assert train.chart.height() >= 120 and train.cell_clips.viewport().height() >= 3 * train.cell_clips.rowHeight(0)
    matrix = train.confusion  # the whole matrix, its headers whole: nothing to scroll to
    assert matrix.viewport().width() >= matrix.horizontalHeader().length()
    assert matrix.viewport().height() >= matrix.verticalHeader().length()
    header = matrix.horizontalHeader()
    for col in range(matrix.columnCount()):
        text = matrix.horizontalHeaderItem(col).text()
        assert header.sectionSize(col) >= header.fontMetrics().horizontalAdvance(text)


def tone(path, seconds, hz):
    t = np.arange(int(16000 * seconds)) / 16000
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(path, Waveform((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16000, str(path)))


def test_audacity_export_of_same_named_files_in_two_folders_keeps_both(window, qtbot, tmp_path, speech_clip):
    first, second = tone(tmp_path / "a" / "beep.wav", 3, 440), tone(tmp_path / "b" / "beep.wav", 5, 880)
    tab = window.classify_tab
    tab.add_paths([first, second, speech_clip])
    qtbot.waitUntil(lambda: len(tab.results) == 3 and not tab.task.running, timeout=60_000)
    folders = {tab.table.item(r, FOLDER).text() for r in range(tab.table.rowCount())}
    assert len(folders) == 3  # two beep.wav told apart
    assert {tab.table.item(r, FILE).toolTip() for r in range(3)} == {str(first), str(second), str(speech_clip)}
    out = tmp_path / "labels"
    out.mkdir()
    with qtbot.waitSignal(tab.status, timeout=10_000) as said:
        tab.export(out / "mine.txt", "Audacity labels, one file per audio file (*.txt)")
    written = sorted(p.name for p in out.iterdir())
    assert written == ["mine-a-beep.txt", "mine-acomic.txt", "mine-b-beep.txt"]
    ends = [
        float((out / n).read_text().splitlines()[-1].split("\t")[1]) for n in ("mine-a-beep.txt", "mine-b-beep.txt")
    ]
    assert ends == [pytest.approx(3.0, abs=0.1), pytest.approx(5.0, abs=0.1)]  # each file its own labels
    assert said.args[0].startswith(f"wrote 3 Audacity label files in {out}") and "mine-a-beep.txt" in said.args[0]
    tab.clear()  # one file: exactly the name typed
    tab.add_paths([second])
    qtbot.waitUntil(lambda: len(tab.results) == 1 and not tab.task.running, timeout=60_000)
    with qtbot.waitSignal(tab.status, timeout=10_000) as said:
        tab.export(tmp_path / "just this.txt", "Audacity labels, one file per audio file (*.txt)")
    assert (tmp_path / "just this.txt").is_file() and str(tmp_path / "just this.txt") in said.args[0]


def test_an_error_shows_whole_on_hover_in_the_status_column(window, qtbot, tmp_path):
    bad = tmp_path / ("a folder with a long name " * 6).strip() / "broken.wav"
    bad.parent.mkdir()
    bad.write_bytes(b"RIFF....WAVEfmt nothing")
    tab = window.classify_tab
    window.resize(1024, 640)
    tab.add_paths([bad])
    qtbot.waitUntil(lambda: len(tab.results) == 1, timeout=60_000)
    status = tab.table.item(0, STATUS)
    assert status.toolTip() == status.text() == tab.results[bad].error
    assert window.width() == 1024


def test_the_data_summary_shows_as_soon_as_the_data_is_chosen(window, qtbot, subset_dir, tmp_path):
    tab = window.train_tab
    tab.set_source(subset_dir)
    qtbot.waitUntil(lambda: "music: 12 clips" in tab.summary.text(), timeout=30_000)
    assert "speech: 12 clips, 6.0 min" in tab.summary.text()  # 12 clips of 30 s, from their headers
    (tmp_path / "only").mkdir()
    tab.set_source(tmp_path / "only")
    qtbot.waitUntil(lambda: tab.summary.text().startswith("cannot use this data:"), timeout=30_000)


def test_the_runs_table_and_the_clip_table_survive_a_restart(qtbot, tmp_path, trained, virtual_audio):
    settings = QSettings(str(tmp_path / "kept.ini"), QSettings.IniFormat)
    first = create_window(settings=settings)
    qtbot.addWidget(first)
    tab = first.train_tab
    tab.recipe.setCurrentText("baseline")
    tab._finished(trained[0])  # a real run's result arrives
    assert tab.runs_table.rowCount() == 1
    ev = trained[0].evaluation
    tab.confusion.cellClicked.emit(0, 1)  # true music, called speech
    assert tab.cell_clips.rowCount() == ev.confusion[0][1]
    i, j = next((i, j) for i in range(2) for j in range(2) if ev.confusion[i][j])  # whichever cell has clips
    tab.confusion.cellClicked.emit(i, j)
    assert tab.cell_clips.rowCount() == ev.confusion[i][j] > 0
    row = [tab.cell_clips.item(0, c).text() for c in range(4)]
    true, called = ev.labels[i], ev.labels[j]
    assert row[0].startswith(f"{true}/") and row[1:3] == [true, called] and re.fullmatch(r"\d+%", row[3])
    assert "{" not in "".join(row)  # not a Python dict
    first.close()
    second = create_window(settings=QSettings(str(tmp_path / "kept.ini"), QSettings.IniFormat))
    qtbot.addWidget(second)
    runs = second.train_tab.runs_table
    assert runs.rowCount() == 1
    assert [runs.item(0, c).text() for c in (0, 1, 6)] == ["1", "baseline", f"{ev.clip_accuracy:.1%}"]
    assert len(second.train_tab.earlier_curves) == 1  # its validation curve, faded, on the chart


def test_the_focused_button_has_a_ring_in_the_highlight_colour(window, qtbot):
    button = window.classify_tab.add_folder_button
    window.tabs.setCurrentWidget(window.classify_tab)
    highlight = button.palette().color(button.palette().ColorRole.Highlight)

    def ring_pixels():
        image = button.grab().toImage()
        edge = [image.pixelColor(x, 1) for x in range(4, image.width() - 4)]  # the row just inside the top
        return sum(abs(c.red() - highlight.red()) + abs(c.blue() - highlight.blue()) < 60 for c in edge)

    window.classify_tab.add_button.setFocus()
    settle(qtbot)
    without = ring_pixels()
    button.setFocus()
    settle(qtbot)
    assert button.hasFocus() and ring_pixels() > 0.8 * (button.width() - 8) > 0 and without < 0.2 * button.width()
