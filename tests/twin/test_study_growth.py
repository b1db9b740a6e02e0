"""Load growth where it happens: per-enterprise rates and tables, new loads on new
connections, the shorthand `load_growth_per_year`, and the study file's errors."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from grid import default_site
from parktwin.errors import InputError
from twin.study import load_study, plan_study
from twin.study.growth import Growth, NewLoad, factor, site_in_year
from twin.study.model import StudySettings
from twin.study.years import simulate_years

GEARS = NewLoad(
    name="precision_gears",
    industry="machining",
    feeder="F09",
    feeder_km=0.8,
    annual_mwh=28500.0,
    transformer_kva=2500.0,
    transformer_count=4,
    first_year=2028,
)


def test_factor_of_a_rate_and_of_a_table() -> None:
    assert factor(0.1, 2027, 0) == 1.0
    assert factor(0.1, 2027, 2) == pytest.approx(1.21)
    table = {2028: 1.05, 2030: 1.4}
    assert [factor(table, 2027, k) for k in range(5)] == [1.0, 1.05, 1.05, 1.4, 1.4]


def test_the_shorthand_grows_every_enterprise_alike() -> None:
    site = default_site()
    g = StudySettings(load_growth_per_year=0.245).load_growth
    grown = site_in_year(site, g, 2027, 2)
    for old, new in zip(site.enterprises, grown.enterprises, strict=True):
        assert new.annual_mwh == pytest.approx(old.annual_mwh * 1.245**2)
        assert new.peak_kw == pytest.approx(old.peak_kw * 1.245**2)


def test_per_enterprise_growth_and_new_loads_from_their_first_year() -> None:
    site = default_site()
    g = Growth(
        rate_per_year=0.1,
        enterprises={"xinsheng": 0.0, "cathode": {2029: 1.5}},
        new_loads=(GEARS,),
    )
    y0, y1, y2 = (site_in_year(site, g, 2027, k) for k in range(3))
    assert [e.name for e in y0.enterprises] == [e.name for e in site.enterprises]
    assert y1.enterprises[-1].name == "precision_gears" and len(y1.enterprises) == 28
    assert y2.enterprise("xinsheng").annual_mwh == site.enterprise("xinsheng").annual_mwh
    assert y1.enterprise("cathode").annual_mwh == site.enterprise("cathode").annual_mwh
    assert y2.enterprise("cathode").peak_kw == pytest.approx(
        site.enterprise("cathode").peak_kw * 1.5
    )
    assert y2.enterprise("liyi").annual_mwh == pytest.approx(
        site.enterprise("liyi").annual_mwh * 1.21
    )
    # the new load: its declared energy in its first year, then the study's rate
    assert y1.enterprise("precision_gears").annual_mwh == pytest.approx(28500.0)
    assert y2.enterprise("precision_gears").annual_mwh == pytest.approx(28500.0 * 1.1)
    # its peak at the load factor of the park's machining enterprises
    machining = [e for e in site.enterprises if e.industry == "machining"]
    lf = sum(e.mean_kw / e.peak_kw for e in machining) / len(machining)
    new = y1.enterprise("precision_gears")
    assert new.mean_kw / new.peak_kw == pytest.approx(lf)


STUDY = """
[study]
years = 2
{extra}
[[candidates]]
enterprises = ["xinsheng"]
unit_type = "lfp314-5016kwh"
units = 1
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[study.growth]\natlantis = 0.1", "study.growth: unknown enterprise 'atlantis'"),
        ("[study.growth]\nxinsheng = 5.0", "study.growth"),
        (
            '[[study.new_loads]]\nname = "x1"\nindustry = "machining"\nfeeder = "F99"\n'
            "annual_mwh = 100.0\nfirst_year = 2026",
            "study.new_loads[0].feeder: unknown feeder 'F99'",
        ),
        (
            '[[study.new_loads]]\nname = "liyi"\nindustry = "machining"\nfeeder = "F04"\n'
            "annual_mwh = 100.0\nfirst_year = 2026",
            "study.new_loads[0].name: 'liyi' is already an enterprise",
        ),
        (
            '[[study.new_loads]]\nname = "x1"\nindustry = "machining"\nfeeder = "F04"\n'
            "first_year = 2026",
            "needs annual_mwh or peak_kw",
        ),
        (
            '[[study.new_loads]]\nname = "x1"\nindustry = "machining"\nfeeder = "F04"\n'
            "annual_mwh = 100.0\ntransformer_kva = 999.0\ntransformer_count = 1\n"
            "first_year = 2026",
            "no 10/0.4 kV transformer of 999 kVA",
        ),
    ],
)
def test_bad_growth_is_one_line(tmp_path, extra: str, message: str) -> None:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(STUDY.format(extra=extra)), "utf-8")
    with pytest.raises(InputError) as info:
        plan_study(load_study(path))
    text = str(info.value)
    assert message in text and "\n" not in text


def test_a_new_load_is_on_the_feeders_from_its_first_year() -> None:
    """The status quo of two one-day years: the new factory's cable is solved (and counted
    against its limits) in the second year only."""
    settings = StudySettings(
        start=dt.date(2027, 7, 5), years=2, days=1, load_growth_per_year=0.1, new_loads=(GEARS,)
    )
    y0, y1 = simulate_years(settings, "tou")
    assert "line:F09 to precision_gears" not in y0.extremes
    assert y1.extremes["line:F09 to precision_gears"] > 10.0  # it carries the factory
    head = "line:F09 to forging"
    assert y1.extremes[head] > y0.extremes[head] + 10.0  # F09's head carries it too
