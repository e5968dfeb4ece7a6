# SPDX-License-Identifier: Apache-2.0
"""Geometry stage: lumen surface, centerlines and radii, ports, phantoms, voxelization into the lattice.

Submodules are imported on use (``from hemotwin.geometry import voxelize``) so the solver can use
``geometry.voxelize`` on machines without VTK; only ``surface``/``centerlines`` need PyVista.
"""
