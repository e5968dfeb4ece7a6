# SPDX-License-Identifier: Apache-2.0
"""Rendering (the only place that draws): PyVista wall maps and streamlines off-screen
(``viz.wall``), matplotlib centerline plots (``viz.plots``), the figure set of a case
(``case_figures``). Importing this package loads neither PyVista nor matplotlib."""
from __future__ import annotations

__all__ = ["case_figures"]


def __getattr__(name):
    if name == "case_figures":
        from .case import case_figures

        return case_figures
    raise AttributeError(f"module 'hemotwin.viz' has no attribute {name!r}")
