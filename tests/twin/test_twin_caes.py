"""The first project read as compressed-air units: the scenario's `unit_types`, and the
engine, strategies and guards running them unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from parktwin.errors import InputError
from tests.twin.strategies import SPRING_2024, hand_sim
from twin.scenario import Scenario, load_scenario
from twin.wiring import site_of

VESSEL = "caes-2236kwh"
CAES = {"xinsheng-ess": VESSEL}


def test_unit_types_replace_a_groups_type_and_name_a_wrong_group(tmp_path) -> None:
    site = site_of(Scenario(storage_groups=("xinsheng-ess",), unit_types=CAES))
    (g,) = site.storage
    assert (g.unit_type, g.count, g.pcs_kva, g.trafo_kva) == (VESSEL, 3, 1250, 1600)
    with pytest.raises(InputError, match="unit_types: no storage group 'nowhere-ess'"):
        site_of(Scenario(unit_types={"nowhere-ess": VESSEL}))
    path = tmp_path / "s.toml"
    path.write_text('[unit_types]\nxinsheng-ess = "units/mine.toml"\n')
    assert load_scenario(path).unit_types["xinsheng-ess"] == str(tmp_path / "units/mine.toml")


def test_the_shipped_example_is_the_first_project_as_compressed_air() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "first-project-caes.toml"
    sc = load_scenario(example)
    assert sc.storage_groups == ("xinsheng-ess",) and sc.unit_types == CAES


def test_compressed_air_units_charge_in_the_valley_and_give_back_at_the_peak() -> None:
    from twin.strategies import load_strategy

    sim, _ = hand_sim(SPRING_2024, load_strategy("tou"), days=2, unit_types=CAES)
    e0 = sim.fleet.e_stored_kwh.copy()
    sim.run()
    rec = sim.recorder
    p = rec.units["p_ac_kw"][: rec.rows]  # (intervals, units), + charging
    hour = (np.arange(rec.rows) * 900 // 3600) % 24
    valley = np.isin(hour, [0, 1, 2, 3, 4, 5, 6, 7, 11, 12])
    assert p[valley].max() > 500.0 and p[~valley].max() <= 1e-9  # charges only in the valley
    assert p[~valley].min() < -500.0 and p[valley].min() >= -1e-9  # gives back at the peak
    # the run's energy closes: AC in - out = d(stored exergy) + losses
    u = rec.units
    e_in, e_out = u["e_ac_in_kwh"][: rec.rows].sum(), u["e_ac_out_kwh"][: rec.rows].sum()
    losses = u["loss_pcs_kwh"][: rec.rows].sum() + u["loss_battery_kwh"][: rec.rows].sum()
    d = float(np.sum(sim.fleet.e_stored_kwh - e0))
    assert e_in - e_out == pytest.approx(d + losses, rel=1e-9)
    # far below a battery's ~0.9 (not the round trip itself: the run starts half full)
    assert e_out / e_in < 0.6
    assert np.all(sim.fleet.soh == 1.0)


def test_calibrating_a_compressed_air_unit_is_refused_in_one_line(tmp_path, capsys) -> None:
    from twin.cli import main

    data = tmp_path / "log.csv"
    data.write_text("time,p\n")
    code = main(["calibrate", str(data), "--unit-type", VESSEL, "--out", str(tmp_path / "f.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "a caes unit; calibration fits LFP cabins" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
