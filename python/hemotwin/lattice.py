# SPDX-License-Identifier: Apache-2.0
"""The lattice contract between geometry and solver: D3Q19 velocity set and LatticeDomain.

Index convention: dense volumes are numpy arrays of shape (nx, ny, nz) indexed [i, j, k], and
cell (i, j, k) has its centre at origin_m + (i, j, k) * spacing_m (axis 0 is x).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# D3Q19 velocities; opposite directions are adjacent (1<->2, 3<->4, ...). Must equal cpp/include/hemotwin/lattice/d3q19.hpp.
C = np.array(
    [
        (0, 0, 0),
        (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1),
        (1, 1, 0), (-1, -1, 0), (1, -1, 0), (-1, 1, 0),
        (1, 0, 1), (-1, 0, -1), (1, 0, -1), (-1, 0, 1),
        (0, 1, 1), (0, -1, -1), (0, 1, -1), (0, -1, 1),
    ],
    dtype=np.int64,
)
W = np.array([1 / 3] + [1 / 18] * 6 + [1 / 36] * 12)
OPPOSITE = np.array([0] + [i + 1 if i % 2 == 1 else i - 1 for i in range(1, 19)], dtype=np.int64)

SOLID = 0
FLUID = 1
PORT_BASE = 2  # cell value 2 + p marks a non-fluid cell beyond port p: links into it are port links
MAX_PORTS = 254


@dataclass
class LatticeDomain:
    """A voxelized flow domain ready for the solver.

    Parameters
    ----------
    cell_type : ndarray of uint8, shape (nx, ny, nz)
        0 solid/outside, 1 fluid, 2 + p a non-fluid cell just beyond port p (links from fluid
        cells into it carry port p's inlet/outlet condition).
    spacing_m : float
        Lattice spacing dx in metres.
    origin_m : ndarray, shape (3,)
        Physical position (m) of the centre of cell (0, 0, 0).
    wall_links : ndarray of int32, shape (m, 4)
        (i, j, k, direction) of fluid cells whose link in ``direction`` (1..18, see ``C``)
        crosses the wall; links not listed cut the wall half-way (q = 0.5).
    wall_q : ndarray of float64, shape (m,)
        Fraction q in (0, 1] of the link, from the fluid cell centre, at which the wall sits.
    port_names : list of str
        Name of port p at index p.
    port_roles : list of str
        "inlet" or "outlet" for each port.
    port_normals : ndarray, shape (n_ports, 3)
        Unit normal of each port plane pointing out of the fluid.
    port_centers_m : ndarray, shape (n_ports, 3)
    port_radii_m : ndarray, shape (n_ports,)
    """

    cell_type: np.ndarray
    spacing_m: float
    origin_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    wall_links: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))
    wall_q: np.ndarray = field(default_factory=lambda: np.zeros(0))
    port_names: list = field(default_factory=list)
    port_roles: list = field(default_factory=list)
    port_normals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    port_centers_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    port_radii_m: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def shape(self) -> tuple:
        return tuple(self.cell_type.shape)

    @property
    def n_fluid(self) -> int:
        return int(np.count_nonzero(self.cell_type == FLUID))

    def port_index(self, name: str) -> int:
        try:
            return self.port_names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown port {name!r}; this domain has ports {self.port_names}"
            ) from None

    def cell_centers_m(self, ijk: np.ndarray) -> np.ndarray:
        """Physical centres (m) of cells given as integer (n, 3) indices."""
        return np.asarray(self.origin_m, float) + np.asarray(ijk, float) * self.spacing_m

    def save_npz(self, path) -> None:
        np.savez_compressed(
            path, cell_type=self.cell_type, spacing_m=self.spacing_m, origin_m=self.origin_m,
            wall_links=self.wall_links, wall_q=self.wall_q,
            port_names=np.array(self.port_names, dtype=str),
            port_roles=np.array(self.port_roles, dtype=str), port_normals=self.port_normals,
            port_centers_m=self.port_centers_m, port_radii_m=self.port_radii_m,
        )

    @classmethod
    def load_npz(cls, path) -> "LatticeDomain":
        d = np.load(path, allow_pickle=False)
        return cls(
            cell_type=d["cell_type"], spacing_m=float(d["spacing_m"]), origin_m=d["origin_m"],
            wall_links=d["wall_links"], wall_q=d["wall_q"], port_names=[str(s) for s in d["port_names"]],
            port_roles=[str(s) for s in d["port_roles"]], port_normals=d["port_normals"],
            port_centers_m=d["port_centers_m"], port_radii_m=d["port_radii_m"],
        )
