"""NPV, IRR and paybacks against cash flows computed by hand, and the yearly projection."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.study.finance import Capex, capex, irr, metrics, npv, payback_years, project
from twin.study.model import default_finance


def test_npv_by_hand() -> None:
    # -1000 + 300/1.1 + 400/1.21 + 500/1.331 = -1000 + 272.727273 + 330.578512 + 375.657400
    assert npv(0.10, [-1000, 300, 400, 500]) == pytest.approx(-21.036815, abs=1e-6)
    assert npv(0.0, [-1000, 300, 400, 500]) == pytest.approx(200.0)


def test_irr_by_hand() -> None:
    assert irr([-100, 110]) == pytest.approx(0.10, abs=1e-10)
    assert irr([-1000, 0, 1210]) == pytest.approx(0.10, abs=1e-10)
    # 60x^2 + 60x - 100 = 0 with x = 1/(1+r): x = (-60 + sqrt(27600)) / 120 = 0.88443731
    assert irr([-100, 60, 60]) == pytest.approx(1 / 0.8844373075 - 1, abs=1e-8)
    assert irr([-100, 50, 50]) == pytest.approx(0.0, abs=1e-10)


def test_irr_negative_and_none() -> None:
    # 10 + 10 back for 100: x^2 + x - 10 = 0, x = (-1 + sqrt(41)) / 2 = 2.7015621, r = -0.62984
    assert irr([-100, 10, 10]) == pytest.approx(1 / 2.701562119 - 1, abs=1e-8)
    assert math.isnan(irr([100, 10]))  # never negative: no rate makes it zero
    assert math.isnan(irr([-100, -10]))


def test_payback_by_hand() -> None:
    # cumulative -1000, -700, -300, +200: pays back 300/500 into year 3
    assert payback_years([-1000, 300, 400, 500]) == pytest.approx(2.6)
    # discounted at 10 %: -1000, -727.27, -396.69, -21.04 -> never within 3 years
    assert math.isnan(payback_years([-1000, 300, 400, 500], 0.10))
    # a 4th year of 600 (409.8081 discounted) closes the last 21.0368
    assert payback_years([-1000, 300, 400, 500, 600], 0.10) == pytest.approx(
        3 + 21.036815 / 409.808073, abs=1e-6
    )
    assert payback_years([0, 5]) == 0.0


@given(
    st.floats(100.0, 1e7),
    st.lists(st.floats(0.001, 5.0), min_size=1, max_size=25),
)
def test_irr_zeroes_npv(capex_yuan: float, fractions: list[float]) -> None:
    cf = [-capex_yuan, *(f * capex_yuan for f in fractions)]
    r = irr(cf)
    if math.isnan(r):  # only when even -99 %/yr cannot make the inflows worth the capex
        assert npv(-0.99, cf) < 0
    else:
        assert abs(npv(r, cf)) <= 1e-6 * capex_yuan
        # conventional flow: NPV falls with the rate, so above the IRR it is negative
        assert npv(r + 0.01, cf) < 0 < npv(r - 0.01, cf) or r - 0.01 <= -0.99


def test_irr_agrees_with_polynomial_roots() -> None:
    # An independent method: the IRR's x = 1/(1+r) is a root of sum cf[k] x^k.
    cf = [-5000.0, 1200.0, 1400.0, 1600.0, 1800.0, 900.0]
    roots = np.roots(cf[::-1])
    real = [1 / x.real - 1 for x in roots if abs(x.imag) < 1e-12 and x.real > 0]
    assert irr(cf) == pytest.approx(min(real, key=lambda r: abs(r)), abs=1e-9)


def test_capex_parts() -> None:
    fin = default_finance().model_copy(
        update={
            "capex_yuan_per_kwh": 600.0,
            "capex_yuan_per_kw": 200.0,
            "capex_trafo_yuan_per_kva": 150.0,
            "capex_fixed_yuan": 800_000.0,
        }
    )
    c = capex(fin, e_kwh=4 * 5016.0, pcs_kva=4 * 2500.0, trafo_kva=4 * 2500.0)
    assert c.total_yuan == pytest.approx(600 * 20064 + 200 * 10000 + 150 * 10000 + 800_000)
    assert capex(fin, 0.0, 0.0, 0.0).total_yuan == 0.0


def _fin(**kw):
    base = {
        "opex_pct_of_capex_per_year": 0.0,
        "lifetime_years": 3,
        "discount_rate": 0.0,
        "replace_at_soh": 0.5,
        "replacement_cost_fraction": 0.5,
    }
    return default_finance().model_copy(update={**base, **kw})


def test_projection_hold() -> None:
    fin = _fin(degradation="hold", opex_pct_of_capex_per_year=1.0)
    cap = Capex(1000.0, 0.0, 0.0, 0.0)
    p = project(fin, cap, [100.0], [0.97])
    assert p.cash_flows == pytest.approx((-1000.0, 90.0, 90.0, 90.0))


def test_projection_soh_scaled_and_replacement() -> None:
    cap = Capex(1000.0, 0.0, 0.0, 0.0)
    p = project(_fin(degradation="soh_scaled"), cap, [100.0], [0.97])
    # year 2: mean SOH (0.97 + 0.94)/2 over last simulated year's (1 + 0.97)/2
    assert p.savings_yuan[1] == pytest.approx(100.0 * 0.955 / 0.985)
    assert p.soh_end == pytest.approx((0.97, 0.94, 0.91))
    # replace below 0.95: end of year 2 (SOH 0.94) -> new cells, year 3 fades from 1 again
    p = project(_fin(degradation="soh_scaled", replace_at_soh=0.95), cap, [100.0], [0.97])
    assert p.replacement_yuan == pytest.approx((0.0, 500.0, 0.0))
    assert p.soh_end == pytest.approx((0.97, 1.0, 0.97))
    assert p.savings_yuan[2] == pytest.approx(100.0)
    m = metrics(_fin(degradation="soh_scaled", replace_at_soh=0.95), p)
    assert m.npv_yuan == pytest.approx(sum(p.cash_flows))


def test_projection_uses_every_simulated_year() -> None:
    p = project(_fin(degradation="hold"), Capex(0.0, 0.0, 0.0, 0.0), [10.0, 20.0], [0.98, 0.95])
    assert p.savings_yuan == pytest.approx((10.0, 20.0, 20.0))
    assert p.soh_end[:2] == pytest.approx((0.98, 0.95))
