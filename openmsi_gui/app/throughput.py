"""The throughput plot's numbers without Qt: a round axis, its labels, the samples shown."""

from __future__ import annotations

import math
from collections.abc import Iterable

from openmsi_gui.app.formatting import rate_or_zero, unit_for
from openmsi_gui.app.transfers import HISTORY_SECONDS

Sample = tuple[int, int, int]
"""``(second, up_bytes, down_bytes)`` as kept in ``TransferBook.throughput``."""


def nice_axis(peak: float, steps: int = 4) -> tuple[float, float]:
    """A round top value ``>= peak`` and the gridline step, in the unit of ``peak``.

    ``nice_axis(3.7 * MiB)`` is 4 MiB and 1 MiB; an empty plot (``peak <= 0``)
    gets an axis up to 1 MiB/s.
    """
    if peak <= 0 or not math.isfinite(peak):
        peak = float(1 << 20)
    divisor, _ = unit_for(peak)
    while True:
        raw = peak / divisor / steps
        magnitude = 10.0 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
        top = step * math.ceil(peak / divisor / step - 1e-9)
        if top < 1023.95 or divisor >= unit_for(math.inf)[0]:
            return top * divisor, step * divisor
        divisor *= 1024  # 1024 KiB and more read better as MiB


def axis_label(value: float, top: float) -> str:
    """``value`` bytes/s in the unit of the axis top: ``"2.5 MiB/s"``, ``"0"``."""
    if value <= 0:
        return "0"
    divisor, unit = unit_for(top)
    return f"{value / divisor:g} {unit}/s"


def window_samples(samples: Iterable[Sample], now: float,
                   window: int = HISTORY_SECONDS) -> list[Sample]:
    """The samples of the last ``window`` seconds before ``now``, oldest first."""
    start = now - window
    return sorted(s for s in samples if start <= s[0] <= now)


def recent_rates(samples: list[Sample], seconds: int = 3) -> tuple[float, float]:
    """Mean upload and download bytes/s over the last ``seconds`` samples."""
    recent = samples[-seconds:]
    if not recent:
        return 0.0, 0.0
    return (sum(s[1] for s in recent) / len(recent), sum(s[2] for s in recent) / len(recent))


def describe(samples: list[Sample]) -> str:
    """A sentence for screen readers and the tooltip."""
    up, down = recent_rates(samples)
    peak_up = max((s[1] for s in samples), default=0)
    peak_down = max((s[2] for s in samples), default=0)
    return (f"Throughput over the last 5 minutes. Now: upload {rate_or_zero(up)}, "
            f"download {rate_or_zero(down)}. Peak: upload {rate_or_zero(peak_up)}, "
            f"download {rate_or_zero(peak_down)}.")
