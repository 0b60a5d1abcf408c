"""Time on a chart's axis as a clock (m:ss, or h:mm:ss), with ticks at round seconds and minutes: an hour's
file is labelled 0:00 … 60:00, never in kiloseconds."""

from __future__ import annotations

import pyqtgraph as pg

TICK_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
TICK_PIXELS = 70  # a labelled tick at most every this many pixels


def clock(seconds: float, tenths: bool = False) -> str:
    """12.34 -> '0:12' (or '0:12.3' with `tenths`); 3725 -> '1:02:05'; negative values keep their sign."""
    sign = "-" if seconds < 0 and round(abs(seconds), 1 if tenths else 0) > 0 else ""
    seconds = abs(seconds)
    if tenths:
        tenth = int(round(seconds * 10))
        whole, fraction = divmod(tenth, 10)
    else:
        whole, fraction = int(round(seconds)), 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return sign + text + (f".{fraction}" if tenths else "")


class TimeAxis(pg.AxisItem):
    """A bottom axis in m:ss with ticks at round steps (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10 … min)."""

    def __init__(self, orientation: str = "bottom", **kwargs):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        span = maxVal - minVal
        if span <= 0 or size <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        most = max(2.0, size / TICK_PIXELS)
        index = next((i for i, step in enumerate(TICK_STEPS_S) if span / step <= most), len(TICK_STEPS_S) - 1)
        major = TICK_STEPS_S[index]
        minor = TICK_STEPS_S[index - 1] if index else major / 2
        return [(major, 0), (minor, 0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        return [clock(v, tenths=spacing < 1) for v in values]
