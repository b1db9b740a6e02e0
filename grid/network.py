"""Build the pandapower net of a site, and remember where each site object landed in it.

Shape (one 10 kV bus per enterprise = its meter, the PCC):

    ext_grid ─ 110 kV ─┬─ T1 ─ 10 kV section I ─ trunk ─ RMU ─ service cable ─ ent 10 kV ─┬─ 10/0.4 kV ─ LV: load, PV
                       └─ T2 ─ 10 kV section II (coupler switch to I)                       └─ 10/0.69 kV ─ unit LV: storage (one per unit)

A direct-10-kV enterprise has its load and PV on its 10 kV bus. PCC power is the power
delivered by the service cable into the enterprise's 10 kV bus (+ = import).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grid.site import LV_NOMINAL_KV, Site
from parktwin.files import atomic_path

if TYPE_CHECKING:
    import pandapower as pp


def _pandapower():
    """pandapower, imported on first use (seconds): a run whose grid model comes from the
    cache (`grid.park.ParkGrid.cached`) never imports it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower

    return pandapower


@dataclass(frozen=True)
class NetIndex:
    """Where each site object sits in the net (pandapower element indices, site order)."""

    enterprise_bus: np.ndarray  # (n_ent,) 10 kV PCC bus
    enterprise_load: np.ndarray  # (n_ent,) load index
    enterprise_sgen: np.ndarray  # (n_ent,) sgen index (one per enterprise, 0 kWp allowed)
    service_line: np.ndarray  # (n_ent,) line feeding the PCC bus (to_bus = PCC bus)
    unit_storage: np.ndarray  # (n_units,) storage index
    unit_trafo: np.ndarray  # (n_units,) step-up transformer index
    unit_enterprise: np.ndarray  # (n_units,) index into site.enterprises
    unit_names: tuple[str, ...]
    substation_trafo: np.ndarray  # (n_sections,) main transformers


def _trafo(net, site: Site, type_name: str, hv_bus: int, lv_bus: int, tap_pos: int, **kw) -> int:
    t = site.equipment.transformers[type_name]
    pp = _pandapower()
    return pp.create_transformer_from_parameters(
        net,
        hv_bus=hv_bus,
        lv_bus=lv_bus,
        sn_mva=t.sn_kva / 1000.0,
        vn_hv_kv=t.vn_hv_kv,
        vn_lv_kv=t.vn_lv_kv,
        vkr_percent=t.vkr_percent,
        vk_percent=t.vk_percent,
        pfe_kw=t.pfe_kw,
        i0_percent=t.i0_percent,
        shift_degree=t.shift_degree,
        tap_side="hv",
        tap_neutral=0,
        tap_min=t.tap_min,
        tap_max=t.tap_max,
        tap_step_percent=t.tap_step_percent,
        tap_pos=tap_pos,
        tap_changer_type="Ratio",
        vector_group=t.vector_group,
        std_type=type_name,
        **kw,
    )


def _cable(net, site: Site, cable: str, f: int, t: int, km: float, parallel: int, name: str) -> int:
    c = site.equipment.cables[cable]
    pp = _pandapower()
    return pp.create_line_from_parameters(
        net,
        from_bus=f,
        to_bus=t,
        length_km=km,
        r_ohm_per_km=c.r_ohm_per_km,
        x_ohm_per_km=c.x_ohm_per_km,
        c_nf_per_km=c.c_nf_per_km,
        max_i_ka=c.max_i_ka,
        parallel=parallel,
        name=name,
        type="cs",
        std_type=cable,
    )


def build_net(site: Site) -> tuple[pp.pandapowerNet, NetIndex]:
    """The pandapower net of `site` (all injections zero) and its index (a site on its own
    net is `grid.importer.site_net`'s)."""
    if site.network is not None:
        raise ValueError("build_net: a site on its own net is built by grid.importer.site_net")
    sub = site.substation
    pp = _pandapower()
    net = pp.create_empty_network(name=site.name, sn_mva=1.0)
    hv = pp.create_bus(net, vn_kv=sub.hv_kv, name=f"{sub.name} {sub.hv_kv:g} kV", type="b")
    pp.create_ext_grid(net, hv, vm_pu=sub.vm_pu, va_degree=0.0, name="110 kV supply")
    sections, main_trafos = [], []
    for k in range(1, sub.count + 1):
        b = pp.create_bus(net, vn_kv=sub.mv_kv, name=f"{sub.mv_kv:g} kV section {k}", type="b")
        main_trafos.append(
            _trafo(net, site, sub.transformer, hv, b, sub.tap_pos, name=f"T{k} {sub.transformer}")
        )
        sections.append(b)
    for k in range(1, sub.count):
        pp.create_switch(
            net,
            sections[k - 1],
            sections[k],
            et="b",
            closed=sub.bus_coupler_closed,
            type="CB",
            name=f"bus coupler {k}-{k + 1}",
        )

    feeder = {f.name: f for f in site.feeders}
    last_bus = {f.name: sections[f.section - 1] for f in site.feeders}
    ent_bus, ent_load, ent_sgen, service = [], [], [], []
    for e in site.enterprises:
        f = feeder[e.feeder]
        rmu = pp.create_bus(net, vn_kv=sub.mv_kv, name=f"{f.name} RMU {e.name}", type="n")
        _cable(
            net,
            site,
            f.cable,
            last_bus[f.name],
            rmu,
            e.feeder_km,
            f.parallel,
            f"{f.name} to {e.name}",
        )
        last_bus[f.name] = rmu
        pcc = pp.create_bus(net, vn_kv=sub.mv_kv, name=f"{e.name} 10 kV", type="b")
        service.append(
            _cable(
                net,
                site,
                e.service_cable,
                rmu,
                pcc,
                e.service_km,
                e.service_parallel,
                f"{e.name} service",
            )
        )
        if e.direct_10kv:
            lv = pcc
        else:
            lv = pp.create_bus(net, vn_kv=LV_NOMINAL_KV, name=f"{e.name} 0.38 kV", type="b")
            _trafo(
                net,
                site,
                site.enterprise_transformer(e),
                pcc,
                lv,
                sub.distribution_tap_pos,
                parallel=e.transformer_count,
                name=f"{e.name} {e.connection}",
            )
        ent_bus.append(pcc)
        ent_load.append(pp.create_load(net, lv, p_mw=0.0, q_mvar=0.0, name=f"{e.name} load"))
        ent_sgen.append(
            pp.create_sgen(
                net,
                lv,
                p_mw=0.0,
                q_mvar=0.0,
                sn_mva=e.pv_kwp / 1000.0,
                name=f"{e.name} PV",
                type="PV",
            )
        )

    u_storage, u_trafo, u_ent, u_names = add_storage_units(net, site, ent_bus)
    idx = NetIndex(
        enterprise_bus=np.array(ent_bus, dtype=np.int64),
        enterprise_load=np.array(ent_load, dtype=np.int64),
        enterprise_sgen=np.array(ent_sgen, dtype=np.int64),
        service_line=np.array(service, dtype=np.int64),
        unit_storage=np.array(u_storage, dtype=np.int64),
        unit_trafo=np.array(u_trafo, dtype=np.int64),
        unit_enterprise=np.array(u_ent, dtype=np.int64),
        unit_names=tuple(u_names),
        substation_trafo=np.array(main_trafos, dtype=np.int64),
    )
    return net, idx


def add_storage_units(
    net, site: Site, connect_bus: list[int]
) -> tuple[list[int], list[int], list[int], list[str]]:
    """Add every unit of the site's storage groups to `net`: its own LV AC bus, its step-up
    transformer from the catalogue to ``connect_bus[enterprise position]``, its storage
    element (p = 0). A transformer's HV winding is rated at its bus's nominal voltage when
    that differs from the catalogue type's (a site on its own net, `grid.netmap`).

    Returns (storage indices, transformer indices, enterprise positions, unit names).
    """
    pp = _pandapower()
    ent_pos = {e.name: i for i, e in enumerate(site.enterprises)}
    u_storage, u_trafo, u_ent, u_names = [], [], [], []
    for g in site.storage:
        i = ent_pos[g.enterprise]
        tname = site.unit_transformer(g)
        hv_bus = connect_bus[i]
        hv_kv = float(net.bus.at[hv_bus, "vn_kv"])
        for unit in g.unit_names():
            b = pp.create_bus(net, vn_kv=g.ac_kv, name=f"{unit} {g.ac_kv:g} kV", type="b")
            t = _trafo(net, site, tname, hv_bus, b, 0, name=f"{unit} {tname}")
            if not math.isclose(net.trafo.at[t, "vn_hv_kv"], hv_kv):
                net.trafo.at[t, "vn_hv_kv"] = hv_kv
            u_trafo.append(t)
            u_storage.append(
                pp.create_storage(
                    net,
                    b,
                    p_mw=0.0,
                    max_e_mwh=(g.unit_kwh / 1000.0) if g.unit_kwh else math.nan,
                    sn_mva=(g.pcs_kva or g.trafo_kva) / 1000.0,
                    name=unit,
                    type=g.unit_type,
                )
            )
            u_ent.append(i)
            u_names.append(unit)
    return u_storage, u_trafo, u_ent, u_names


def export_json(site: Site, path: str | Path, net: pp.pandapowerNet | None = None) -> Path:
    """Write the site's net as pandapower JSON (``pandapower.from_json`` loads it), atomically.

    The file is a peak snapshot: every enterprise's load at its peak and power factor, PV
    and storage at zero.
    """
    if site.network is not None:
        from grid.importer import export_site_json

        return export_site_json(site, path)
    net = copy.deepcopy(net) if net is not None else build_net(site)[0]
    p = np.array([e.peak_kw for e in site.enterprises]) / 1000.0
    tan_phi = np.array([math.tan(math.acos(e.power_factor)) for e in site.enterprises])
    net.load["p_mw"] = p
    net.load["q_mvar"] = p * tan_phi
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _pandapower().to_json(net, str(tmp))
    return path
