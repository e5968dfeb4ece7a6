# SPDX-License-Identifier: Apache-2.0
"""hemotwin: patient-specific hemodynamics from angiography to device sizing.

``import hemotwin`` loads only numpy; SimpleITK, PyVista and VTK are imported by the
stages that need them, so the solver runs on machines without them (GPU nodes, CI).
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "build_info", "cuda_available", "Simulation", "LatticeDomain"]


def build_info() -> dict:
    """What the compiled core was built with.

    Returns
    -------
    dict
        ``version``, ``cuda_compiled`` (bool), ``cuda_architectures`` (list of str),
        ``openmp`` (bool), ``max_threads`` (int), ``compiler`` (str), ``cuda_option`` (the build's
        ``HEMOTWIN_CUDA`` setting: ``AUTO``, ``ON`` or ``OFF``), ``cuda_fma_contraction`` (bool:
        whether nvcc may fuse multiply-adds, ``HEMOTWIN_CUDA_FMA``; on by default; off, the CUDA
        kernels round as the portable CPU build does), ``cuda_emulated`` (bool: a developer build,
        ``HEMOTWIN_CUDA=EMULATE``, whose CUDA backend runs on a CPU emulation of the CUDA runtime;
        cuda/emulation/README.md).

    Examples
    --------
    >>> import hemotwin
    >>> isinstance(hemotwin.build_info()["cuda_compiled"], bool)
    True
    """
    from . import _core

    return dict(_core.build_info())


def cuda_available() -> bool:
    """True when the CUDA backend is compiled in and a usable GPU is present now."""
    from . import _core

    return bool(_core.cuda_device_count() > 0)


def __getattr__(name):  # lazy public API: keeps `import hemotwin` light
    if name == "Simulation":
        from .solver.simulation import Simulation

        return Simulation
    if name == "LatticeDomain":
        from .lattice import LatticeDomain

        return LatticeDomain
    raise AttributeError(f"module 'hemotwin' has no attribute {name!r}")
