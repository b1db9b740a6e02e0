"""Plain rows describing a site's ratings (for `twin grid show` and reports).

Loadings "at peak" are design checks without diversity: an enterprise's peak load over its
transformer kVA, the sum of a feeder's enterprise peaks over the cable's rating at nominal
voltage. No power flow is run here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grid.site import Site


@dataclass(frozen=True)
class SiteDescription:
    """Rows (lists of dicts, display order) of a site's substation, feeders, enterprises, storage."""

    substation: list[dict]
    feeders: list[dict]
    enterprises: list[dict]
    storage: list[dict]
    totals: dict


def _cable_mva(site: Site, cable: str, parallel: int) -> float:
    c = site.equipment.cables[cable]
    return math.sqrt(3.0) * site.substation.mv_kv * c.max_i_ka * parallel


def storage_rows(site: Site) -> list[dict]:
    """One row per storage group: its units, energy, PCS and transformer ratings."""
    return [
        {
            "name": g.name,
            "enterprise": g.enterprise,
            "unit_type": g.unit_type,
            "count": g.count,
            "unit_kwh": g.unit_kwh,
            "energy_mwh": (g.unit_kwh * g.count / 1000.0) if g.unit_kwh else None,
            "pcs_kva": g.pcs_kva,
            "trafo_kva": g.trafo_kva,
            "ac_kv": g.ac_kv,
            "commissioned": g.commissioned,
        }
        for g in site.storage
    ]


def _tap_text(sub) -> str:
    """The main transformers' tap: its start position and its control, e.g.
    ``2, OLTC 1.000-1.070 p.u. after 60 s`` (or the fixed position alone)."""
    tc = sub.tap_control
    if tc is None:
        return f"{sub.tap_pos} (fixed)"
    limit = "" if tc.max_steps is None else f", <= {tc.max_steps} per period"
    return (
        f"{sub.tap_pos}, OLTC {tc.vm_lower_pu:.3f}-{tc.vm_upper_pu:.3f} p.u."
        f" after {tc.delay_s:g} s{limit}"
    )


def describe_site(site: Site) -> SiteDescription:
    """The site's equipment and design loadings as rows of plain values."""
    sub = site.substation
    st = site.equipment.transformers[sub.transformer]
    ent_kva = {e.name: e.peak_kw / e.power_factor for e in site.enterprises}
    pcs = {e.name: 0.0 for e in site.enterprises}
    for g in site.storage:
        pcs[g.enterprise] += (g.pcs_kva or g.trafo_kva) * g.count
    substation = [
        {
            "name": f"T{k}",
            "type": sub.transformer,
            "rating_mva": st.sn_kva / 1000.0,
            "voltage": f"{st.vn_hv_kv:g}/{st.vn_lv_kv:g} kV {st.vector_group}",
            "vk_percent": st.vk_percent,
            "tap_pos": _tap_text(sub),
            "peak_mva": sum(
                ent_kva[e.name]
                for e in site.enterprises
                if next(f for f in site.feeders if f.name == e.feeder).section == k
            )
            / 1000.0,
        }
        for k in range(1, sub.count + 1)
    ]
    feeders = []
    for f in site.feeders:
        members = [e for e in site.enterprises if e.feeder == f.name]
        rating = _cable_mva(site, f.cable, f.parallel)
        peak = sum(ent_kva[e.name] for e in members) / 1000.0
        feeders.append(
            {
                "name": f.name,
                "section": f.section,
                "cable": f"{f.parallel} x {f.cable}" if f.parallel > 1 else f.cable,
                "length_km": sum(e.feeder_km for e in members),
                "rating_mva": rating,
                "enterprises": len(members),
                "peak_mva": peak,
                "loading_at_peak_pct": peak / rating * 100.0,
                "storage_kva": sum(pcs[e.name] for e in members),
            }
        )
    enterprises = [
        {
            "name": e.name,
            "label": e.label,
            "industry": e.industry,
            "feeder": e.feeder,
            "connection": "direct 10 kV"
            if e.direct_10kv
            else f"{e.transformer_count} x {e.transformer_kva:g} kVA",
            "peak_kw": e.peak_kw,
            "mean_kw": e.mean_kw,
            "annual_mwh": e.annual_mwh,
            "power_factor": e.power_factor,
            "pv_kwp": e.pv_kwp,
            "trafo_loading_at_peak_pct": (
                ent_kva[e.name] / e.transformer_total_kva * 100.0 if not e.direct_10kv else None
            ),
            "service_cable": e.service_cable
            if e.service_parallel == 1
            else f"{e.service_parallel} x {e.service_cable}",
            "storage_kva": pcs[e.name],
        }
        for e in site.enterprises
    ]
    storage = storage_rows(site)
    energy = [r["energy_mwh"] for r in storage]
    totals = {
        "enterprises": len(site.enterprises),
        "feeders": len(site.feeders),
        "storage_units": sum(g.count for g in site.storage),
        "storage_mwh": sum(x for x in energy if x is not None),
        "storage_pcs_kva": sum(pcs.values()),
        "peak_kw_sum": sum(e.peak_kw for e in site.enterprises),
        "annual_mwh": sum(e.annual_mwh for e in site.enterprises),
        "pv_kwp": sum(e.pv_kwp for e in site.enterprises),
    }
    return SiteDescription(substation, feeders, enterprises, storage, totals)
