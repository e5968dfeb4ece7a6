# SPDX-License-Identifier: Apache-2.0
"""A flow whose jet broke the lattice speed limit is run once more with a time step set for it."""
import numpy as np
import pytest

from hemotwin.pipeline import RERUN_SPEED_MARGIN, _rerun_if_too_fast


def _flow(speed_m_s, expected_m_s, dt_s=1e-5, dx_m=1e-4):
    centers = np.array([[0.0, 0.0, 0.0], [1e-3, 2e-3, 3e-3]])
    u = np.zeros((2, 3))
    u[1, 2] = speed_m_s
    return {"fields": {"velocity_m_s": u}, "spacing_m": dx_m, "cell_centers_m": centers,
            "describe": {"dt_s": dt_s, "u_max_m_s": expected_m_s}}


def test_a_jet_above_the_limit_is_rerun_with_a_time_step_set_for_it():
    asked = []

    def rerun(u):
        asked.append(u)
        return _flow(speed_m_s=1.98, expected_m_s=u, dt_s=1e-4 * 0.1 / u)

    first = _flow(speed_m_s=1.98, expected_m_s=0.92, dt_s=1e-4 * 0.1 / 0.92)  # lattice 0.215
    flow, (warning,) = _rerun_if_too_fast(first, "pre-treatment", rerun)
    assert asked == [pytest.approx(RERUN_SPEED_MARGIN * 1.98)]
    assert flow["describe"]["u_max_m_s"] == asked[0]
    assert "run twice" in warning and "1.98 m/s" in warning and "0.215" in warning and "2.38 m/s" in warning


def test_a_flow_within_the_limit_is_kept():
    flow = _flow(speed_m_s=0.9, expected_m_s=0.92, dt_s=1e-4 * 0.1 / 0.92)
    assert _rerun_if_too_fast(flow, "pre-treatment", lambda u: pytest.fail("no rerun")) == (flow, [])
