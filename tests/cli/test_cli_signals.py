"""SIGINT/SIGTERM handling of the long-running ``openmsi`` commands."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from openmsi_gui.cli.signals import StopSignals

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_signal_before_the_wait_is_not_lost() -> None:
    """systemd may send SIGTERM while the job is still starting: the wait must end at once."""
    stop_signals = StopSignals()
    with stop_signals.installed_for():
        os.kill(os.getpid(), signal.SIGTERM)
        started = time.monotonic()
        stop_signals.wait(threading.Event(), seconds=30)
        assert time.monotonic() - started < 1
        assert stop_signals.received is signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_during_the_wait_ends_it() -> None:
    # What it was (SIG_IGN, not Python's handler, when pytest was started from a
    # shell's background job), to be there again afterwards.
    before = signal.getsignal(signal.SIGINT)
    stop_signals = StopSignals()
    stop = threading.Event()
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    stop_signals.wait(stop, seconds=30)
    timer.join()
    assert time.monotonic() - started < 5
    assert stop.is_set()
    assert stop_signals.received is signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before


def test_the_wait_also_ends_when_the_work_is_done() -> None:
    stop_signals = StopSignals()
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    stop_signals.wait(stop)
    assert stop_signals.received is None


def test_a_timed_wait_returns_after_its_time() -> None:
    stop_signals = StopSignals()
    started = time.monotonic()
    stop_signals.wait(threading.Event(), seconds=0.2)
    assert 0.15 < time.monotonic() - started < 5
