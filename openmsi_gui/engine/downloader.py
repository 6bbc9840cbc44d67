"""Where callers find the downloader: it lives in :mod:`openmsi_gui.engine.download`."""

from openmsi_gui.engine.download.assembly import temp_name
from openmsi_gui.engine.download.downloader import Downloader
from openmsi_gui.engine.download.parking import PARKED_ROW
from openmsi_gui.engine.download.problems import RetryDelays, destination_problem
from openmsi_gui.engine.download.sinks import FinishOutcome

__all__ = ["PARKED_ROW", "Downloader", "FinishOutcome", "RetryDelays", "destination_problem",
           "temp_name"]
