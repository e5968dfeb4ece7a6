# SPDX-License-Identifier: Apache-2.0
"""What a pulsatile run records at each sample of its last cycle, beside the cycle-mean fields.

The mean fields alone hide what clinicians read off a cycle: a coarctation's peak-to-peak
gradient is max P_prox - max P_dist over time (a cycle-mean profile makes it equal the mean
gradient), the Mach check belongs to systole's fastest cell (not the mean field's), and OSI/TAWSS
need the wall shear vectors of every sample. One flat vector per sample keeps the runner generic
(it stores and checkpoints whatever the sample callback returns); ``split`` takes it apart.
"""
from __future__ import annotations

import numpy as np

from . import hemodynamics as hd
from .lesions import centerline_paths, path_profile


class CycleProbes:
    """Per-sample wall shear vectors, centerline pressures (every inlet-to-outlet path) and the
    fastest cell.

    Parameters
    ----------
    cell_centers_m : (m, 3) array
    dx_m : float
    pressure_offset_pa : float
        Added to the solver's gauge pressure, as the runner's mean fields do.
    surface : pyvista.PolyData, optional
        Lumen surface (mm): wall shear vectors at its wall points.
    centerline : pyvista.PolyData, optional
        Centerline tree (mm) with radii: cross-sectional pressure along each path, on the same
        cells as ``hemodynamics.centerline_pressure`` uses for the mean field.
    """

    def __init__(self, cell_centers_m, dx_m, pressure_offset_pa, surface=None, centerline=None):
        self.offset = float(pressure_offset_pa)
        self.wss_op = self.n_wall = None
        if surface is not None:
            self.wss_op = hd.surface_wss_operator(surface, cell_centers_m, dx_m)
            self.n_wall = self.wss_op.n_points
        self.paths, self.cells = {}, []
        if centerline is not None:
            tree_paths, tree = centerline_paths(centerline), hd.cell_tree(cell_centers_m)
            for port in tree_paths:
                _, pts, _, d = path_profile(centerline, port, paths=tree_paths)
                cells = hd.centerline_pressure_cells(pts, cell_centers_m, radius_mm=0.5 * d, dx_m=dx_m,
                                                     tree=tree)
                self.paths[port] = slice(len(self.cells), len(self.cells) + len(cells))
                self.cells.extend(cells)
        self.width = 3 * (self.n_wall or 0) + len(self.cells) + 2
        # names the record for checkpoints: samples of another layout cannot be resumed
        self.layout = f"cycle_probes/1: wss {self.n_wall or 0} x 3, centerline {len(self.cells)}, peak speed 2"

    def record(self, sim) -> np.ndarray:
        """One sample: [wall shear (P x 3), centerline pressures (Pa, offset added), peak speed
        (m/s), index of the fastest cell]."""
        f = sim.fields()
        wss = self.wss_op.wss(f["stress_pa"]).ravel() if self.wss_op is not None else np.empty(0)
        p_cl = hd.mean_over_cells(self.cells, f["pressure_pa"]) + self.offset if self.cells else np.empty(0)
        speed = np.linalg.norm(f["velocity_m_s"], axis=1)
        k = int(np.argmax(speed)) if speed.size else 0
        return np.concatenate([wss, p_cl, [float(speed[k]) if speed.size else 0.0, float(k)]])

    def split(self, series) -> dict:
        """(T, width) samples -> ``wss`` (T, P, 3) or None, ``centerline_pressure_pa`` {port: (T, n)},
        ``peak_speed_m_s`` (T,), ``peak_cell`` (T,) int."""
        series = np.atleast_2d(np.asarray(series, float))
        if series.shape[1] != self.width:
            raise ValueError(f"the run's cycle samples hold {series.shape[1]} numbers each, this version "
                             f"records {self.width}: they come from a checkpoint of another version or "
                             "geometry; rerun without --resume")
        nw = 3 * (self.n_wall or 0)
        p = series[:, nw:nw + len(self.cells)]
        return {"wss": series[:, :nw].reshape(len(series), -1, 3) if self.n_wall else None,
                "centerline_pressure_pa": {port: p[:, sl] for port, sl in self.paths.items()},
                "peak_speed_m_s": series[:, -2], "peak_cell": series[:, -1].astype(np.int64)}
