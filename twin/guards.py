"""The safety layer between any strategy and the plant: one numba kernel, counted.

Order of the clamps (each later one only moves the setpoint toward 0 or inside a limit):
1. Ramp: ``|p - p_prev| <= ramp_kw_per_s * dt_s``. First, because it is the soft one: a
   unit whose capability just dropped (a tripped PCS) is not ramped down slowly.
2. PCS rating: what each unit can do now (`Fleet.p_charge_max_kw`/`p_discharge_max_kw`:
   PCS rating, battery current limit, PCS state), then the apparent-power circle (q gives way).
3. SOC window: the energy that fits in the window over the coming interval (discharge
   scaled by a conservative one-way efficiency).
4. Transformer loading: the unit's step-up transformer, ``|p + p_aux, q| <= kva * frac``
   (reactive power gives way first; active power only ever moves toward 0).
5. Anti-backflow: at each storage-hosting meter the estimated import
   ``net_load + sum(p + p_aux)`` stays >= the margin; discharge is cut, all units of the
   meter in proportion. Last, because it is the one rule that must never be broken.

A guard "intervenes" when it moves a setpoint by more than `TOL_KW`; the counts are per
(unit, interval) for guards 1-4 and per (meter, interval) for anti-backflow.
`guard_reference` is the plain-Python twin of the kernel for differential tests.
"""

from __future__ import annotations

import math

import numpy as np

from parktwin.jit import jit

GUARD_NAMES = ("pcs_rating", "ramp", "soc_window", "trafo_loading", "anti_backflow")
TOL_KW = 1e-6


@jit
def guard_kernel(
    p_req,
    q_req,
    p_prev,
    soc,
    soc_lo,
    soc_hi,
    e_kwh,
    p_ch_max,
    p_dis_max,
    s_max_kva,
    ramp_kw_per_s,
    trafo_kva,
    trafo_frac,
    p_aux_kw,
    unit_ent,
    net_load_kw,
    margin_kw,
    dt_s,
    eff,
    enable,
    counts,
):
    """Clamp the requested setpoints in the module's order 1-5 (ramp first); returns new
    (p, q) arrays [kW, kvar] (`p_req`, `q_req` are not changed); adds each intervention to
    `counts` (the one argument changed in place, in `GUARD_NAMES` order).

    enable: int array (5,) switching each guard on (1) or off (0), in `GUARD_NAMES` order
    (pcs_rating, ramp, soc_window, trafo_loading, anti_backflow), not the clamp order.
    """
    n = p_req.shape[0]
    p = p_req.copy()
    q = q_req.copy()
    dt_h = dt_s / 3600.0
    for i in range(n):
        if not math.isfinite(p[i]):
            p[i] = 0.0
        if not math.isfinite(q[i]):
            q[i] = 0.0
        # ramp first: it is soft, what the unit can do right now is not
        if enable[1]:
            step = ramp_kw_per_s[i] * dt_s
            if p[i] > p_prev[i] + step + 1e-6:
                p[i] = p_prev[i] + step
                counts[1] += 1
            elif p[i] < p_prev[i] - step - 1e-6:
                p[i] = p_prev[i] - step
                counts[1] += 1
        # rating: capability now (PCS state, battery limits), PCS kVA, q gives way to p
        if enable[0]:
            before_p = p[i]
            before_q = q[i]
            hi = min(p_ch_max[i], s_max_kva[i])
            lo = -min(p_dis_max[i], s_max_kva[i])
            if p[i] > hi:
                p[i] = hi
            elif p[i] < lo:
                p[i] = lo
            s2 = s_max_kva[i] * s_max_kva[i]
            if p[i] * p[i] + q[i] * q[i] > s2:
                if p[i] * p[i] >= s2:
                    q[i] = 0.0
                else:
                    q[i] = math.copysign(math.sqrt(s2 - p[i] * p[i]), q[i])
            if abs(p[i] - before_p) > 1e-6 or abs(q[i] - before_q) > 1e-6:
                counts[0] += 1
        # 3. SOC window
        if enable[2]:
            room_ch = (soc_hi[i] - soc[i]) * e_kwh[i] / dt_h
            room_dis = (soc[i] - soc_lo[i]) * e_kwh[i] * eff / dt_h
            if room_ch < 0.0:
                room_ch = 0.0
            if room_dis < 0.0:
                room_dis = 0.0
            if p[i] > room_ch + 1e-6:
                p[i] = room_ch
                counts[2] += 1
            elif p[i] < -room_dis - 1e-6:
                p[i] = -room_dis
                counts[2] += 1
        # 4. unit transformer loading: q gives way first, then p (only ever toward 0)
        if enable[3]:
            s_lim = trafo_kva[i] * trafo_frac
            pt = p[i] + p_aux_kw[i]
            if pt * pt + q[i] * q[i] > s_lim * s_lim + 1e-6:
                q_room = s_lim * s_lim - pt * pt
                q[i] = math.copysign(math.sqrt(q_room), q[i]) if q_room > 0.0 else 0.0
                hi = s_lim - p_aux_kw[i]
                lo = -s_lim - p_aux_kw[i]
                if p[i] > hi:
                    p[i] = hi if hi > 0.0 else 0.0
                elif p[i] < lo:
                    p[i] = lo
                counts[3] += 1
    # 5. anti-backflow, per meter
    if enable[4]:
        n_ent = net_load_kw.shape[0]
        est = net_load_kw.copy()
        dis = np.zeros(n_ent)
        for i in range(n):
            est[unit_ent[i]] += p[i] + p_aux_kw[i]
            if p[i] < 0.0:
                dis[unit_ent[i]] -= p[i]
        for e in range(n_ent):
            deficit = margin_kw[e] - est[e]
            if deficit > 1e-6 and dis[e] > 0.0:
                keep = 1.0 - deficit / dis[e]
                if keep < 0.0:
                    keep = 0.0
                for i in range(n):
                    if unit_ent[i] == e and p[i] < 0.0:
                        p[i] *= keep
                        # less discharge raises p + aux: q gives way to the transformer again
                        if enable[3]:
                            s_lim = trafo_kva[i] * trafo_frac
                            pt = p[i] + p_aux_kw[i]
                            if pt * pt + q[i] * q[i] > s_lim * s_lim + 1e-6:
                                q_room = s_lim * s_lim - pt * pt
                                q[i] = (
                                    math.copysign(math.sqrt(q_room), q[i]) if q_room > 0.0 else 0.0
                                )
                                counts[3] += 1
                counts[4] += 1
    return p, q


def guard_reference(
    p_req,
    q_req,
    p_prev,
    soc,
    soc_lo,
    soc_hi,
    e_kwh,
    p_ch_max,
    p_dis_max,
    s_max_kva,
    ramp_kw_per_s,
    trafo_kva,
    trafo_frac,
    p_aux_kw,
    unit_ent,
    net_load_kw,
    margin_kw,
    dt_s,
    eff,
    enable,
    counts,
):
    """Plain-Python reference of `guard_kernel`, written per guard over whole vectors."""
    p = np.where(np.isfinite(p_req), p_req, 0.0).astype(float)
    q = np.where(np.isfinite(q_req), q_req, 0.0).astype(float)
    dt_h = dt_s / 3600.0
    if enable[1]:
        step = np.asarray(ramp_kw_per_s) * dt_s
        hi = np.asarray(p_prev) + step
        lo = np.asarray(p_prev) - step
        moved = (p > hi + 1e-6) | (p < lo - 1e-6)
        p = np.where(p > hi + 1e-6, hi, np.where(p < lo - 1e-6, lo, p))
        counts[1] += int(moved.sum())
    if enable[0]:
        s_max = np.asarray(s_max_kva)
        p1 = np.clip(p, -np.minimum(p_dis_max, s_max), np.minimum(p_ch_max, s_max))
        q_room = np.sqrt(np.maximum(s_max**2 - p1**2, 0.0))
        q1 = np.where(p1**2 + q**2 > s_max**2, np.sign(q) * q_room, q)
        counts[0] += int(np.sum((np.abs(p1 - p) > 1e-6) | (np.abs(q1 - q) > 1e-6)))
        p, q = p1, q1
    if enable[2]:
        room_ch = np.maximum((np.asarray(soc_hi) - soc) * e_kwh / dt_h, 0.0)
        room_dis = np.maximum((soc - np.asarray(soc_lo)) * e_kwh * eff / dt_h, 0.0)
        moved = (p > room_ch + 1e-6) | (p < -room_dis - 1e-6)
        p = np.where(p > room_ch + 1e-6, room_ch, np.where(p < -room_dis - 1e-6, -room_dis, p))
        counts[2] += int(moved.sum())
    if enable[3]:
        s_lim = np.asarray(trafo_kva) * trafo_frac
        pt = p + p_aux_kw
        over = pt**2 + q**2 > s_lim**2 + 1e-6
        q_room = s_lim**2 - pt**2
        q = np.where(over, np.where(q_room > 0, np.copysign(np.sqrt(np.abs(q_room)), q), 0.0), q)
        hi = s_lim - p_aux_kw
        lo = -s_lim - p_aux_kw
        p = np.where(over & (p > hi), np.maximum(hi, 0.0), np.where(over & (p < lo), lo, p))
        counts[3] += int(over.sum())
    if enable[4]:
        n_ent = len(net_load_kw)
        est = np.asarray(net_load_kw, float) + np.bincount(
            unit_ent, weights=p + p_aux_kw, minlength=n_ent
        )
        dis = np.bincount(unit_ent, weights=np.maximum(-p, 0.0), minlength=n_ent)
        deficit = np.asarray(margin_kw) - est
        act = (deficit > 1e-6) & (dis > 0.0)
        with np.errstate(over="ignore"):
            ratio = deficit / np.where(dis > 0, dis, 1.0)
        keep = np.where(act, np.clip(1.0 - ratio, 0.0, 1.0), 1.0)
        scaled = (p < 0.0) & act[unit_ent]
        p = np.where(p < 0.0, p * keep[unit_ent], p)
        counts[4] += int(act.sum())
        if enable[3]:
            s_lim = np.asarray(trafo_kva) * trafo_frac
            pt = p + p_aux_kw
            over = scaled & (pt**2 + q**2 > s_lim**2 + 1e-6)
            q_room = s_lim**2 - pt**2
            q = np.where(
                over, np.where(q_room > 0, np.copysign(np.sqrt(np.abs(q_room)), q), 0.0), q
            )
            counts[3] += int(over.sum())
    return p, q
