"""The desktop app: widgets and windows only; the work is done by `core`."""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # pyqtgraph would prefer PyQt6 if it were installed
