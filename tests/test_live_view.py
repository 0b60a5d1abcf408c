"""Live as Friture users expect it (issue 17), through the real widgets and the virtual sound device: placeholders
until there is something to show, a fixed dB colour scale, a timeline that fits what was heard, the last seconds
kept after Stop, and a warning before a silent or clipped sample is added."""

import numpy as np
import pytest

import musicspeech.gui.live_tab
from musicspeech.gui.live_tab import SPEC_DB_RANGE

from .conftest import GTZAN_MUSIC


def music(seconds):
    from musicspeech.core.audio import load_audio

    return load_audio(GTZAN_MUSIC / "hendrix.wav", 16000).samples[: 16000 * seconds]


@pytest.fixture
def live(window):
    tab = window.live_tab
    window.tabs.setCurrentWidget(tab)
    yield tab
    tab.stop()


def test_empty_plots_show_a_placeholder_not_meaningless_axes(live, qtbot):
    assert not live.save_button.isEnabled() and not any(b.isEnabled() for b in live.add_buttons)  # nothing heard
    for view in (live.spec_view, live.timeline_view):
        assert view.currentIndex() == 0 and view.currentWidget().isVisible() and view.currentWidget().text()
    assert not live.spec_plot.isVisible() and not live.timeline_plot.isVisible()
    live.start_button.click()
    qtbot.waitUntil(lambda: live.latest is not None, timeout=15_000)
    assert live.spec_plot.isVisible() and live.timeline_plot.isVisible()


def test_the_spectrogram_colour_scale_is_fixed_so_silence_looks_dark(live, qtbot, virtual_audio):
    live.start_button.click()
    qtbot.waitUntil(lambda: live.spectrogram is not None and live.latest is not None, timeout=15_000)
    assert tuple(live.spec_image.levels) == SPEC_DB_RANGE
    assert live.spectrogram[:, -20:].max() <= SPEC_DB_RANGE[0]  # the silent device: the bottom of the scale
    virtual_audio.play(music(2)).wait()
    qtbot.waitUntil(lambda: live.spectrogram[:, -300:].max() > SPEC_DB_RANGE[0] + 40, timeout=10_000)
    assert tuple(live.spec_image.levels) == SPEC_DB_RANGE  # the scale did not follow the signal
    assert live.spectrogram.max() <= SPEC_DB_RANGE[1] + 6  # GTZAN music stays below a full-scale sine
    assert live.colorbar.levels() == SPEC_DB_RANGE


def test_the_timeline_fits_what_was_heard_so_far_with_labelled_axes(live, qtbot, monkeypatch):
    monkeypatch.setattr(
        musicspeech.gui.live_tab, "TIMELINE_MIN_S", 1.0
    )  # short, so that little has to be heard to pass it
    live.start_button.click()
    qtbot.waitUntil(lambda: len(live.timeline) > 2 and live.timeline[-1][0] - live.timeline[0][0] > 2.0, timeout=20_000)
    heard = live.timeline[-1][0] - live.timeline[0][0] + live.live_settings().hop_s
    left, right = live.timeline_plot.viewRange()[0]
    assert right == pytest.approx(0.0) and -left == pytest.approx(heard, abs=live.live_settings().hop_s)
    assert "time ago" in live.timeline_plot.getAxis("bottom").labelText
    assert live.timeline_plot.getAxis("left").labelText == "p(speech)"
    assert live.timeline_plot.getAxis("bottom").tickStrings([-90.0], 1.0, 30) == ["-1:30"]


def test_the_last_seconds_can_be_saved_and_added_after_stop(live, qtbot, virtual_audio, tmp_path):
    live.start_button.click()
    qtbot.waitUntil(lambda: live.session is not None, timeout=15_000)
    virtual_audio.play(music(4)).wait()
    live.start_button.click()  # stop
    assert live.session is None and live.save_button.isEnabled()
    assert all(b.isEnabled() for b in live.add_buttons)
    live.keep_box.setValue(3)
    wav = tmp_path / "after-stop.wav"
    task = live.save_last(wav)
    qtbot.waitUntil(lambda: not task.running, timeout=10_000)
    import soundfile as sf

    x, _rate = sf.read(wav, dtype="float32")
    assert sf.info(wav).duration == pytest.approx(3.0, abs=0.01) and np.abs(x).max() > 0.05  # what was heard
    live.set_training_folder(str(tmp_path / "mine"))
    messages = []
    live.status.connect(messages.append)
    task = live.add_to_folder("music")  # sound, neither silent nor clipped: added at once
    assert task is not None
    qtbot.waitUntil(lambda: not task.running, timeout=10_000)
    assert len(list((tmp_path / "mine" / "music").glob("live-*.wav"))) == 1
    assert messages[-1].startswith("added 3.0 s (level ") and "to music/ in " in messages[-1]


def test_a_silent_or_clipped_sample_is_warned_about_before_it_is_added(live, qtbot, virtual_audio, tmp_path):
    folder = tmp_path / "mine"
    live.set_training_folder(str(folder))
    live.keep_box.setValue(2)
    live.start_button.click()
    qtbot.waitUntil(lambda: live.session is not None and len(live.last_audio().samples) == 2 * 16000, timeout=15_000)
    assert live.add_to_folder("speech") is None  # the silent device
    box = live.add_warning
    assert box.isVisible() and "2.0 s" in box.text() and "nearly silent" in box.text()
    assert f"speech/ in {folder}" in box.informativeText()
    box.reject()  # Cancel: nothing added
    assert not folder.exists() or not any(folder.rglob("*.wav"))

    virtual_audio.play(np.clip(music(3) * 20, -1, 1)).wait()  # far too loud: clipped
    live.start_button.click()  # stop: the last seconds are the loud ones
    assert live.add_to_folder("music") is None
    box = live.add_warning
    assert "are clipped" in box.text() and "of the samples at full scale" in box.text()
    next(b for b in box.buttons() if b.text() == "Add anyway").click()
    qtbot.waitUntil(lambda: live.add_task is not None and not live.add_task.running, timeout=10_000)
    assert len(list((folder / "music").glob("live-*.wav"))) == 1
