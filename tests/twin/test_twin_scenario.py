"""Scenario model: defaults, TOML files, one-line errors."""

from __future__ import annotations

import datetime as dt

import pytest

from parktwin.errors import InputError
from parktwin.limits import grid_limits
from twin.scenario import GuardConfig, Scenario, default_scenario, load_scenario


def test_default_is_the_first_project_over_2025() -> None:
    sc = default_scenario()
    assert sc.start == dt.date(2025, 1, 1) and sc.days == 365 and sc.step_s == 900.0
    assert sc.strategy == "tou" and sc.seed == 0 and sc.site is None
    assert sc.storage_groups == ("xinsheng-ess",)
    assert sc.n_steps == 35040 and sc.plant_every == 1


def test_periods_in_physics_steps() -> None:
    sc = Scenario(step_s=0.1, control_s=1.0, grid_s=0.5, days=1)
    assert sc.control_every == 10 and sc.grid_every == 5 and sc.plant_every == 5


def test_toml_file_overrides_fields(tmp_path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(
        'start = 2026-07-01\ndays = 7\nstep_s = 60\nstrategy = "lp"\nseed = 4\n'
        "[guards]\nbackflow_margin_kw = 50\n"
        '[[faults]]\nkind = "pcs_trip"\nunit = "xinsheng-ess-1"\nat_s = 3600\n',
        encoding="utf-8",
    )
    sc = load_scenario(f)
    assert sc.start == dt.date(2026, 7, 1) and sc.days == 7 and sc.step_s == 60.0
    assert sc.guards.backflow_margin_kw == 50.0 and sc.faults[0].unit == "xinsheng-ess-1"


@pytest.mark.parametrize(
    "text,match",
    [
        ("days = 0", r"s\.toml: days: Input should be greater than or equal to 1"),
        ("step_s = 900\ncontrol_s = 1000", "control_s .* must be a whole multiple of step_s"),
        ('strategy = "nope"', "strategy: .*module.path:ClassName"),
        ("bogus = 1", "bogus: Extra inputs are not permitted"),
        ('[[faults]]\nkind = "meteor"\nunit = 0\nat_s = 0', r"faults\[0\]\.kind"),
        ("[guards]\nsoc_min = 0.9\nsoc_max = 0.1", "soc_min .* must be below soc_max"),
        ('site = "missing.toml"', "site: no such file"),
        ("days = ", "not valid TOML"),
    ],
)
def test_bad_files_give_one_line(tmp_path, text: str, match: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=match) as info:
        load_scenario(f)
    assert "\n" not in str(info.value)


def test_model_copy_is_checked_again_by_the_engine() -> None:
    bad = default_scenario().model_copy(update={"control_s": 1000.0})
    with pytest.raises(InputError, match="control_s"):
        bad.revalidated()


def test_unknown_storage_group_is_named() -> None:
    from twin.engine import site_of

    with pytest.raises(InputError, match="storage_groups: no group 'nope'"):
        site_of(default_scenario().model_copy(update={"storage_groups": ("nope",)}))


def test_unit_transformer_guard_defaults_to_the_loading_limit() -> None:
    """The guard's unit-transformer limit is the grid limits' one (`parktwin.limits`) unless
    a scenario sets its own."""
    assert GuardConfig().trafo_loading_max_pct == grid_limits().loading_max_pct
    assert GuardConfig(trafo_loading_max_pct=90.0).trafo_loading_max_pct == 90.0
    with pytest.raises(ValueError):
        GuardConfig(trafo_loading_max_pct=0.0)
