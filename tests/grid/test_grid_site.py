"""The site model: the default park, its engineering sanity, and one-line errors."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
import tomli_w

from grid import Site, StorageGroup, default_site, load_site
from grid.describe import describe_site
from parktwin.config import package_text
from parktwin.errors import InputError


def _data() -> dict:
    return tomllib.loads(package_text("grid", "park.toml"))


def _write(tmp_path: Path, data: dict) -> Path:
    f = tmp_path / "site.toml"
    f.write_bytes(tomli_w.dumps(data).encode())
    return f


def test_default_park_is_the_zone() -> None:
    s = default_site()
    assert isinstance(s, Site)
    assert (round(s.latitude, 1), round(s.longitude, 1)) == (30.9, 119.9)
    assert 20 <= len(s.enterprises) <= 40 and len(s.feeders) >= 4
    names = {e.name for e in s.enterprises}
    assert {"xinsheng", "xunchi", "liyi", "hangzhou_bearing"} <= names
    assert {e.industry for e in s.enterprises} >= {
        "magnets",
        "auto_parts",
        "auto_lamps",
        "bearings",
        "machining",
        "textiles",
        "new_materials",
    }
    first = next(g for g in s.storage if g.enterprise == "xinsheng")
    assert (first.unit_type, first.count, first.pcs_kva, first.trafo_kva, first.commissioned) == (
        "lfp280-2236kwh",
        3,
        1250,
        1600,
        2024,
    )
    assert first.unit_names() == ["xinsheng-ess-1", "xinsheng-ess-2", "xinsheng-ess-3"]
    total_mwh = sum(g.count * g.unit_kwh for g in s.storage) / 1000
    assert 63 <= total_mwh <= 67  # park-facts: 65 MWh in the zone


def test_default_park_ratings_make_engineering_sense() -> None:
    s = default_site()
    d = describe_site(s)
    pcs = {e.name: 0.0 for e in s.enterprises}
    for g in s.storage:
        pcs[g.enterprise] += g.pcs_kva * g.count
        assert g.pcs_kva <= g.trafo_kva
    for e in s.enterprises:
        if not e.direct_10kv:  # transformer carries the peak at <= 85 %
            assert e.peak_kw / e.power_factor <= 0.85 * e.transformer_total_kva, e.name
        # storage only behind enterprises whose mean load exceeds its discharge power
        assert pcs[e.name] <= e.mean_kw, e.name
        c = s.equipment.cables[e.service_cable]
        rating_kva = math.sqrt(3) * 10.0 * c.max_i_ka * e.service_parallel * 1000
        assert e.peak_kw / e.power_factor + pcs[e.name] <= rating_kva, e.name
    for f in d.feeders:
        assert f["loading_at_peak_pct"] <= 85.0, f["name"]
    for t in d.substation:
        assert t["peak_mva"] <= t["rating_mva"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["enterprises"][3].update(feeder="F99"),
            r"enterprises\[3\]\.feeder: unknown feeder 'F99'",
        ),
        (
            lambda d: d["storage"][0].update(enterprise="nobody"),
            r"storage\[0\]\.enterprise: unknown enterprise 'nobody'",
        ),
        (
            lambda d: d["enterprises"][1].update(name="xinsheng"),
            r"enterprises: duplicate name 'xinsheng'",
        ),
        (
            lambda d: d["enterprises"][2].update(peak_kw=-5),
            r"enterprises\[2\]\.peak_kw: Input should be greater than 0",
        ),
        (
            lambda d: d["enterprises"][0].update(transformer_kva=1800),
            r"enterprises\[0\]\.transformer_kva: no 10/0\.4 kV transformer of 1800 kVA",
        ),
        (
            lambda d: d["storage"][0].update(trafo_kva=1000),
            r"storage\[0\]\.trafo_kva: no 10/0\.69 kV transformer of 1000 kVA",
        ),
        (
            lambda d: d["storage"][0].update(pcs_kva=2000),
            r"storage\[0\]\.pcs_kva: PCS 2000 kVA above",
        ),
        (
            lambda d: d["feeders"][0].update(cable="copper-wire"),
            r"feeders\[0\]\.cable: unknown cable type 'copper-wire'",
        ),
        (
            lambda d: d["feeders"][0].update(section=3),
            r"feeders\[0\]\.section: 3 but the substation has 2",
        ),
        (
            lambda d: d["enterprises"][0].update(industry="mining"),
            r"enterprises\[0\]\.industry: Input should be",
        ),
        (
            lambda d: d["enterprises"][0].update(annual_mwh=99999),
            r"mean load of 11415 kW above peak_kw",
        ),
        (lambda d: d["substation"].update(tap_pos=12), r"substation\.tap_pos: 12 outside"),
        (
            lambda d: d["enterprises"][0].update(colour="red"),
            r"enterprises\[0\]\.colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_site_gives_one_line_naming_the_field(tmp_path, edit, expected) -> None:
    data = _data()
    edit(data)
    f = _write(tmp_path, data)
    with pytest.raises(InputError, match=expected) as info:
        load_site(f)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(f))


def test_missing_and_broken_files(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_site(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(InputError, match="not valid TOML"):
        load_site(bad)


def test_site_file_round_trips_and_may_add_equipment(tmp_path) -> None:
    data = _data()
    data["transformers"] = {
        "S13-3150/10": {
            "sn_kva": 3150,
            "vn_hv_kv": 10.0,
            "vn_lv_kv": 0.4,
            "vk_percent": 6.0,
            "pk_kw": 26.0,
            "pfe_kw": 2.0,
            "i0_percent": 0.4,
            "source": "test",
        }
    }
    data["enterprises"][0]["transformer_kva"] = 3150
    s = load_site(_write(tmp_path, data))
    assert s.enterprise_transformer(s.enterprises[0]) == "S13-3150/10"


def test_with_storage_adds_groups_and_validates() -> None:
    s = default_site()
    extra = StorageGroup(
        name="cathode-ess-2",
        enterprise="cathode",
        unit_type="lfp314-5016kwh",
        count=1,
        pcs_kva=2500,
        unit_kwh=5016,
        trafo_kva=2750,
        commissioned=2027,
    )
    s2 = s.with_storage([extra])
    assert len(s2.storage) == len(s.storage) + 1 and s2.storage[-1] == extra
    assert len(s.storage) == 13  # the original is unchanged
    bad = extra.model_copy(update={"enterprise": "ghost"})
    with pytest.raises(InputError, match=r"storage\[13\]\.enterprise: unknown enterprise 'ghost'"):
        s.with_storage([bad])


def test_with_loads_connects_a_new_enterprise_at_the_end_of_its_feeder() -> None:
    """A new load is a new ring main unit, service cable, 10 kV bus and transformers after
    the feeder's last enterprise; pandapower's runpp carries its power down the feeder."""
    import pandapower as pp

    from grid import Enterprise
    from grid.network import build_net

    s = default_site()
    new = Enterprise(
        name="precision_gears",
        label="precision gears",
        industry="machining",
        feeder="F09",
        feeder_km=0.8,
        annual_mwh=28500,
        peak_kw=5400,
        transformer_kva=2500,
        transformer_count=3,
    )
    s2 = s.with_loads([new])
    assert s2.enterprises[-1] == new and len(s.enterprises) == 27
    before, _ = build_net(s)
    after, idx = build_net(s2)
    line = after.line.set_index("name")
    last_on_f09 = [e.name for e in s.enterprises if e.feeder == "F09"][-1]
    assert (
        line.loc["F09 to precision_gears", "from_bus"]
        == after.bus.index[after.bus["name"] == f"F09 RMU {last_on_f09}"][0]
    )
    assert line.loc["F09 to precision_gears", "length_km"] == pytest.approx(0.8)
    assert "precision_gears service" in line.index
    assert len(after.bus) == len(before.bus) + 3  # RMU, 10 kV, 0.38 kV
    # the new factory draws 5 MW at pf 0.95; everything else as in the net before
    p_new = 5.0
    after.load.loc[idx.enterprise_load[-1], ["p_mw", "q_mvar"]] = [p_new, p_new * 0.3287]
    pp.runpp(before)
    pp.runpp(after)
    head = f"F09 to {next(e.name for e in s.enterprises if e.feeder == 'F09')}"
    i_before = before.res_line.loc[before.line.index[before.line["name"] == head][0], "i_ka"]
    i_after = after.res_line.loc[after.line.index[after.line["name"] == head][0], "i_ka"]
    # the feeder's head carries the new load's current (~ P / (sqrt3 V pf))
    assert i_after - i_before == pytest.approx(p_new / (math.sqrt(3) * 10.0 * 0.95), rel=0.15)
    bad = new.model_copy(update={"feeder": "F99"})
    with pytest.raises(InputError, match=r"enterprises\[27\]\.feeder: unknown feeder 'F99'"):
        s.with_loads([bad])
