"""Light and dark palettes; "system" follows the OS colour scheme, live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QStyleOptionComplex,
    QWidget,
)

# Fusion draws the edges of check boxes, radio buttons, text fields and spin boxes in the window
# colour made darker, which on a dark window is all but invisible.
_OUTLINED = frozenset({
    QStyle.PrimitiveElement.PE_IndicatorCheckBox,
    QStyle.PrimitiveElement.PE_IndicatorRadioButton,
    QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
    QStyle.PrimitiveElement.PE_FrameLineEdit,
    QStyle.PrimitiveElement.PE_PanelLineEdit,
})
# Fusion's edge colour is Window.darker(140): this window colour gives a mid-grey edge.
DARK_EDGE_SOURCE = QColor("#b4b8bf")


class VisibleEdgesStyle(QProxyStyle):
    """Fusion, with check boxes, radio buttons and text fields outlined visibly in dark mode."""

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        """Draw ``element``; dark palettes get a lighter edge on the outlined ones."""
        if element not in _OUTLINED:
            super().drawPrimitive(element, option, painter, widget)
            return
        with _visible_edges(option):
            super().drawPrimitive(element, option, painter, widget)

    def drawComplexControl(self, control: QStyle.ComplexControl,
                           option: QStyleOptionComplex, painter: QPainter,
                           widget: QWidget | None = None) -> None:
        """Draw ``control``; a dark spin box gets a lighter edge too."""
        if control is not QStyle.ComplexControl.CC_SpinBox:
            super().drawComplexControl(control, option, painter, widget)
            return
        with _visible_edges(option):
            super().drawComplexControl(control, option, painter, widget)


@contextmanager
def _visible_edges(option: QStyleOption) -> Iterator[None]:
    """Draw with a lighter edge colour while the palette is dark (Base darker than mid-grey)."""
    palette = option.palette
    if palette.color(QPalette.ColorRole.Base).lightness() > 100:
        yield
        return
    edged = QPalette(palette)
    edged.setColor(QPalette.ColorRole.Window, DARK_EDGE_SOURCE)
    option.palette = edged
    try:
        yield
    finally:
        option.palette = palette


def _dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d31",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1f22",
        QPalette.ColorRole.AlternateBase: "#26282c",
        QPalette.ColorRole.ToolTipBase: "#2b2d31",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#34363b",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#2f6fb3",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6cb4ff",
        QPalette.ColorRole.PlaceholderText: "#8a8d93",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d83"))
    return palette


def wants_dark(theme: str) -> bool:
    """Whether ``theme`` ("system", "light" or "dark") means dark right now."""
    if theme == "dark":
        return True
    if theme == "light":
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> None:
    """Use the Fusion style (:class:`VisibleEdgesStyle`) with a light or dark palette."""
    style = app.style()
    if not isinstance(style, VisibleEdgesStyle):
        style = VisibleEdgesStyle()
        app.setStyle(style)
    app.setPalette(_dark_palette() if wants_dark(theme) else style.standardPalette())
