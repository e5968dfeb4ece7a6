# SPDX-License-Identifier: Apache-2.0
"""FDA benchmark nozzle as an exact-q lattice, in the data set's own axial frame (z along the flow).

Dimensions: Hariharan et al., J Biomech Eng 133:041002 (2011), Fig. 1; Stewart et al., CVET (2012);
REFERENCE.md sec. 3.2. Frame: z = 0 at the sudden step, flow towards +z, axis on x = y = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry.voxelize import PortPlane, voxelize_implicit
from ..lattice import LatticeDomain

PIPE_RADIUS_M = 6.0e-3  # 12 mm inlet/outlet pipe
THROAT_RADIUS_M = 2.0e-3  # 4 mm throat
THROAT_LENGTH_M = 40.0e-3
CONE_LENGTH_M = 22.685e-3  # 4 mm radius change at 10 deg half-angle: 4 / tan(10 deg)
ORIENTATIONS = ("sudden-expansion", "conical-diffuser")


def nozzle_radius_m(z_m, orientation: str = "sudden-expansion"):
    """Lumen radius (m) at axial position z (m) in the data frame of ``orientation``.

    sudden-expansion: flow enters through the 20 deg converging cone (-0.062685 <= z <= -0.040),
    throat -0.040 <= z < 0, sudden step 4 -> 12 mm at z = 0 (as ``geometry-sudden-z 0.0`` with
    ``geometry-flow-z-direction +1`` in the FDA SE data files).
    conical-diffuser: the same part turned round; flow enters through the sudden contraction
    12 -> 4 mm at z = 0, throat 0 < z <= 0.040, diverging cone 0.040 <= z <= 0.062685. z again
    runs with the flow from the sudden step (see docs/validation.md on this frame).
    """
    z = np.asarray(z_m, float)
    if orientation == "conical-diffuser":
        z = -z
    elif orientation != "sudden-expansion":
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    cone_start = -(THROAT_LENGTH_M + CONE_LENGTH_M)
    t = np.clip((z - cone_start) / CONE_LENGTH_M, 0.0, 1.0)
    r = PIPE_RADIUS_M + t * (THROAT_RADIUS_M - PIPE_RADIUS_M)
    # the step belongs to the wide pipe on the downstream side (z >= 0 in SE)
    return np.where(z >= 0.0, PIPE_RADIUS_M, r)


@dataclass
class NozzleLayout:
    """Where the straight pipes end (m, data frame) and the lattice spacing."""

    orientation: str
    dx_m: float
    z_inlet_m: float
    z_outlet_m: float

    @property
    def cells_across_throat(self) -> float:
        return 2 * THROAT_RADIUS_M / self.dx_m


def nozzle_domain(cells_across_throat: float = 12, orientation: str = "sudden-expansion",
                  z_inlet_m: float | None = None, z_outlet_m: float = 0.11,
                  pad_cells: int = 2) -> tuple[LatticeDomain, NozzleLayout]:
    """Lattice of the FDA nozzle with a parabolic-inlet port and a pressure-outlet port.

    Parameters
    ----------
    cells_across_throat : float
        Lattice cells across the 4 mm throat diameter (dx = 4 mm / this).
    orientation : {"sudden-expansion", "conical-diffuser"}
    z_inlet_m : float, optional
        Inlet plane (m, data frame, < start of the nozzle part). Default: 2.5 pipe diameters (30 mm)
        upstream of the first nozzle feature (z = -0.0927 for SE, -0.030 for CD).
    z_outlet_m : float
        Outlet plane (m, data frame).
    pad_cells : int
        Solid cells around the fluid.

    Returns
    -------
    (LatticeDomain, NozzleLayout)
        The axis runs along lattice z through cell centres at x = y = 0; physical z of a cell
        equals the data-frame z. Ports ``inlet`` (normal -z) and ``outlet`` (normal +z). The
        sudden step lies half-way between two cell layers.

    Examples
    --------
    >>> dom, lay = nozzle_domain(6, z_inlet_m=-0.07, z_outlet_m=0.01)
    >>> dom.port_names, round(lay.dx_m * 1e3, 4)
    (['inlet', 'outlet'], 0.6667)
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    dx = 2 * THROAT_RADIUS_M / float(cells_across_throat)
    if z_inlet_m is None:
        first = -(THROAT_LENGTH_M + CONE_LENGTH_M) if orientation == "sudden-expansion" else 0.0
        z_inlet_m = first - 0.030
    if not z_outlet_m > z_inlet_m:
        raise ValueError(f"z_outlet_m ({z_outlet_m}) must be downstream of z_inlet_m ({z_inlet_m})")
    # whole cells between the step (z = 0) and each port plane so the step is half-way between layers
    n_up = round(-z_inlet_m / dx)
    n_down = round(z_outlet_m / dx)
    z_in, z_out = -n_up * dx, n_down * dx
    n_len = n_up + n_down
    n_r = math.ceil(PIPE_RADIUS_M / dx) + 1 + pad_cells
    shape = (2 * n_r + 1, 2 * n_r + 1, n_len + 2 + 2 * pad_cells)
    origin = np.array([-n_r * dx, -n_r * dx, z_in + (0.5 - 1 - pad_cells) * dx])

    def inside(p):
        p = np.asarray(p, float)
        return np.hypot(p[..., 0], p[..., 1]) - nozzle_radius_m(p[..., 2], orientation)

    ez = np.array([0.0, 0.0, 1.0])
    ports = [PortPlane("inlet", "inlet", z_in * ez, -ez, PIPE_RADIUS_M),
             PortPlane("outlet", "outlet", z_out * ez, ez, PIPE_RADIUS_M)]
    dom = voxelize_implicit(inside, None, None, dx, ports, origin_m=origin, shape=shape)
    return dom, NozzleLayout(orientation, dx, z_in, z_out)
