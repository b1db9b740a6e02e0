"""Parameter sets: shipped types, derived ratings, sources required, overrides validated."""

import tomllib

import pytest

from devices import UnitParams, load_unit_params, unit_types
from devices.params import _loss_curve
from parktwin.config import package_text, validate
from parktwin.errors import InputError


def test_shipped_unit_types_are_the_contract_names() -> None:
    assert {"lfp280-2236kwh", "lfp314-5016kwh"} <= set(unit_types())


def test_first_project_cabin_by_hand() -> None:
    p = load_unit_params("lfp280-2236kwh")
    # 6 racks x 416 cells x 280 Ah x 3.2 V = 2236.416 kWh
    assert p.e_nom_kwh == pytest.approx(6 * 416 * 280 * 3.2 / 1000)
    assert p.pcs_kva == 1250.0
    assert p.p_max_kw == pytest.approx(1118.0)  # 0.5P cabin: below the PCS rating
    assert (p.soc_min, p.soc_max) == (0.05, 0.95)
    assert p.ramp_kw_per_s == pytest.approx(1250.0)
    assert p.name == "lfp280-2236kwh"


def test_modern_cabin_by_hand() -> None:
    p = load_unit_params("lfp314-5016kwh")
    assert p.e_nom_kwh == pytest.approx(12 * 416 * 314 * 3.2 / 1000)  # 5016.5 kWh
    assert p.pcs_kva == 2500.0
    assert p.p_max_kw == pytest.approx(2500.0)


def test_pcs_override_and_bad_override() -> None:
    p = load_unit_params("lfp280-2236kwh", pcs_kva=1000.0)
    assert p.pcs_kva == 1000.0 and p.p_max_kw == 1000.0
    assert load_unit_params("lfp280-2236kwh").pcs_kva == 1250.0  # cached original untouched
    with pytest.raises(InputError, match="pcs_kva"):
        load_unit_params("lfp280-2236kwh", pcs_kva=-5.0)
    with pytest.raises(InputError, match="unknown"):
        load_unit_params("nope")


def test_params_are_frozen() -> None:
    p = load_unit_params("lfp280-2236kwh")
    with pytest.raises(ValueError):
        p.cell.capacity_ah = 1.0  # type: ignore[misc]


def _raw(name: str = "lfp280-2236kwh") -> dict:
    return tomllib.loads(package_text("devices", f"units/{name}.toml"))


@pytest.mark.parametrize("name", unit_types("lfp"))
def test_every_value_has_a_source(name: str) -> None:
    raw = _raw(name)
    for section, body in raw.items():
        if isinstance(body, dict) and "sources" in body:
            values = {k for k in body if k != "sources"}
            assert values == set(body["sources"]), section
        elif isinstance(body, dict):
            assert body.get("source"), section


def test_a_missing_source_is_a_one_line_error_naming_the_field() -> None:
    raw = _raw()
    del raw["cell"]["sources"]["r0_mohm"]
    with pytest.raises(InputError) as err:
        validate(raw, UnitParams, "units/x.toml")
    msg = str(err.value)
    assert "\n" not in msg and "units/x.toml: cell" in msg and "r0_mohm" in msg


def test_non_monotone_ocv_is_refused() -> None:
    raw = _raw()
    raw["ocv"]["v_cell"][3] = 3.0
    with pytest.raises(InputError, match="ocv"):
        validate(raw, UnitParams, "units/x.toml")


def test_loss_curve_from_efficiency_by_hand() -> None:
    xs, ys = _loss_curve(1000.0, [0.5, 1.0], [0.98, 0.96], 2.0, "charge")
    assert xs == [0.0, 500.0, 1000.0]
    assert ys == pytest.approx([2.0, 10.0, 40.0])  # P (1 - eta)
    _, yd = _loss_curve(1000.0, [0.5, 1.0], [0.98, 0.96], 2.0, "discharge")
    assert yd == pytest.approx([2.0, 500 * (1 / 0.98 - 1), 1000 * (1 / 0.96 - 1)])  # P (1/eta - 1)
