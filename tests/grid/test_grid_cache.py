"""`ParkGrid.cached`: the grid model read back from the cache solves as the one just built."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from grid import ParkGrid, default_site

ROOT = Path(__file__).resolve().parents[2]


def _solve(g: ParkGrid):
    rng = np.random.default_rng(1)
    load = rng.uniform(100, 900, g.n_enterprises)
    pv = rng.uniform(0, 200, g.n_enterprises)
    storage = rng.uniform(-500, 500, g.n_units)
    return g.solve(load, pv, storage)


def test_cached_grid_solves_bit_identically_and_without_pandapower(tmp_path, monkeypatch):
    monkeypatch.setenv("PARKTWIN_CACHE_DIR", str(tmp_path))
    site = default_site()
    built = ParkGrid(site)
    first = ParkGrid.cached(site)  # builds and stores
    assert len(list((tmp_path / "grid").glob("*.pickle"))) == 1
    again = ParkGrid.cached(site)  # read back
    assert again is not first
    a, b = _solve(built), _solve(again)
    for name in ("pcc_kw", "vm_pu", "line_loading_pct", "trafo_loading_pct", "losses_kw"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # the net is rebuilt from the site when a tool asks for it
    assert len(again.pandapower_net().bus) == len(built.pandapower_net().bus)

    # a fresh process reading the entry never imports pandapower
    code = (
        "import sys; from grid import ParkGrid, default_site; "
        "ParkGrid.cached(default_site()); print('pandapower' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PARKTWIN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_another_site_is_another_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("PARKTWIN_CACHE_DIR", str(tmp_path))
    site = default_site()
    ParkGrid.cached(site)
    fewer = site.model_copy(update={"storage": site.storage[:1]})
    g = ParkGrid.cached(fewer)
    assert len(list((tmp_path / "grid").glob("*.pickle"))) == 2
    assert g.n_units == ParkGrid(fewer).n_units < ParkGrid(site).n_units
