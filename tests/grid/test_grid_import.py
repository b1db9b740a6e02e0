"""`twin grid import`: an engineer's pandapower net (or MATPOWER case) with a mapping file
becomes a site; its power flows equal pandapower's runpp; every mapping error is one line."""

from __future__ import annotations

import math
import shutil
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest
import tomli_w

from grid import ParkGrid, load_site
from grid.importer import import_network
from grid.netpark import NetParkGrid
from twin.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "grid-import"


def _lf(industry: str) -> float:
    """A fixed load factor (the CLI passes the industry profile's own)."""
    return 0.6


def _map() -> dict:
    return tomllib.loads((EXAMPLE / "map.toml").read_text())


def _write_map(tmp_path: Path, data: dict) -> Path:
    f = tmp_path / "map.toml"
    f.write_text(tomli_w.dumps(data))
    return f


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The example imported into a site folder (once per module)."""
    out = tmp_path_factory.mktemp("import") / "cigre"
    import_network(EXAMPLE / "net.json", EXAMPLE / "map.toml", out, _lf)
    return out / "site.toml"


@pytest.fixture(scope="module")
def grid(imported) -> NetParkGrid:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ParkGrid(load_site(imported))
    assert isinstance(g, NetParkGrid)
    return g


def test_site_keeps_the_net_and_completes_the_enterprises(imported) -> None:
    site = load_site(imported)
    assert site.network is not None and Path(site.network.file).name == "net.json"
    assert Path(site.network.file).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(site.network.file)
        src = pp.from_json(str(EXAMPLE / "net.json"))
    # the engineer's net itself: every table as it was
    for table in ("bus", "line", "trafo", "load", "sgen", "switch", "ext_grid"):
        assert len(net[table]) == len(src[table])
    assert net.switch.closed.tolist() == src.switch.closed.tolist()
    e = {x.name: x for x in site.enterprises}
    assert e["magnets"].peak_kw == pytest.approx(4845.0)  # the load's p_mw
    assert e["magnets"].annual_mwh == pytest.approx(4845.0 * 0.6 * 8.76, rel=1e-6)
    assert e["dyeing"].peak_kw == pytest.approx(3200 / 8.76 / 0.6, rel=1e-4)
    # power factor from the load's own p and q; PV rating from the sgen's sn_mva
    load = src.load.set_index("name").loc["Load CI9"]
    assert e["dyeing"].power_factor == pytest.approx(
        load.p_mw / math.hypot(load.p_mw, load.q_mvar), abs=1e-4
    )
    assert e["dyeing"].pv_kwp == pytest.approx(30.0)
    assert e["auto_parts"].feeder == "Line 1-2"
    assert site.limits is not None and site.limits.v_min_pu == 0.93


def _runpp_step(grid: NetParkGrid, site, load_kw, pv_kw, st_kw, st_kvar):
    """The same step by pandapower's runpp on the site's net, set up independently."""
    net = grid.pandapower_net()
    for k, e in enumerate(site.enterprises):
        (name,) = e.net.loads  # one load per enterprise in the example
        i = net.load.index[net.load.name == name][0]
        p = load_kw[k] / 1000.0
        net.load.at[i, "p_mw"] = p
        net.load.at[i, "q_mvar"] = p * math.tan(math.acos(e.power_factor))
        for ref in e.net.pv:
            j = net.sgen.index[net.sgen.name == ref][0]
            net.sgen.at[j, "p_mw"] = pv_kw[k] / 1000.0
            net.sgen.at[j, "q_mvar"] = 0.0
    for u, name in enumerate(grid.unit_names):
        i = net.storage.index[net.storage.name == name][0]
        net.storage.at[i, "p_mw"] = st_kw[u] / 1000.0
        net.storage.at[i, "q_mvar"] = st_kvar[u] / 1000.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, tolerance_mva=1e-10, enforce_q_lims=True)
    return net


def test_power_flow_matches_runpp(grid, imported) -> None:
    site = load_site(imported)
    rng = np.random.default_rng(3)
    n_e, n_u = grid.n_enterprises, grid.n_units
    peaks = np.array([e.peak_kw for e in site.enterprises])
    steps = 4
    load = peaks * rng.uniform(0.2, 1.1, (steps, n_e))
    pv = np.array([e.pv_kwp for e in site.enterprises]) * rng.uniform(0, 1, (steps, n_e))
    st = rng.uniform(-500, 500, (steps, n_u))
    st_q = rng.uniform(-100, 100, (steps, n_u))
    series = grid.run(load, pv, st, st_q)
    for t in range(steps):
        net = _runpp_step(grid, site, load[t], pv[t], st[t], st_q[t])
        snap = grid.solve(load[t], pv[t], st[t], st_q[t])
        for got in (series.step(t), snap):
            np.testing.assert_allclose(got.vm_pu, net.res_bus.vm_pu, atol=1e-8, rtol=0)
            np.testing.assert_allclose(
                got.line_loading_pct, net.res_line.loading_percent, atol=1e-5, rtol=0
            )
            np.testing.assert_allclose(
                got.trafo_loading_pct, net.res_trafo.loading_percent, atol=1e-5, rtol=0
            )
            assert got.ext_grid_kw == pytest.approx(net.res_ext_grid.p_mw.sum() * 1e3, abs=1e-4)
            # auto_parts reads line 10-11 at the end facing it (to = bus 11): + = import
            k = grid.enterprise_names.index("auto_parts")
            line = net.line.index[net.line.name == "Line 10-11"][0]
            assert net.line.at[line, "to_bus"] == 11
            assert got.pcc_kw[k] == pytest.approx(-net.res_line.at[line, "p_to_mw"] * 1e3, abs=1e-4)
            # dyeing's own elements: its load - PV + its unit at the transformer's HV side
            k = grid.enterprise_names.index("dyeing")
            unit = net.trafo.index[net.trafo.name.str.startswith("dyeing-ess-1")][0]
            own = load[t, k] - pv[t, k] + net.res_trafo.at[unit, "p_hv_mw"] * 1e3
            assert got.pcc_kw[k] == pytest.approx(own, abs=1e-4)
            assert got.v_min_pu == pytest.approx(net.res_bus.vm_pu.iloc[1:15].min(), abs=1e-8)
            assert got.converged


def test_probe_leaves_the_warm_start_and_its_sensitivity_is_the_derivative(grid) -> None:
    n_e, n_u = grid.n_enterprises, grid.n_units
    load = np.full(n_e, 300.0)
    pv = np.zeros(n_e)
    grid.reset_warm_start()
    before = grid._ws
    snap, sens = grid.probe(load, pv, np.full(n_u, 200.0), sensitivity=True)
    assert grid._ws is before and snap.converged
    up, _ = grid.probe(load, pv, np.full(n_u, 210.0))
    down, _ = grid.probe(load, pv, np.full(n_u, 190.0))
    dv = (up.vm_pu - down.vm_pu) / 20.0  # central difference: the derivative to O(h^2)
    np.testing.assert_allclose(sens.vm_pu_per_kw[:, 0], dv, rtol=1e-3, atol=1e-12)
    dl = (up.line_loading_pct - down.line_loading_pct) / 20.0
    np.testing.assert_allclose(sens.line_loading_pct_per_kw[:, 0], dl, rtol=1e-3, atol=1e-9)
    assert sens.trafo_loading_pct_per_kw.shape == (len(grid.trafo_names), n_u)
    assert np.nanmax(np.abs(sens.vm_pu_per_kw)) > 0


def _matpower_m(net, path: Path) -> None:
    """`net` as a MATPOWER version-2 case file (.m), from pandapower's own ppc."""
    from pandapower.converter.matpower import to_mpc

    mpc = to_mpc(net, init="flat")["mpc"]
    lines = ["function mpc = case_test", "mpc.version = '2';", f"mpc.baseMVA = {mpc['baseMVA']};"]
    for key, cols in (("bus", 13), ("gen", 10), ("branch", 13)):  # MATPOWER's own columns
        rows = "\n".join(
            "\t" + "\t".join(f"{v:.10g}" for v in row[:cols]) + ";" for row in mpc[key]
        )
        lines.append(f"mpc.{key} = [\n{rows}\n];")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("suffix", [".mat", ".m"])
def test_matpower_case_imports_and_matches_runpp(tmp_path, suffix) -> None:
    from pandapower.converter.matpower import to_mpc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower.networks as pn

        net = pn.case33bw()
    case = tmp_path / f"case33bw{suffix}"
    if suffix == ".mat":
        to_mpc(net, str(case), init="flat")
    else:
        _matpower_m(net, case)
    mapping = {
        "site": {"name": "33-bus feeder", "latitude": 30.9, "longitude": 119.9},
        "enterprises": [
            # MATPOWER buses 1..33 are pandapower's 0..32; loads are indexed from bus 2
            {"name": "mill", "industry": "machining", "loads": [16], "meter": {"line": 16}},
            {"name": "plant", "industry": "robotics", "loads": [31], "peak_kw": 300.0},
        ],
        "storage": [
            {
                "name": "mill-ess",
                "enterprise": "mill",
                "unit_type": "lfp280-2236kwh",
                "count": 1,
                "trafo_kva": 1600,
                "commissioned": 2025,
            }
        ],
    }
    out = tmp_path / "site" / "case33.toml"
    r = import_network(case, _write_map(tmp_path, mapping), out, _lf)
    assert r.buses == 33 and r.net_file.name == "case33.net.json" and r.net_file.is_file()
    site = load_site(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ParkGrid(site)
    load = np.array([200.0, 250.0])
    snap = g.solve(load, np.zeros(2), np.array([-400.0]))
    ref = g.pandapower_net()
    for k, e in enumerate(site.enterprises):
        i = e.net.loads[0]
        ref.load.at[i, "p_mw"] = load[k] / 1000
        ref.load.at[i, "q_mvar"] = load[k] / 1000 * math.tan(math.acos(e.power_factor))
    ref.storage.at[ref.storage.index[-1], "p_mw"] = -0.4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, tolerance_mva=1e-10)
    np.testing.assert_allclose(snap.vm_pu, ref.res_bus.vm_pu, atol=1e-8, rtol=0)
    # the mill is metered on line 16 (bus 16 -> 17) at its end facing the mill
    assert snap.pcc_kw[0] == pytest.approx(-ref.res_line.p_to_mw.iloc[16] * 1e3, abs=1e-4)
    assert ref.line.to_bus.iloc[16] == ref.load.bus.iloc[16] == 17


def _edit(path: str, value):
    """A map edit: set `value` at a dotted path (list positions as integers)."""

    def apply(d: dict) -> dict:
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
        return d

    return apply


_DELETE = object()

BROKEN = [
    (
        _edit("enterprises.1.loads", ["L17"]),
        "map.toml: enterprise 'dyeing': load 'L17': no such load in net.json",
    ),
    (
        _edit("enterprises.1.loads", [99]),
        "map.toml: enterprise 'dyeing': load 99: no such load in net.json",
    ),
    (
        _edit("enterprises.3.loads", ["Load CI9"]),
        "map.toml: enterprise 'bearings': load 'Load CI9': already claimed by enterprise 'dyeing'",
    ),
    (
        _edit("enterprises.1.pv", ["PV 99"]),
        "map.toml: enterprise 'dyeing': pv: sgen 'PV 99': no such sgen in net.json",
    ),
    (
        _edit("enterprises.0.industry", "steel"),
        "map.toml: enterprises[0].industry: Input should be",
    ),
    (
        _edit("enterprises.2.meter", {"line": "Line 3-4"}),
        "map.toml: enterprise 'auto_parts': meter: line 'Line 3-4': does not feed",
    ),
    (
        _edit("enterprises.2.meter", {"line": "Line 6-7"}),
        "map.toml: enterprise 'auto_parts': meter: line 'Line 6-7': is out of service or"
        " switched open",
    ),
    (
        _edit("enterprises.2.meter", {"line": "Line 10-11", "trafo": "Trafo 0-1"}),
        "map.toml: enterprises[2].meter: Value error, give exactly one of 'line' or 'trafo'",
    ),
    (
        _edit("enterprises.2.meter", {"line": "Line 10-11", "side": "hv"}),
        "map.toml: enterprises[2].meter: Value error, side 'hv' for a line",
    ),
    (
        _edit("enterprises.2.storage_bus", "Bus 9"),
        "map.toml: enterprise 'auto_parts': storage_bus: bus 'Bus 9': not behind the"
        " enterprise's meter (line 'Line 10-11')",
    ),
    (
        _edit("enterprises.2.storage_bus", "Bus 77"),
        "map.toml: enterprise 'auto_parts': storage_bus: bus 'Bus 77': no such bus in net.json",
    ),
    (
        _edit("site.pcc", {"trafo": "Trafo 0-1"}),
        "map.toml: site.pcc: meter: trafo 'Trafo 0-1': the metered elements are not all on"
        " one side of it",
    ),
    (_edit("site.latitude", _DELETE), "map.toml: site.latitude: Field required"),
    (
        _edit("storage.0.enterprise", "nobody"),
        "map.toml: storage[0].enterprise: unknown enterprise 'nobody'",
    ),
    (
        _edit("storage.0.trafo_kva", 999.0),
        "map.toml: storage[0].trafo_kva: no 10/0.69 kV transformer of 999 kVA in the catalogue",
    ),
    (
        _edit("enterprises.1.name", "magnets"),
        "map.toml: enterprises[1].name: duplicate name 'magnets'",
    ),
    (
        _edit("enterprises.0.lods", ["Load CI1"]),
        "map.toml: enterprises[0].lods: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), BROKEN, ids=[b[1][9:60] for b in BROKEN])
def test_mapping_errors_are_one_line(tmp_path, capsys, edit, expected) -> None:
    f = _write_map(tmp_path, edit(_map()))
    out = tmp_path / "site"
    code = main(["grid", "import", str(EXAMPLE / "net.json"), "--map", str(f), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert expected in err.replace(str(tmp_path) + "/", ""), err
    assert not out.exists()  # nothing written


def test_bad_net_files_are_one_line(tmp_path, capsys) -> None:
    m = EXAMPLE / "map.toml"
    bad_json = tmp_path / "net.json"
    bad_json.write_text("{not json")
    cases = [
        (tmp_path / "missing.json", "missing.json: no such file"),
        (tmp_path / "net.csv", "expected a pandapower JSON (.json) or a MATPOWER case"),
        (bad_json, "net.json: not a readable pandapower JSON"),
    ]
    (tmp_path / "net.csv").write_text("x")
    for net, expected in cases:
        code = main(["grid", "import", str(net), "--map", str(m), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and expected in err, err


def test_cli_imports_shows_and_the_site_file_form(tmp_path, capsys) -> None:
    out = tmp_path / "park" / "cigre.toml"
    args = ["grid", "import", str(EXAMPLE / "net.json"), "--map", str(EXAMPLE / "map.toml")]
    assert main([*args, "--out", str(out)]) == 0
    assert out.is_file() and (out.parent / "cigre.net.json").is_file()
    capsys.readouterr()
    assert main(["grid", "show", "--site", str(out)]) == 0
    text = capsys.readouterr().out
    for want in ("15 buses", "10-11", "(to)", "dyeing-ess", "CI12", "0.93..1.07 p.u."):
        assert want in text, want
    # the site moves with its net: relative paths
    moved = tmp_path / "elsewhere"
    shutil.copytree(out.parent, moved)
    assert load_site(moved / "cigre.toml").network.file == str(moved / "cigre.net.json")
    # export: the peak snapshot runs in pandapower
    assert main(["grid", "export", "--site", str(out), "--out", str(tmp_path / "x.json")]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(str(tmp_path / "x.json"))
        pp.runpp(net)
    i = net.load.index[net.load.name == "Load CI1"][0]
    assert net.load.at[i, "p_mw"] == pytest.approx(4.845) and net.converged


def test_the_nets_own_tap_changer_acts_as_pandapowers(tmp_path) -> None:
    """A DiscreteTapControl saved in the engineer's net acts in each step: the same
    position and voltages as pandapower's runpp(run_control=True) on the same step."""
    from pandapower.control import DiscreteTapControl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(str(EXAMPLE / "net.json"))
        for t in net.trafo.index:  # an OLTC of +-9 x 1.5 % on the HV side
            net.trafo.loc[t, ["tap_side", "tap_neutral", "tap_min", "tap_max"]] = ["hv", 0, -9, 9]
            net.trafo.loc[t, ["tap_step_percent", "tap_pos"]] = [1.5, 0]
            net.trafo.at[t, "tap_changer_type"] = "Ratio"
        DiscreteTapControl(net, 0, vm_lower_pu=1.0, vm_upper_pu=1.02, side="lv")
        pp.to_json(net, str(tmp_path / "oltc.json"))
    out = tmp_path / "oltc.toml"
    import_network(tmp_path / "oltc.json", EXAMPLE / "map.toml", out, _lf)
    site = load_site(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ParkGrid(site)
    load = np.array([e.peak_kw for e in site.enterprises])
    zeros = np.zeros(len(load))
    snap = g.solve(load, zeros, np.zeros(g.n_units))
    ref = _runpp_step(g, site, load, zeros, np.zeros(g.n_units), np.zeros(g.n_units))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, tolerance_mva=1e-10, run_control=True)
    assert ref.trafo.at[0, "tap_pos"] != 0  # the controller moved at peak
    np.testing.assert_allclose(snap.vm_pu, ref.res_bus.vm_pu, atol=1e-8, rtol=0)
    assert 1.0 <= snap.vm_pu[1] <= 1.02
    # a series solved in pieces (`ParkGrid.series`, the twin's reference) carries the
    # taps' positions on: the same voltages as one batch. Up to the peak and down again;
    # the second piece starts where the raised tap holds inside the band and the net's own
    # position would too, so a piece that forgot the taps would differ
    ramp = np.concatenate([np.linspace(0.2, 1.0, 6), np.linspace(1.0, 0.2, 6)])[:, None] * load
    z = np.zeros((12, g.n_units))
    whole = g.run(ramp, ramp * 0, z)
    chain = g.series()
    pieces = [chain.run(ramp[a:b], ramp[a:b] * 0, z[a:b]) for a, b in ((0, 9), (9, 12))]
    joined = np.concatenate([p.vm_pu for p in pieces])
    np.testing.assert_allclose(joined, whole.vm_pu, atol=1e-10, rtol=0)


def test_a_unit_type_file_is_taken_from_the_maps_folder(tmp_path) -> None:
    data = _map()
    data["storage"][0]["unit_type"] = "units/my-cabin.toml"
    m = tmp_path / "maps" / "map.toml"
    m.parent.mkdir()
    m.write_text(tomli_w.dumps(data))
    import_network(EXAMPLE / "net.json", m, tmp_path / "out" / "site", _lf)
    site = load_site(tmp_path / "out" / "site" / "site.toml")
    assert site.storage[0].unit_type == str(tmp_path / "maps" / "units" / "my-cabin.toml")


def test_a_multi_voltage_net_with_every_kind_of_element_matches_runpp(tmp_path) -> None:
    """pandapower's multi-voltage example (gen, trafo3w, shunt, xward, impedance, switches
    of every kind) as the park: a storage group on a 20 kV bus behind 10 kV catalogue
    transformers re-rated to 20 kV; the step equals runpp, trafo3w loading included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower.networks as pn

        pp.to_json(pn.example_multivoltage(), str(tmp_path / "mv.json"))
    mapping = {
        "site": {"name": "multi-voltage", "latitude": 30.9, "longitude": 119.9},
        "enterprises": [
            {"name": "steel", "industry": "machining", "loads": ["Industry Load"]},
            {"name": "shop", "industry": "robotics", "loads": ["LV Net 1"]},
        ],
        "storage": [
            {"name": "steel-ess", "enterprise": "steel", "unit_type": "lfp314-5016kwh",
             "count": 2, "trafo_kva": 2750, "commissioned": 2025},
        ],
    }  # fmt: skip
    import_network(tmp_path / "mv.json", _write_map(tmp_path, mapping), tmp_path / "s", _lf)
    site = load_site(tmp_path / "s" / "site.toml")
    assert [e.feeder for e in site.enterprises] == ["HV-MV-MV-Trafo", "MV Line1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ParkGrid(site)
    load, st = np.array([15000.0, 300.0]), np.array([-2000.0, 1000.0])
    snap = g.solve(load, np.zeros(2), st)
    ref = g.pandapower_net()
    assert (ref.trafo.vn_hv_kv.iloc[-2:] == 20.0).all()  # the units' HV windings at 20 kV
    for k, e in enumerate(site.enterprises):
        i = ref.load.index[ref.load.name == e.net.loads[0]][0]
        p = load[k] / 1000 / ref.load.at[i, "scaling"]
        ref.load.at[i, "p_mw"] = p
        ref.load.at[i, "q_mvar"] = p * math.tan(math.acos(e.power_factor))
    ref.storage.loc[ref.storage.index[-2:], "p_mw"] = st / 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref, tolerance_mva=1e-10, enforce_q_lims=True)
    np.testing.assert_allclose(snap.vm_pu, ref.res_bus.vm_pu, atol=1e-8, rtol=0)
    assert snap.ext_grid_kw == pytest.approx(ref.res_ext_grid.p_mw.sum() * 1e3, abs=1e-3)
    assert snap.trafo_loading_pct[-1] == pytest.approx(ref.res_trafo3w.loading_percent.iloc[0])
    assert g.trafo_names[-1].startswith("HV-MV-MV")


def test_a_meter_inside_a_mesh_is_refused(tmp_path, capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pp.from_json(str(EXAMPLE / "net.json"))
        net.switch.closed = True  # S1..S3 closed: the feeders become rings
        pp.to_json(net, str(tmp_path / "ring.json"))
    args = ["grid", "import", str(tmp_path / "ring.json"), "--map", str(EXAMPLE / "map.toml")]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "\n" not in err
        and (
            "enterprise 'auto_parts': meter: line 'Line 10-11': does not separate its side from"
            " the grid: the net connects its two ends around it"
        )
        in err
    ), err


def test_an_edited_site_is_checked_again_in_one_line(imported, tmp_path, capsys) -> None:
    site_dir = tmp_path / "edited"
    shutil.copytree(imported.parent, site_dir)
    f = site_dir / "site.toml"
    f.write_text(f.read_text().replace('"Load CI9"', '"Load X9"'))
    assert main(["grid", "show", "--site", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(
        "enterprise 'dyeing': load 'Load X9': no such load in net.json"
    ), err
    assert "site 'CIGRE MV benchmark as an industrial park (example)'" in err
