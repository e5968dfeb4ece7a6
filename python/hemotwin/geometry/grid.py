# SPDX-License-Identifier: Apache-2.0
"""Voxel-grid geometry shared by the geometry stage: index <-> physical (mm, LPS as ITK reports).

A point with continuous voxel index ``ijk`` (axis 0 = x) sits at
``origin_mm + direction @ (spacing_mm * ijk)``, which is ITK's convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["VoxelGrid", "grid_of"]


@dataclass
class VoxelGrid:
    """Physical geometry of a voxel array indexed [i, j, k].

    Parameters
    ----------
    spacing_mm : array_like, shape (3,)
        Voxel size along each index axis (mm).
    origin_mm : array_like, shape (3,)
        Physical position of the centre of voxel (0, 0, 0) (mm).
    direction : array_like, shape (3, 3)
        Direction cosines; column a is the physical direction of index axis a.
    shape : tuple of 3 ints
        Array shape.
    """

    spacing_mm: np.ndarray
    origin_mm: np.ndarray
    direction: np.ndarray
    shape: tuple

    def __post_init__(self):
        self.spacing_mm = np.asarray(self.spacing_mm, float).reshape(3)
        self.origin_mm = np.asarray(self.origin_mm, float).reshape(3)
        self.direction = np.asarray(self.direction, float).reshape(3, 3)
        self.shape = tuple(int(s) for s in self.shape)

    @property
    def matrix(self) -> np.ndarray:
        """3x3 matrix M with physical = origin + M @ ijk."""
        return self.direction * self.spacing_mm[None, :]

    def index_to_world(self, ijk) -> np.ndarray:
        """Physical points (mm) of continuous indices, shape (..., 3)."""
        return self.origin_mm + np.asarray(ijk, float) @ self.matrix.T

    def world_to_index(self, p_mm) -> np.ndarray:
        """Continuous indices of physical points (mm), shape (..., 3)."""
        return (np.asarray(p_mm, float) - self.origin_mm) @ np.linalg.inv(self.matrix).T

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing_mm))

    def face_normals(self) -> np.ndarray:
        """Physical outward unit normals of the six faces: rows (-i, +i, -j, +j, -k, +k)."""
        out = []
        for a in range(3):
            col = self.direction[:, a] / np.linalg.norm(self.direction[:, a])
            out += [-col, col]
        return np.array(out)


def grid_of(obj, shape=None) -> VoxelGrid:
    """VoxelGrid from any object with ``spacing_mm``, ``origin_mm``, ``direction`` (and an array)."""
    if isinstance(obj, VoxelGrid):
        return obj
    if shape is None:
        for name in ("array", "mask", "image"):
            arr = getattr(obj, name, None)
            if arr is not None:
                shape = arr.shape
                break
    return VoxelGrid(obj.spacing_mm, obj.origin_mm, getattr(obj, "direction", np.eye(3)), shape)
