"""Inspect and Live at 1024x640 (a small laptop screen): the window keeps that size and every key control is on
screen, whole (issue 17)."""

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication


def whole_and_on_screen(window, widget) -> str | None:
    """Why `widget` is not fully usable in `window` (None: it is)."""
    name = widget.accessibleName() or getattr(widget, "text", lambda: "")() or type(widget).__name__
    if not widget.isVisible():
        return f"{name}: hidden"
    rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
    if not window.rect().contains(rect):
        return f"{name}: {rect} outside the window {window.rect()}"
    hint = widget.minimumSizeHint()
    if widget.width() < hint.width() or widget.height() < hint.height():
        return f"{name}: clipped ({widget.width()}x{widget.height()} < {hint.width()}x{hint.height()})"
    return None


@pytest.fixture
def small(window, qtbot):
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (1024, 640), timeout=5_000)
    return window


def test_inspect_is_usable_at_1024x640(small, qtbot, music_clip):
    window = small
    inspect = window.inspect_tab
    window.open_in_inspect(music_clip)
    qtbot.waitUntil(lambda: inspect.current is not None and inspect.current.prediction is not None, timeout=60_000)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 640)  # nothing made the window grow
    controls = [inspect.open_button, inspect.record_button, inspect.play_button, inspect.stop_button]
    controls += [inspect.save_button, inspect.fit_button, inspect.scale, inspect.readout, inspect.name_label]
    controls += [inspect.verdict, inspect.plots]
    assert [p for p in (whole_and_on_screen(window, w) for w in controls) if p] == []
    for plot in inspect.all_plots:  # each plot drawn with some room
        assert plot.vb.sceneBoundingRect().width() > 500 and plot.vb.sceneBoundingRect().height() > 20
    assert inspect.spec_plot.vb.sceneBoundingRect().height() > 150


def test_live_is_usable_at_1024x640(small, qtbot):
    window = small
    live = window.live_tab
    window.tabs.setCurrentWidget(live)
    live.start_button.click()
    qtbot.waitUntil(lambda: live.latest is not None, timeout=15_000)
    live.stop()
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 640)
    controls = [live.device_box, live.refresh_button, live.window_box, live.hop_box, live.start_button]
    controls += [live.verdict, live.confidence, live.level, live.keep_box, live.save_button, live.folder_button]
    controls += [*live.add_buttons, live.log_box, live.spec_plot, live.timeline_plot, live.legend]
    assert [p for p in (whole_and_on_screen(window, w) for w in controls) if p] == []
    assert live.spec_plot.height() > 200 and live.timeline_plot.height() > 120
