# SPDX-License-Identifier: Apache-2.0
"""Vectorized segment/triangle intersection with a uniform-grid triangle index (numpy only).

Used by the surface voxelizer (exact wall distance q along lattice links, inside tests by ray
parity) and by the surface self-intersection check.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TriangleGrid", "first_hits", "row_crossings", "segment_triangle"]


def segment_triangle(p0, d, v0, v1, v2, eps=1e-12):
    """Moller-Trumbore intersection of segments ``p0 + t d`` (t in [0, 1]) with triangles.

    All arguments are arrays of shape (n, 3) (row-wise pairs). Returns ``t`` (n,) with ``inf``
    where there is no hit. Ties on edges count for both triangles (callers take the minimum).
    """
    v0 = np.asarray(v0, float)
    e1 = np.asarray(v1, float) - v0
    e2 = np.asarray(v2, float) - v0
    n = _cross(e1, e2)
    return _seg_tri(
        np.asarray(p0, float), np.asarray(d, float), v0, e1, e2, n, np.sqrt(_dot(n, n)), eps
    )


def _dot(a, b):
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _cross(a, b):
    return np.column_stack(
        [
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        ]
    )


def _seg_tri(p0, d, v0, e1, e2, n, nlen, eps=1e-12):
    # Moller & Trumbore (1997) with the triple products rewritten around w = s x d, n = e1 x e2
    s = p0 - v0
    w = _cross(s, d)
    a = -_dot(d, n)
    ok = np.abs(a) > eps * nlen * np.sqrt(_dot(d, d))
    f = np.where(ok, 1.0 / np.where(ok, a, 1.0), 0.0)
    u = f * _dot(e2, w)
    v = -f * _dot(e1, w)
    t = f * _dot(s, n)
    tol = 1e-9
    hit = ok & (u >= -tol) & (v >= -tol) & (u + v <= 1 + tol) & (t >= -tol) & (t <= 1 + tol)
    return np.where(hit, np.clip(t, 0.0, 1.0), np.inf)


class TriangleGrid:
    """Uniform grid of bins, each listing the triangles whose bounding box (grown by ``margin``)
    overlaps it, so a short segment only needs the triangles of the bin of its midpoint.

    Parameters
    ----------
    vertices : ndarray (nv, 3)
    triangles : ndarray (nt, 3) of int
    bin_size : float
        Bin edge length (same units as vertices).
    margin : float
        Grow each triangle's box by this (>= half the longest segment that will be queried).
    """

    def __init__(self, vertices, triangles, bin_size, margin):
        self.v = np.asarray(vertices, float)
        self.t = np.asarray(triangles, np.int64)
        self.h = float(bin_size)
        tri = self.v[self.t]
        lo = tri.min(axis=1) - margin
        hi = tri.max(axis=1) + margin
        self.origin = lo.min(axis=0)
        self.dims = np.floor((hi.max(axis=0) - self.origin) / self.h).astype(np.int64) + 1
        blo = np.floor((lo - self.origin) / self.h).astype(np.int64)
        bhi = np.floor((hi - self.origin) / self.h).astype(np.int64)
        ext = bhi - blo + 1
        counts = ext.prod(axis=1)
        tri_ids = np.repeat(np.arange(len(self.t)), counts)
        # enumerate the bins of each triangle's box: local offset -> (di, dj, dk)
        start = np.repeat(np.cumsum(counts) - counts, counts)
        local = np.arange(counts.sum()) - start
        e = ext[tri_ids]
        di = local // (e[:, 1] * e[:, 2])
        dj = (local // e[:, 2]) % e[:, 1]
        dk = local % e[:, 2]
        b = blo[tri_ids] + np.column_stack([di, dj, dk])
        keys = self._key(b)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.tris = tri_ids[order]
        self.ukeys, self.ustart, self.ucount = np.unique(
            self.keys, return_index=True, return_counts=True
        )
        self.v0 = tri[:, 0]
        self.e1 = tri[:, 1] - tri[:, 0]
        self.e2 = tri[:, 2] - tri[:, 0]
        self.n = _cross(self.e1, self.e2)
        self.nlen = np.sqrt(_dot(self.n, self.n))

    def _key(self, b):
        return (b[:, 0] * self.dims[1] + b[:, 1]) * self.dims[2] + b[:, 2]

    def candidates(self, points):
        """(point_index, triangle_index) pairs for triangles in the bin of each point."""
        b = np.floor((np.asarray(points, float) - self.origin) / self.h).astype(np.int64)
        inside = np.all((b >= 0) & (b < self.dims), axis=1)
        keys = np.where(inside, self._key(np.clip(b, 0, self.dims - 1)), -1)
        pos = np.searchsorted(self.ukeys, keys)
        pos = np.clip(pos, 0, len(self.ukeys) - 1)
        found = inside & (self.ukeys[pos] == keys)
        cnt = np.where(found, self.ucount[pos], 0)
        st = np.where(found, self.ustart[pos], 0)
        pid = np.repeat(np.arange(len(keys)), cnt)
        off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        tid = self.tris[np.repeat(st, cnt) + off]
        return pid, tid


def first_hits(grid: TriangleGrid, p0, d, batch=2_000_000, exclude_shared=None):
    """First intersection of each segment ``p0 + t d`` with the triangles.

    Returns
    -------
    t : ndarray (n,)
        Smallest hit parameter in [0, 1], ``inf`` where none.
    tri : ndarray (n,) of int
        Index of the hit triangle, -1 where none.
    """
    p0 = np.asarray(p0, float)
    d = np.asarray(d, float)
    n = len(p0)
    t_best = np.full(n, np.inf)
    tri_best = np.full(n, -1, np.int64)
    mid = p0 + 0.5 * d
    pid, tid = grid.candidates(mid)
    for s in range(0, len(pid), batch):
        pi = pid[s : s + batch]
        ti = tid[s : s + batch]
        t = _seg_tri(
            p0[pi], d[pi], grid.v0[ti], grid.e1[ti], grid.e2[ti], grid.n[ti], grid.nlen[ti]
        )
        if exclude_shared is not None:
            t = np.where(exclude_shared(pi, ti), np.inf, t)
        # per-segment minimum: sort by (segment, t) and keep the first of each segment
        ok = np.isfinite(t)
        pi, ti, t = pi[ok], ti[ok], t[ok]
        better = t < t_best[pi]
        pi, ti, t = pi[better], ti[better], t[better]
        order = np.lexsort((t, pi))
        pi, ti, t = pi[order], ti[order], t[order]
        first = np.ones(len(pi), bool)
        first[1:] = pi[1:] != pi[:-1]
        t_best[pi[first]] = t[first]
        tri_best[pi[first]] = ti[first]
    return t_best, tri_best


def row_crossings(vertices, triangles, ys, zs):
    """Crossings of the lines (y = ys[j], z = zs[k]) parallel to x with the triangles.

    Returns (j, k, x) arrays of every crossing, for inside tests by parity along x.
    """
    v = np.asarray(vertices, float)
    t = np.asarray(triangles, np.int64)
    tri = v[t]
    ys = np.asarray(ys, float)
    zs = np.asarray(zs, float)
    ylo, yhi = tri[:, :, 1].min(1), tri[:, :, 1].max(1)
    zlo, zhi = tri[:, :, 2].min(1), tri[:, :, 2].max(1)
    j0 = np.searchsorted(ys, ylo)
    j1 = np.searchsorted(ys, yhi, side="right")
    k0 = np.searchsorted(zs, zlo)
    k1 = np.searchsorted(zs, zhi, side="right")
    nj = np.maximum(j1 - j0, 0)
    nk = np.maximum(k1 - k0, 0)
    cnt = nj * nk
    tid = np.repeat(np.arange(len(t)), cnt)
    local = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    jj = j0[tid] + local // np.maximum(nk[tid], 1)
    kk = k0[tid] + local % np.maximum(nk[tid], 1)
    a, b, c = tri[tid, 0], tri[tid, 1], tri[tid, 2]
    py, pz = ys[jj], zs[kk]
    # 2-D barycentric coordinates in the (y, z) projection
    d = (b[:, 1] - a[:, 1]) * (c[:, 2] - a[:, 2]) - (c[:, 1] - a[:, 1]) * (b[:, 2] - a[:, 2])
    ok = np.abs(d) > 1e-300
    d = np.where(ok, d, 1.0)
    l1 = ((py - a[:, 1]) * (c[:, 2] - a[:, 2]) - (c[:, 1] - a[:, 1]) * (pz - a[:, 2])) / d
    l2 = ((b[:, 1] - a[:, 1]) * (pz - a[:, 2]) - (py - a[:, 1]) * (b[:, 2] - a[:, 2])) / d
    l0 = 1 - l1 - l2
    # half-open rule on shared edges so a line through an edge is counted once
    hit = ok & (l0 >= 0) & (l1 >= 0) & (l2 >= 0) & ~((l1 == 0) & (d < 0)) & ~((l2 == 0) & (d < 0))
    x = l0 * a[:, 0] + l1 * b[:, 0] + l2 * c[:, 0]
    return jj[hit], kk[hit], x[hit]
