"""The status quo's reinforcement: the options and costs the equipment table gives each
element, the grid changes on the feeder model (checked with pandapower's runpp), and the
greedy plan on a grown park (nothing broken once it is built)."""

from __future__ import annotations

import datetime as dt

import pytest

from grid import Reinforcements, default_site
from parktwin.limits import grid_limits
from twin.study.growth import NewLoad, site_in_year
from twin.study.model import StudySettings
from twin.study.reinforcement import (
    default_costs,
    first_broken,
    options,
    part_of,
    plan_reinforcement,
)

COSTS = default_costs()
GEARS = NewLoad(
    name="precision_gears",
    industry="machining",
    feeder="F09",
    feeder_km=0.8,
    annual_mwh=28500.0,
    transformer_kva=2500.0,
    transformer_count=4,
    service_parallel=2,
    first_year=2026,
)


def _site():
    settings = StudySettings(start=dt.date(2025, 7, 7), new_loads=(GEARS,))
    return site_in_year(default_site(), settings.load_growth, 2025, 1)


def test_every_cost_has_its_source_and_confidence() -> None:
    for name in type(COSTS).model_fields:
        item = getattr(COSTS, name)
        assert len(item.source) > 40 and item.confidence


def test_options_and_costs_per_element() -> None:
    site = _site()
    f09_km = sum(e.feeder_km for e in site.enterprises if e.feeder == "F09")
    (parallel, new_feeder) = options("line:F09 to forging", site, ("precision_gears",), COSTS, None)
    assert parallel.cost_yuan == pytest.approx(f09_km * COSTS.parallel_cable.yuan_per_km)
    assert parallel.change == Reinforcements(feeder_parallel={"F09": 2})
    # the new load is the feeder's last: a feeder of its own costs the bay more
    assert new_feeder.cost_yuan == pytest.approx(parallel.cost_yuan + COSTS.new_feeder.bay_yuan)
    assert new_feeder.change.moves == {"precision_gears": ("F11", pytest.approx(f09_km))}
    (svc,) = options("line:liyi service", site, (), COSTS, None)
    assert svc.cost_yuan == pytest.approx(0.2 * COSTS.service_cable.yuan_per_km)
    liyi = site.enterprise("liyi")
    (lv,) = options(f"trafo:liyi {liyi.connection}", site, (), COSTS, None)
    assert lv.cost_yuan == pytest.approx(2000 * COSTS.enterprise_transformer.yuan_per_kva)
    assert lv.change.transformer_count == {"liyi": 3}
    (low,) = options("bus:liyi 0.38 kV", site, (), COSTS, None)
    assert low.change.feeder_parallel == {"F04": 2}
    # the main transformers are the catalogue's largest: nothing to offer
    assert options("trafo:T1 SZ13-63000/110", site, (), COSTS, None) == []
    assert part_of("trafo:T1 SZ13-63000/110", site) == "substation"
    # a storage unit's own transformer is its project's, not the park's grid
    assert part_of("trafo:xinsheng-ess-1 S13-M-1600/10-0.69", site) is None
    assert first_broken([{}, {"a": 1}, {"a": 2, "b": 1}], 2025) == {"a": 2026, "b": 2027}


def test_reinforced_site_carries_more_on_pandapower() -> None:
    """A second circuit on F09 halves its segments' loading (runpp), a new feeder takes the
    new load off F09, a third transformer at liyi shares its load."""
    import pandapower as pp

    from grid.network import build_net

    site = _site()
    r = Reinforcements(
        feeder_parallel={"F09": 2},
        transformer_count={"liyi": 3},
    )
    before, idx = build_net(site)
    after, idx2 = build_net(site.reinforced(r))
    for net, ix in ((before, idx), (after, idx2)):
        net.load.loc[ix.enterprise_load, "p_mw"] = [e.peak_kw / 1000 for e in site.enterprises]
        pp.runpp(net)
    line = "F09 to forging"
    lb = before.res_line.loc[before.line.index[before.line["name"] == line][0], "loading_percent"]
    la = after.res_line.loc[after.line.index[after.line["name"] == line][0], "loading_percent"]
    assert la == pytest.approx(lb / 2, rel=0.02)
    moved = site.reinforced(
        options("line:F09 to forging", site, ("precision_gears",), COSTS, None)[1].change
    )
    assert moved.enterprise("precision_gears").feeder == "F11"
    assert {f.name for f in moved.feeders} >= {"F09", "F11"}


@pytest.mark.slow  # a grown park's status quo solved a few times: about a minute
def test_the_plan_leaves_nothing_broken() -> None:
    settings = StudySettings(
        start=dt.date(2025, 7, 7),
        years=2,
        days=1,
        load_growth_per_year=0.2,
        new_loads=(GEARS,),
        grid_aware=False,
    )
    plan = plan_reinforcement(settings, "tou", grid_limits())
    assert "line:F09 to forging" in plan.need and plan.need["line:F09 to forging"] == 2026
    assert plan.steps and not plan.unresolved
    assert all(sum(y.violations_by_element.values()) == 0 for y in plan.years)
    assert plan.cost_yuan == pytest.approx(sum(s.cost_yuan for s in plan.steps))
    assert plan.reinforcement.feeder_parallel.get("F09") == 2
