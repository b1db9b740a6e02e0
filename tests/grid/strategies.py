"""Hypothesis strategies of grid/ tests: operating points of a net, as scale factors.

An operating point scales each load, sgen and storage of a net (or the park's enterprise
peaks, PV and PCS ratings) by factors drawn per element, covering light load, heavy load
(up to 1.3 x peak), full PV at no load (reverse flow) and storage from full discharge to
full charge.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def operating_points(draw, n_load: int, n_sgen: int, n_storage: int, steps: int = 3):
    """(load, sgen, storage) factor arrays of shape (steps, n): load 0..1.3, sgen 0..1,
    storage -1..1 (+ = charging); some steps forced to the extremes."""
    seed = draw(st.integers(0, 2**32 - 1))
    regime = draw(st.sampled_from(["random", "heavy", "reverse", "light"]))
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.0, 1.3, (steps, n_load))
    sgen = rng.uniform(0.0, 1.0, (steps, n_sgen))
    storage = rng.uniform(-1.0, 1.0, (steps, n_storage))
    if regime == "heavy":
        load = rng.uniform(1.0, 1.3, (steps, n_load))
        sgen[:] = 0.0
        storage = rng.uniform(0.5, 1.0, (steps, n_storage))
    elif regime == "reverse":
        load = rng.uniform(0.0, 0.1, (steps, n_load))
        sgen = rng.uniform(0.9, 1.0, (steps, n_sgen))
        storage = rng.uniform(-1.0, -0.8, (steps, n_storage))
    elif regime == "light":
        load = rng.uniform(0.0, 0.05, (steps, n_load))
        sgen[:] = 0.0
        storage[:] = 0.0
    return load, sgen, storage


@st.composite
def random_nets(draw):
    """`random_net` of a drawn seed and shape; only nets runpp solves are drawn."""
    from hypothesis import assume

    case = random_net(draw(st.integers(0, 2**32 - 1)), draw(st.booleans()))
    assume(case is not None)
    return case


def random_net(seed: int, meshed: bool):
    """(net, inputs) or None when runpp cannot solve it: a random 110/20 kV net, radial or meshed, with every element the fast
    path models: lines, a 2-winding trafo at a drawn tap, a trafo3w, gens with reactive
    limits, sgens, loads with voltage-dependent shares, shunts with steps, a ward, an xward,
    an impedance, storage, a motor, bus-bus, line and trafo switches (some open),
    out-of-service elements; inputs = two steps of load, sgen and storage powers."""
    import warnings

    import pandapower as pp

    rng = np.random.default_rng(seed)
    net = pp.create_empty_network(sn_mva=float(rng.choice([1.0, 10.0])))
    hv = pp.create_bus(net, 110.0)
    pp.create_ext_grid(
        net, hv, vm_pu=float(rng.uniform(0.98, 1.04)), va_degree=float(rng.uniform(-5, 5))
    )
    n = int(rng.integers(4, 16))
    mv = [pp.create_bus(net, 20.0) for _ in range(n)]
    pp.create_transformer(net, hv, mv[0], "40 MVA 110/20 kV", tap_pos=int(rng.integers(-3, 4)))
    for i in range(1, n):
        j = int(rng.integers(0, i))
        pp.create_line(
            net, mv[j], mv[i], float(rng.uniform(0.2, 3.0)), "NA2XS2Y 1x240 RM/25 12/20 kV"
        )
    if meshed:
        for _ in range(int(rng.integers(1, 4))):
            a, b = rng.choice(n, 2, replace=False)
            ln = pp.create_line(
                net, mv[a], mv[b], float(rng.uniform(0.5, 3.0)), "NA2XS2Y 1x240 RM/25 12/20 kV"
            )
            pp.create_switch(net, mv[a], ln, et="l", closed=bool(rng.random() < 0.6))
    # a 110/20/10 kV trafo3w feeding a 10 kV bus with a load
    b20, b10 = pp.create_bus(net, 20.0), pp.create_bus(net, 10.0)
    t3 = pp.create_transformer3w(
        net, hv, b20, b10, "63/25/38 MVA 110/20/10 kV", tap_pos=int(rng.integers(-2, 3))
    )
    pp.create_load(net, b10, p_mw=2.0, q_mvar=0.5)
    pp.create_switch(net, hv, t3, et="t3", closed=True)
    pp.create_load(net, b20, p_mw=1.0, q_mvar=0.3)  # its own feeder: no loop through two tap ratios
    # bus-bus switch to a spur bus, trafo switch
    spur = pp.create_bus(net, 20.0)
    pp.create_switch(net, mv[-1], spur, et="b", closed=bool(rng.random() < 0.7))
    pp.create_load(net, spur, p_mw=0.5, q_mvar=0.1)
    pp.create_switch(net, hv, 0, et="t", closed=True)
    loads = []
    for b in rng.choice(n, int(rng.integers(2, n + 1))):
        z = float(rng.choice([0.0, 30.0, 100.0]))
        i = float(rng.choice([0.0, 0.0, 20.0])) if z < 100 else 0.0
        loads.append(
            pp.create_load(
                net,
                mv[b],
                p_mw=float(rng.uniform(0.1, 2.0)),
                q_mvar=float(rng.uniform(0, 0.5)),
                const_z_p_percent=z,
                const_i_q_percent=i,
            )
        )
    for b in rng.choice(n, int(rng.integers(1, 4))):
        pp.create_sgen(net, mv[b], p_mw=float(rng.uniform(0.1, 2.0)))
    for b in rng.choice(np.arange(1, n), int(rng.integers(0, 3)), replace=False):
        q = float(rng.uniform(1.0, 4.0))
        pp.create_gen(
            net,
            mv[b],
            p_mw=float(rng.uniform(0.5, 3.0)),
            vm_pu=float(rng.uniform(0.99, 1.03)),
            min_q_mvar=-q,
            max_q_mvar=q,
            in_service=bool(rng.random() < 0.85),
        )
    pp.create_shunt(
        net,
        mv[int(rng.integers(0, n))],
        q_mvar=float(rng.uniform(-1.0, 0.5)),
        p_mw=0.0,
        step=int(rng.integers(0, 3)),
        max_step=3,
    )
    pp.create_ward(
        net, mv[int(rng.integers(0, n))], ps_mw=0.3, qs_mvar=0.1, pz_mw=0.02, qz_mvar=-0.05
    )
    pp.create_xward(
        net,
        mv[int(rng.integers(0, n))],
        ps_mw=0.2,
        qs_mvar=0.05,
        pz_mw=0.0,
        qz_mvar=0.0,
        r_ohm=0.3,
        x_ohm=3.0,
        vm_pu=1.0,
    )
    a, b = rng.choice(n, 2, replace=False)
    pp.create_impedance(
        net,
        mv[a],
        mv[b],
        rft_pu=0.02,
        xft_pu=0.08,
        sn_mva=10.0,
        in_service=bool(rng.random() < 0.7),
    )
    for _ in range(int(rng.integers(1, 3))):  # storage (+ = charging) and a motor
        pp.create_storage(
            net, mv[int(rng.integers(0, n))], p_mw=float(rng.uniform(-1.0, 1.0)), max_e_mwh=4.0,
            q_mvar=float(rng.uniform(-0.3, 0.3)), in_service=bool(rng.random() < 0.8),
        )  # fmt: skip
    pp.create_motor(
        net, mv[int(rng.integers(0, n))], pn_mech_mw=0.5, cos_phi=0.85,
        loading_percent=float(rng.uniform(20, 100)), efficiency_percent=95.0,
    )  # fmt: skip
    if rng.random() < 0.3:
        net.line.loc[net.line.index[int(rng.integers(0, len(net.line)))], "in_service"] = False
    f_load = rng.uniform(0.0, 1.3, (2, len(net.load)))
    f_sgen = rng.uniform(0.0, 1.0, (2, len(net.sgen)))
    f_st = rng.uniform(-1.0, 1.0, (2, len(net.storage)))
    inputs = {
        "load_p_mw": f_load * net.load.p_mw.to_numpy(),
        "load_q_mvar": f_load * net.load.q_mvar.to_numpy(),
        "sgen_p_mw": f_sgen * net.sgen.p_mw.to_numpy(),
        "storage_p_mw": f_st * net.storage.p_mw.to_numpy(),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for t in range(2):
                for arg, x in inputs.items():
                    el, col = arg.split("_", 1)
                    net[el][col] = x[t]
                pp.runpp(net, enforce_q_lims=True)
        except Exception:
            return None
    return net, inputs
