"""What the destinations said about a file sent from here, as people read it (no Qt).

A sent file's row keeps each destination's latest word (from a verified receipt:
delivered, with its time, or failed there, with the destination's reason) and
the expected destinations that did not confirm it in time (*Not confirmed*, see
:mod:`openmsi_gui.engine.confirmation`). This module folds those events into a
row's fields and says them: the transfers table's Delivery column, its tooltip
and the details pane; the history's Delivery column says the same from the
registry (:func:`words_from_deliveries`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from openmsi_gui.engine.deliveries import Delivery
from openmsi_gui.engine.events import DeliveryStatus, FileDelivery, FileUnconfirmed
from openmsi_gui.engine.receipts import ReceiptStatus
from openmsi_gui.engine.untrusted import escaped

UNCONFIRMED_WORD = "Not confirmed"


@dataclass(frozen=True, slots=True)
class DestinationWord:
    """One destination's latest word on one file.

    Attributes:
        status: delivered, or failed there.
        at: when the destination said so (its clock).
        reason: why it failed there (escaped; "" if delivered).
        where: where it stored the file (escaped; "" if it failed).
    """

    status: DeliveryStatus
    at: float
    reason: str = ""
    where: str = ""


def word_of(event: FileDelivery) -> DestinationWord:
    """The word a :class:`FileDelivery` carries (its texts are escaped already)."""
    return DestinationWord(event.status, event.confirmed_at, event.reason, event.where)


def words_from_deliveries(deliveries: Iterable[Delivery]) -> dict[str, DestinationWord]:
    """The words recorded in the registry, by destination (their texts escaped here)."""
    return {escaped(d.destination): DestinationWord(
        DeliveryStatus.DELIVERED if d.status is ReceiptStatus.STORED else DeliveryStatus.FAILED,
        d.receipt_time, escaped(d.reason), escaped(d.stored_at)) for d in deliveries}


def clock_time(epoch: float, now: float | None = None) -> str:
    """``"14:02"`` today, ``"2026-12-05 14:02"`` on another day (local time)."""
    moment = datetime.datetime.fromtimestamp(epoch)
    today = datetime.datetime.fromtimestamp(now) if now is not None else datetime.datetime.now()
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def delivery_cell(words: Mapping[str, DestinationWord], missing: Sequence[str] = (),
                  now: float | None = None) -> str:
    """The Delivery column: the worst news first, short.

    ``"Not confirmed by archive"``, ``"Failed at archive"``, ``"Delivered 14:02 · archive"``,
    ``"Delivered 14:03 · 2 destinations"`` (the latest time), or "" when nothing was said.
    """
    if missing:
        return f"{UNCONFIRMED_WORD} by {_names(missing)}"
    failed = [name for name, word in words.items() if word.status is DeliveryStatus.FAILED]
    if failed:
        return f"Failed at {_names(failed)}"
    if not words:
        return ""
    latest = clock_time(max(word.at for word in words.values()), now)
    if len(words) == 1:  # the time first: a long name is cut short in the middle
        return f"Delivered {latest} · {next(iter(words))}"
    return f"Delivered {latest} · {len(words)} destinations"


def delivery_lines(words: Mapping[str, DestinationWord], missing: Sequence[str] = (),
                   now: float | None = None) -> list[str]:
    """One line per destination, for a tooltip or the details pane."""
    lines = [f"{UNCONFIRMED_WORD} by {name} in time" for name in missing
             if name not in words]
    for name in sorted(words, key=str.casefold):
        word = words[name]
        when = clock_time(word.at, now)
        if word.status is DeliveryStatus.DELIVERED:
            where = f" ({word.where})" if word.where else ""
            lines.append(f"Delivered to {name} at {when}{where}")
        else:
            lines.append(f"Failed at {name} at {when}: {word.reason or 'no reason given'}")
    return lines


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def unconfirmed_notice(events: Sequence[FileUnconfirmed]) -> tuple[str, str] | None:
    """One notification for the files found not confirmed together: ``(title, text)``.

    Each sending is announced once (see :class:`~openmsi_gui.engine.confirmation.DeadlineWatch`),
    so the files of one batch make one notification, not one each.
    """
    if not events:
        return None
    first = events[0]
    names = sorted({name for event in events for name in event.missing}, key=str.casefold)
    files = first.relpath if len(events) == 1 else f"{first.relpath} and {len(events) - 1} more"
    title = ("A file was not confirmed" if len(events) == 1
             else f"{len(events)} files were not confirmed")
    if all(event.resending for event in events):
        return title, f"{files}: not confirmed by {_names(names)} in time; sent again by itself."
    return title, (f"{files}: not confirmed by {_names(names)} in time. Select "
                   f"{'it' if len(events) == 1 else 'them'} in Transfers and press Send again.")
