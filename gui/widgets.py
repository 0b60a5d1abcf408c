"""Small widgets and helpers shared by the tabs: a message label that never widens the window, the folder a
file dialog starts in, and a visible keyboard-focus ring."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QLabel, QProxyStyle, QSizePolicy, QStyle, QWidget

from musicspeech.gui.settings import folder

AUDIO_FILTER = (
    "Audio files (*.wav *.wave *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.mp4 *.aac *.wma *.aif *.aiff *.aifc *.au "
    "*.snd *.caf *.webm *.mka);;All files (*)"
)


class MessageLabel(QLabel):
    """A label for messages of any length: each line is cut to the label's width with "…" and the whole text is
    in the tooltip. Its minimum width is small, so that no message, however long, can widen the window."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)  # from 20 px up; no wider than 400 asked
        self.setTextFormat(Qt.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._full = text or ""
        self.setToolTip(self._full if self._full else "")
        self.setAccessibleDescription(self._full)
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        """The whole message, not the part shown."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def _elide(self) -> None:
        width = max(10, self.contentsRect().width())
        metrics = self.fontMetrics()
        lines = [metrics.elidedText(line, Qt.ElideRight, width) for line in self._full.split("\n")]
        super().setText("\n".join(lines))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(20, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802
        metrics = self.fontMetrics()
        lines = self._full.split("\n")
        width = max((metrics.horizontalAdvance(line) for line in lines), default=0)
        return QSize(min(width + 8, 400), metrics.height() * len(lines) + 4)


def start_folder(settings: QSettings, key: str) -> str:
    """Where a file dialog opens: the folder last used for `key`, else ~/Music, else home (never the folder the
    app happens to run from)."""
    last = folder(key).read(settings)
    if last and Path(last).is_dir():
        return last
    music = Path.home() / "Music"
    return str(music if music.is_dir() else Path.home())


def remember_folder(settings: QSettings, key: str, chosen: str | Path) -> None:
    """Remember the folder of what was chosen in a dialog (a folder itself, or a file's folder)."""
    path = Path(chosen)
    folder(key).write(settings, str(path if path.is_dir() else path.parent))


class FocusRingStyle(QProxyStyle):
    """The platform's style with a clear ring (2 px, the highlight colour) around the button or box that has the
    keyboard focus: the Fusion style marks it with a hairline only."""

    def drawControl(self, element, option, painter, widget=None) -> None:  # noqa: N802
        super().drawControl(element, option, painter, widget)
        if element in (QStyle.CE_PushButton, QStyle.CE_CheckBox, QStyle.CE_RadioButton) and (
            option.state & QStyle.State_HasFocus
        ):
            self._ring(option, painter)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:  # noqa: N802
        super().drawComplexControl(control, option, painter, widget)
        if control in (QStyle.CC_ComboBox, QStyle.CC_SpinBox) and option.state & QStyle.State_HasFocus:
            self._ring(option, painter)

    @staticmethod
    def _ring(option, painter: QPainter) -> None:
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(option.palette.color(QPalette.Highlight), 2))
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(option.rect.adjusted(1, 1, -1, -1), 3, 3)
        painter.restore()
