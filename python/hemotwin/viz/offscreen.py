# SPDX-License-Identifier: Apache-2.0
"""PyVista set up for drawing without a display.

On a Linux machine with no X display (a server, a batch node, CI), VTK first tries an X window,
logs "bad X server connection" and only then falls back to EGL. The warning is noise in a
clinician's log, so where no display is set and the user has not chosen, ask VTK for its EGL
window first; VTK still falls back to the others where EGL is missing.
"""
from __future__ import annotations

import os
import sys


def prefer_headless_window(environ=os.environ, platform: str = sys.platform) -> bool:
    """Sets ``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` when headless; True if it did."""
    if not platform.startswith("linux") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return False
    if "VTK_DEFAULT_OPENGL_WINDOW" in environ:  # the user's choice stands
        return False
    environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
    return True


def pyvista():
    """The pyvista module, off-screen, with the headless window preferred where there is no display."""
    prefer_headless_window()
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv
