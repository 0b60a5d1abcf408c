"""Inspect as Audacity and Sonic Visualiser users expect it (issue 17), through the real widgets (pytest-qt,
offscreen, the virtual sound device): the scale switch, Space, wheel zoom, Fit, the view following the playhead,
m:ss labels, the position readout, the file's name, the segments band and the placeholder."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from musicspeech.gui.label_colors import LABEL_COLORS


@pytest.fixture
def shown(window, qtbot, music_clip):
    """Inspect with a GTZAN music clip (30 s) read, drawn and classified."""
    inspect = window.inspect_tab
    window.open_in_inspect(music_clip)
    qtbot.waitUntil(lambda: inspect.current is not None and inspect.current.prediction is not None, timeout=60_000)
    qtbot.waitUntil(lambda: inspect.spec_plot.vb.sceneBoundingRect().width() > 100, timeout=5_000)
    return inspect


def wheel(inspect, plot, modifiers=Qt.NoModifier, steps=3):
    """Turn the mouse wheel `steps` notches forward (zoom in) over the middle of `plot`."""
    centre = plot.vb.sceneBoundingRect().center()
    at = QPointF(inspect.plots.mapFromScene(centre))
    event = QWheelEvent(
        at,
        QPointF(inspect.plots.viewport().mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.NoButton,
        modifiers,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(inspect.plots.viewport(), event)


def test_the_placeholder_shows_until_a_clip_is_open(window, qtbot, music_clip):
    inspect = window.inspect_tab
    window.tabs.setCurrentWidget(inspect)
    assert inspect.view.currentWidget() is inspect.placeholder and inspect.placeholder.isVisible()
    assert not inspect.plots.isVisible()  # no axes running from -0.5 to 0.5 in millihertz
    window.open_in_inspect(music_clip)
    qtbot.waitUntil(lambda: inspect.current is not None, timeout=60_000)
    assert inspect.plots.isVisible() and not inspect.placeholder.isVisible()


def test_switching_the_scale_keeps_playing_and_does_not_read_the_file_again(shown, qtbot, monkeypatch):
    import musicspeech.core.inspection

    reads = []
    real = musicspeech.core.inspection.load_audio
    monkeypatch.setattr(musicspeech.core.inspection, "load_audio", lambda *a, **k: reads.append(a) or real(*a, **k))
    inspect = shown
    player, waveform = inspect.player, inspect.current.waveform
    inspect.wave_plot.setXRange(5, 10, padding=0)
    inspect.seek(6.0)  # in view: the view stays while the playhead is on it
    inspect.play_button.click()
    qtbot.waitUntil(lambda: inspect.player.position_s > 6.3, timeout=10_000)
    inspect.scale.setCurrentIndex(1)  # linear
    qtbot.waitUntil(lambda: inspect.current.spec.kind == "stft", timeout=30_000)
    assert inspect.player is player and player.playing  # the same playback goes on
    here = player.position_s
    qtbot.waitUntil(lambda: player.position_s > here + 0.3, timeout=10_000)
    assert reads == [] and inspect.current.waveform is waveform  # drawn from the clip held
    assert inspect.spec_image.mapRectToParent(inspect.spec_image.boundingRect()).height() == pytest.approx(8000)
    assert inspect.time_range() == pytest.approx((5, 10), abs=0.01)  # the zoom stays
    inspect.scale.setCurrentIndex(0)
    qtbot.waitUntil(lambda: inspect.current.spec.kind == "logmel", timeout=30_000)
    assert player.playing and inspect.current.prediction is not None
    inspect.stop_button.click()


def test_space_plays_and_pauses_even_when_the_scale_box_has_the_keyboard(shown, qtbot):
    inspect = shown
    inspect.window().activateWindow()
    inspect.scale.setFocus()
    qtbot.keyClick(inspect.scale, Qt.Key_Space)
    assert inspect.player.playing and not inspect.scale.view().isVisible()  # played; the box stayed closed
    qtbot.waitUntil(lambda: inspect.player.position_s > 0.2, timeout=10_000)
    qtbot.keyClick(inspect.scale, Qt.Key_Space)
    assert not inspect.player.playing
    qtbot.keyClick(inspect.open_button, Qt.Key_Space)  # a focused button is not pressed either: Space plays
    assert inspect.player.playing
    inspect.stop_button.click()
    assert inspect.scale.focusPolicy() == Qt.TabFocus  # a click on the box does not keep the keyboard


def test_the_wheel_zooms_time_only_and_ctrl_wheel_frequency_and_fit_shows_everything(shown):
    inspect = shown
    duration = inspect.current.waveform.duration_s
    spec_vb = inspect.spec_plot.vb
    (x0, x1), (y0, y1) = spec_vb.viewRange()
    assert (x0, x1) == pytest.approx((0, duration), abs=0.01)
    wheel(inspect, inspect.spec_plot)
    (a0, a1), (b0, b1) = spec_vb.viewRange()
    assert a1 - a0 < 0.9 * (x1 - x0)  # time zoomed in
    assert (b0, b1) == pytest.approx((y0, y1))  # frequency as it was
    assert inspect.time_range() == pytest.approx((a0, a1))  # every plot shows the same time
    wheel(inspect, inspect.spec_plot, Qt.ControlModifier)
    (c0, c1), (d0, d1) = spec_vb.viewRange()
    assert (c0, c1) == pytest.approx((a0, a1))  # time as it was
    assert d1 - d0 < 0.9 * (y1 - y0)  # frequency zoomed in
    inspect.fit_button.click()
    assert spec_vb.viewRange()[0] == pytest.approx([0, duration], abs=0.01)
    assert spec_vb.viewRange()[1] == pytest.approx([y0, y1], abs=0.01)


def test_the_view_follows_the_playhead_while_playing(shown, qtbot):
    inspect = shown
    inspect.wave_plot.setXRange(0, 2, padding=0)  # zoomed in on the first two seconds
    inspect.seek(1.6)
    inspect.play_button.click()
    qtbot.waitUntil(lambda: inspect.time_range()[0] > 1.9, timeout=10_000)  # a page turned
    x0, x1 = inspect.time_range()
    assert x1 - x0 == pytest.approx(2.0, abs=0.01)  # the zoom kept
    assert x0 <= inspect.playheads[0].value() <= x1
    inspect.stop_button.click()


def test_time_is_labelled_in_minutes_and_seconds_and_the_readout_says_where_the_playhead_is(shown, music_clip):
    inspect = shown
    axis = inspect.band_plot.getAxis("bottom")
    assert "ks" not in axis.labelString() and "(s)" not in axis.labelString()
    half_hour = [v for _spacing, values in axis.tickValues(0, 1740, 900) for v in values]  # a 29-minute file
    labels = axis.tickStrings(half_hour, 1.0, 300)
    assert "5:00" in labels and "25:00" in labels and all(":" in label for label in labels)
    assert axis.tickStrings([12.5], 1.0, 0.5) == ["0:12.5"]  # zoomed in: tenths
    assert axis.tickStrings([3725], 1.0, 600) == ["1:02:05"]
    inspect.seek(12.34)
    assert inspect.readout.text() == "0:12.3 / 0:30"
    assert inspect.name_label.text() == music_clip.name and inspect.name_label.toolTip() == str(music_clip)


def test_the_segments_band_colours_each_segment_by_its_label(window, qtbot, tmp_path):
    """A file of speech, then music, then silence: the band has a bar per segment in the label's colour."""
    import numpy as np

    from musicspeech.core.audio import Waveform, load_audio, write_wav

    from .conftest import GTZAN_MUSIC, GTZAN_SPEECH

    rate = 16000
    speech = load_audio(GTZAN_SPEECH / "acomic.wav", rate).samples[: 10 * rate]
    music = load_audio(GTZAN_MUSIC / "blues.wav", rate).samples[: 10 * rate]
    path = write_wav(tmp_path / "mix.wav", Waveform(np.concatenate([speech, music, np.zeros(5 * rate)]), rate))
    inspect = window.inspect_tab
    window.open_in_inspect(path)
    qtbot.waitUntil(lambda: inspect.current is not None and inspect.current.prediction is not None, timeout=60_000)
    segments = inspect.current.prediction.segments
    bars = inspect.band_bars.opts
    assert len(bars["x0"]) == len(segments) and len(segments) >= 2
    assert [b.color().name() for b in bars["brushes"]] == [LABEL_COLORS[s.label].lower() for s in segments]
    assert bars["x0"][0] == pytest.approx(0.0) and sum(bars["width"]) == pytest.approx(25.0, abs=0.1)
    assert {s.label for s in segments} >= {"speech", "music"}
    assert [t.toPlainText() for t, _ in inspect.band_texts] == [s.label for s in segments]
