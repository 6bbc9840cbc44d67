r"""dmgbuild settings for OpenMSI GUI's disk image: the app, an Applications link, drag to install.

Run on macOS after installer/macos/make_app.py::

    dmgbuild -s installer/macos/dmg_settings.py -D app="dist/OpenMSI GUI.app" \\
        "OpenMSI GUI" dist/OpenMSI-GUI-1.2.3.dmg

dmgbuild executes this file with ``defines`` (the ``-D`` values) in its namespace.
"""

import os.path

defines: dict[str, str] = globals().get("defines", {})

application = defines.get("app", "dist/OpenMSI GUI.app")
appname = os.path.basename(application)
here = os.path.dirname(os.path.abspath(globals().get("__file__", "installer/macos/x")))
repo = os.path.dirname(os.path.dirname(here))

# Compressed, read-only; APFS only matters for macOS < 10.13 readers, so keep HFS+.
format = defines.get("format", "UDZO")  # dmgbuild's setting name
filesystem = "HFS+"
size = None  # dmgbuild computes it
files = [application]
symlinks = {"Applications": "/Applications"}
# The licence and notices ship inside the app (Contents/Resources); no EULA dialog: it is GPL.

# The volume's icon in Finder: the app's icon when the repository has it.
icon = os.path.join(repo, "resources", "icons", "openmsi.icns")
if not os.path.isfile(icon):
    icon = None

# Window: the app on the left, an arrow (dmgbuild's built-in background), Applications on the right.
background = defines.get("background", "builtin-arrow")
show_status_bar = False
show_tab_view = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
window_rect = ((200, 120), (640, 360))
default_view = "icon-view"
show_icon_preview = False
arrange_by = None
icon_size = 128
text_size = 13
icon_locations = {appname: (160, 170), "Applications": (480, 170)}
