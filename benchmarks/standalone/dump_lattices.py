# SPDX-License-Identifier: Apache-2.0
"""Dumps lattices for gpu_standalone.cpp into .devicedata/*.bin (raw little-endian)."""
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "backends"))
from hemotwin.geometry.voxelize import tube_domain  # noqa: E402
from hemotwin.lattice import LatticeDomain  # noqa: E402


def dump(path, d, tau, kinds, u_lu):
    with open(path, "wb") as fh:
        ct = np.ascontiguousarray(d.cell_type, np.uint8)
        links = np.ascontiguousarray(d.wall_links, np.int32).reshape(-1, 4)
        np.array([*ct.shape, len(links), len(kinds)], np.int64).tofile(fh)
        np.array([tau], np.float64).tofile(fh)
        ct.tofile(fh)
        links.tofile(fh)
        np.ascontiguousarray(d.wall_q, np.float64).tofile(fh)
        np.array(kinds, np.int32).tofile(fh)
        np.array(u_lu, np.float32).reshape(-1, 3).tofile(fh)


out = REPO / ".devicedata"
out.mkdir(exist_ok=True)
t = tube_domain(radius_m=1e-3, length_m=6e-3, dx_m=1e-4, offset_cells=(0.37, 0.61))
dump(out / "tube.bin", t, 0.7, [1, 2], [[0, 0, 0.02], [0, 0, 0]])
# pressure-driven: a pressure port's lattice pressure goes in the x slot of its "velocity" (1e-3 at
# the first port, 0 at the second), so the tube carries a flow (both at 0 would compare noise)
dump(out / "tube_p.bin", t, 0.55, [2, 2], [[1e-3, 0, 0], [0, 0, 0]])
demo = LatticeDomain.load_npz(out / "demo_domain.npz")
kinds = [1 if r == "inlet" else 2 for r in demo.port_roles]
u = [(-np.asarray(n) * 0.02 if r == "inlet" else np.zeros(3)) for n, r in zip(demo.port_normals, demo.port_roles)]
# tau 0.7 as in test_parity.py: at the clinical 0.501 the flow is chaotic enough to amplify FP32
# rounding to ~2e-3 in 1000 steps (measured on an H100), which says nothing about the kernels
dump(out / "demo.bin", demo, 0.7, kinds, u)
aorta = LatticeDomain.load_npz(out / "aorta_domain.npz")
dump(out / "aorta.bin", aorta, 0.8, [2] * len(aorta.port_names), [[0, 0, 0]] * len(aorta.port_names))
print(sorted((p.name, p.stat().st_size) for p in out.iterdir()))
