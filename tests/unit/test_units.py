# SPDX-License-Identifier: Apache-2.0
import pytest

from hemotwin.units import (LatticeUnits, StabilityError, check_stability, choose_lattice_units, mmhg_to_pa,
                            pa_to_mmhg)


def test_round_trips():
    u = LatticeUnits(dx_m=2e-4, dt_s=1e-5, rho_kg_m3=1060.0)
    for f, g, x in [(u.velocity_to_lu, u.velocity_to_si, 0.7), (u.pressure_to_lu, u.pressure_to_si, 1234.0),
                    (u.flow_to_lu, u.flow_to_si, 5e-6)]:
        assert g(f(x)) == pytest.approx(x, rel=1e-14)
    assert pa_to_mmhg(mmhg_to_pa(80.0)) == pytest.approx(80.0)
    assert mmhg_to_pa(1.0) == pytest.approx(133.322, rel=1e-5)


def test_time_step_from_target_speed_and_from_tau():
    u = choose_lattice_units(1e-4, 3.3e-6, 1060, u_max_m_s=0.5, u_lu_max=0.05)
    assert u.velocity_to_lu(0.5) == pytest.approx(0.05)
    v = choose_lattice_units(1e-4, 3.3e-6, 1060, u_max_m_s=0.5, tau=0.8)
    assert v.tau(3.3e-6) == pytest.approx(0.8)


def test_refuses_tau_near_half_without_les_and_names_numbers():
    u = choose_lattice_units(1e-3, 3.3e-6, 1060, u_max_m_s=1.0, u_lu_max=0.05)
    with pytest.raises(StabilityError, match=r"tau = 0\.50\d+ .*enable LES"):
        check_stability(u, 3.3e-6, 1.0, les=False)
    check_stability(u, 3.3e-6, 1.0, les=True)  # LES makes it acceptable


def test_refuses_high_mach():
    u = choose_lattice_units(1e-4, 3.3e-6, 1060, u_max_m_s=1.0, tau=0.9)
    with pytest.raises(StabilityError, match="Mach"):
        check_stability(u, 3.3e-6, 1.0, les=False)


def test_the_documented_maximum_lattice_speed_is_accepted():
    # dt = u_lu dx / u, then u / (dx / dt) rounds a hair above 0.15: the limit itself must pass
    from hemotwin.units import U_LU_LIMIT, LatticeUnits, StabilityError, check_stability

    dx, u = 4.253864177577198e-4, 0.1  # one of the speeds that rounds up
    units = LatticeUnits(dx_m=dx, dt_s=U_LU_LIMIT * dx / u, rho_kg_m3=1060.0)
    check_stability(units, 3.3e-6, u, les=True)
    import pytest

    with pytest.raises(StabilityError, match="exceeds 0.15"):
        check_stability(units, 3.3e-6, u * 1.001, les=True)
