# SPDX-License-Identifier: Apache-2.0
"""Thin façade over hemotwin._core: Simulation in SI units, backend choice."""
from .simulation import CarreauYasuda, Numerics, Simulation, SimulationDiverged

__all__ = ["Simulation", "Numerics", "CarreauYasuda", "SimulationDiverged"]
