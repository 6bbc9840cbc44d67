"""Argument types shared by the subcommands' parsers."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def number_between(low: float, high: float, unit: str) -> Callable[[str], float]:
    """An argparse type: a number of ``unit`` from ``low`` to ``high``, else one sentence."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"give {unit} between {low:g} and {high:g}")
        return value

    return parse
