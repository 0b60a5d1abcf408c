"""One colour per verdict, the same in every tab (Okabe-Ito colours: told apart with any colour vision)."""

from PySide6.QtGui import QColor

LABEL_COLORS = {"music": "#0072B2", "speech": "#E69F00", "silence": "#999999"}
"""label -> hex colour: music blue, speech orange, silence grey."""
OTHER_COLOR = "#CC79A7"  # a model's label with no colour of its own


def label_color(label: str) -> QColor:
    return QColor(LABEL_COLORS.get(label, OTHER_COLOR))
