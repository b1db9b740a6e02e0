"""Plain-Python reference of the unit model, written apart from `devices.kernels`.

One object per unit, built from `UnitParams` directly (not from the packed arrays), using
numpy's `interp`, a bisection for the PCS inversion and a list-based rainflow stack. Slow and
readable; the tests compare the compiled kernels to it on random input, and the benchmark
uses it as the plain-Python baseline. Same equations, signs and units as `devices.kernels`.
"""

from __future__ import annotations

import math

import numpy as np

from devices.params import UnitParams
from parktwin.pcs_states import PcsState

OFF, STANDBY, STARTING, RUNNING, FAULT = (int(s) for s in PcsState)
_RF_DEPTH = 32


def _lin(xs, ys, x: float) -> float:
    return float(np.interp(x, xs, ys))


def _ocv_integral(socs, volts, soc: float) -> float:
    """Integral of the cell OCV [V] from 0 to soc: whole trapezoids, then the partial one."""
    total = 0.0
    for a, b, va, vb in zip(socs[:-1], socs[1:], volts[:-1], volts[1:], strict=True):
        if soc >= b:
            total += 0.5 * (va + vb) * (b - a)
        elif soc > a:
            v_at = va + (vb - va) * (soc - a) / (b - a)
            total += 0.5 * (va + v_at) * (soc - a)
    return total


class ReferenceUnit:
    """One storage unit, advanced one sub-step at a time in plain Python."""

    def __init__(self, p: UnitParams, soc0: float = 0.5, temp0_c: float = 25.0, state=STANDBY):
        self.p = p
        c, pk = p.cell, p.pack
        self.ns = pk.cells_series
        self.cap_nom_ah = c.capacity_ah * pk.racks_parallel
        self.r0 = (c.r0_mohm + pk.r_connection_mohm_per_cell) * 1e-3 * self.ns / pk.racks_parallel
        self.r1 = max(c.r1_mohm, 1e-9) * 1e-3 * self.ns / pk.racks_parallel
        self.i_ch = c.c_rate_charge_max * self.cap_nom_ah
        self.i_dis = c.c_rate_discharge_max * self.cap_nom_ah
        self.k_sd = c.self_discharge_per_month / (30.0 * 86400.0)
        self.loss_ch = p.loss_curve("charge")
        self.loss_dis = p.loss_curve("discharge")
        grid = np.linspace(0.0, 1.0, 101)
        self.ua_table = (grid, np.array([p.anode.ua_v(float(s)) for s in grid]))
        # state
        self.soc, self.v1, self.temp_c, self.soh, self.r_growth = soc0, 0.0, temp0_c, 1.0, 1.0
        self.q_cal = self.q_cyc = 0.0
        self.p_state = self.timer = self.idle = self.efc = self.days = 0.0
        self.state = state
        self.win = {"t": 0.0, "kcal": 0.0, "tk": 0.0, "thr": 0.0, "efc": 0.0, "dod2": 0.0}
        self.stack = [soc0]
        self.direction = 0
        self.extreme = soc0
        self.zero_acc()

    # ------------------------------------------------------------------ helpers
    def zero_acc(self) -> None:
        keys = "e_in e_out e_dc q e_aux l_pcs l_bat l_ohm l_coul l_self e_hvac e_fade ah v_dc"
        self.acc = dict.fromkeys(keys.split(), 0.0)

    def stored_kwh(self, soc: float | None = None, soh: float | None = None) -> float:
        soc = self.soc if soc is None else soc
        soh = self.soh if soh is None else soh
        g = _ocv_integral(self.p.ocv.soc, self.p.ocv.v_cell, soc)
        return self.ns * self.cap_nom_ah * soh * g / 1000.0

    def pcs_loss(self, p_kw: float, q_kvar: float) -> float:
        xs, ys = self.loss_ch if p_kw >= 0 else self.loss_dis
        return _lin(xs, ys, math.hypot(p_kw, q_kvar))

    def ac_for_dc(self, p_dc: float, q: float) -> float:
        """Bisection on p_ac - loss(p_ac) = p_dc over each sign branch."""
        top_pos = p_dc + self.pcs_loss(0.0, q)
        top_neg = p_dc + _lin(*self.loss_dis, abs(q))
        if top_pos >= 0.0:
            lo, hi = 0.0, 2.0 * top_pos + 1.0
            while hi - self.pcs_loss(hi, q) < p_dc:
                hi *= 2.0
        elif top_neg <= 0.0:
            lo, hi = 2.0 * top_neg - 1.0, -1e-300
            while lo - self.pcs_loss(lo, q) > p_dc:
                lo *= 2.0
        else:
            return 0.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid - self.pcs_loss(mid, q) < p_dc:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-13 * (1.0 + abs(mid)):
                break
        return 0.5 * (lo + hi)

    def resistances(self) -> tuple[float, float]:
        rs = self.p.resistance
        f = (
            _lin(rs.soc, rs.soc_factor, self.soc)
            * _lin(rs.temp_c, rs.temp_factor, self.temp_c)
            * self.r_growth
        )
        return self.r0 * f, self.r1 * f

    def power_limits(self) -> tuple[float, float]:
        """AC power [kW] the unit could charge / discharge now (1-s horizon, Q = 0)."""
        if self.state in (OFF, FAULT):
            return 0.0, 0.0
        c, pk, s_kva = self.p.cell, self.p.pack, self.p.pcs.s_kva
        r0, r1 = self.resistances()
        beta = c.tau1_s * (1.0 - math.exp(-1.0 / c.tau1_s))
        reff = r0 + r1 * (1.0 - beta)
        half = 0.5 * c.hysteresis_mv * 1e-3 * self.ns
        ocv = self.ns * _lin(self.p.ocv.soc, self.p.ocv.v_cell, self.soc) + beta * self.v1
        charge = discharge = 0.0
        if self.soc < pk.soc_max:
            e = ocv + half
            cur = max(min(self.i_ch, (c.v_max * self.ns - e) / reff), 0.0)
            charge = min(max(self.ac_for_dc((e + reff * cur) * cur / 1000.0, 0.0), 0.0), s_kva)
        if self.soc > pk.soc_min:
            e = ocv - half
            cur = min(max(-self.i_dis, (c.v_min * self.ns - e) / reff, -e / (2.0 * reff)), 0.0)
            p_dc = (e + reff * cur) * cur / 1000.0
            discharge = min(max(-self.ac_for_dc(p_dc, 0.0), 0.0), s_kva)
        return charge, discharge

    # ------------------------------------------------------------------ phases
    def battery(self, p_dc_kw: float, dt: float) -> tuple[float, float, bool]:
        c, pk = self.p.cell, self.p.pack
        cap = self.cap_nom_ah * self.soh
        r0, r1 = self.resistances()
        decay = math.exp(-dt / c.tau1_s)
        beta = c.tau1_s * (1.0 - decay) / dt
        reff = r0 + r1 * (1.0 - beta)
        eta = c.coulombic_eff
        sd_ah = self.k_sd * cap * dt
        socs, volts = self.p.ocv.soc, self.p.ocv.v_cell

        def solve(e):
            disc = e * e + 4.0 * reff * 1000.0 * p_dc_kw
            if disc < 0:
                return -e / (2.0 * reff), True
            return (-e + math.sqrt(disc)) / (2.0 * reff) if reff > 0 else 0.0, False

        def soc_after(cur):
            dq = (cur * eta if cur > 0 else cur) * dt / 3600.0 - sd_ah
            return min(max(self.soc + dq / cap, 0.0), 1.0)

        half = 0.5 * c.hysteresis_mv * 1e-3 * self.ns
        hyst = half if p_dc_kw > 0 else (-half if p_dc_kw < 0 else 0.0)
        ocv = self.ns * _lin(socs, volts, self.soc)
        e = ocv + beta * self.v1 + hyst
        cur, beyond = solve(e)
        s1 = soc_after(cur)
        if abs(s1 - self.soc) > 1e-9:
            g0 = _ocv_integral(socs, volts, self.soc)
            ocv = self.ns * (_ocv_integral(socs, volts, s1) - g0) / (s1 - self.soc)
            e = ocv + beta * self.v1 + hyst
            cur, beyond = solve(e)
        hi = min(self.i_ch, (c.v_max * self.ns - e) / reff)
        hi = max(min(hi, ((pk.soc_max - self.soc) * cap + sd_ah) * 3600.0 / (eta * dt)), 0.0)
        lo = max(-self.i_dis, (c.v_min * self.ns - e) / reff)
        lo = min(max(lo, -((self.soc - pk.soc_min) * cap - sd_ah) * 3600.0 / dt), 0.0)
        limited = beyond or cur > hi or cur < lo
        cur = min(max(cur, lo), hi)
        new_soc = soc_after(cur)
        p_dc = (e + reff * cur) * cur / 1000.0
        loss = p_dc * dt / 3600.0 - (self.stored_kwh(new_soc) - self.stored_kwh())
        self.soc = new_soc
        v1 = self.v1 * decay + (1.0 - decay) * r1 * cur
        self.v1 = v1 if abs(v1) > 1e-12 else 0.0  # no subnormals
        a = self.acc
        a["l_ohm"] += r0 * cur**2 * dt / 3.6e6
        a["l_coul"] += (1.0 - eta) * cur * ocv * dt / 3.6e6 if cur > 0 else 0.0
        a["l_self"] += sd_ah * ocv / 1000.0
        a["l_bat"] += loss
        a["e_dc"] += p_dc * dt / 3600.0
        a["ah"] += cur * dt / 3600.0
        a["v_dc"] = e + reff * cur
        return p_dc, loss, limited

    def thermal(self, heat_kw: float, ambient_c: float, dt: float) -> None:
        th = self.p.thermal
        c_j = th.c_th_kj_per_k * 1e3
        kp = th.kp_kw_per_k * 1e3

        def implicit(extra_w: float, k_w: float, t_set: float) -> float:
            # C (T' - T)/dt = heat + UA (Ta - T') + extra + k (t_set - T')
            num = self.temp_c + dt / c_j * (1000.0 * heat_kw + th.ua_w_per_k * ambient_c)
            num += dt / c_j * (extra_w + k_w * t_set)
            return num / (1.0 + dt * (th.ua_w_per_k + k_w) / c_j)

        t_free = implicit(0.0, 0.0, 0.0)
        p_hvac_w = 0.0
        t_new = t_free
        if t_free > th.t_cool_c:
            t_new = implicit(0.0, kp, th.t_cool_c)
            q = kp * (t_new - th.t_cool_c)
            if q > th.q_cool_max_kw * 1e3:
                q = th.q_cool_max_kw * 1e3
                t_new = implicit(-q, 0.0, 0.0)
            p_hvac_w = q / th.cop_cool
        elif t_free < th.t_heat_c:
            t_new = implicit(0.0, kp, th.t_heat_c)
            q = kp * (th.t_heat_c - t_new)
            if q > th.q_heat_max_kw * 1e3:
                q = th.q_heat_max_kw * 1e3
                t_new = implicit(q, 0.0, 0.0)
            p_hvac_w = q / th.cop_heat
        self.temp_c = t_new
        self.acc["e_hvac"] += p_hvac_w / 1000.0 * dt / 3600.0
        self.acc["e_aux"] += (th.p_bms_ems_kw + p_hvac_w / 1000.0) * dt / 3600.0

    def _cycle(self, rng: float, count: float) -> None:
        self.win["efc"] += count * rng
        self.win["dod2"] += count * rng * rng

    def _push(self, value: float) -> None:
        st = self.stack
        if len(st) == _RF_DEPTH:
            self._cycle(abs(st[1] - st[0]), 0.5)
            st.pop(0)
        st.append(value)
        while len(st) >= 3:
            x, y = abs(st[-1] - st[-2]), abs(st[-2] - st[-3])
            if x < y:
                break
            if len(st) == 3:
                self._cycle(y, 0.5)
                st.pop(0)
            else:
                self._cycle(y, 1.0)
                del st[-3:-1]

    def aging(self, soc0: float, temp0_c: float, dt: float) -> None:
        ag, an = self.p.aging, self.ua_table
        tk = temp0_c + 273.15
        ua = _lin(an[0], an[1], soc0)
        w = self.win
        w["kcal"] += abs(ag.p1) * math.exp(ag.p2 / tk + ag.p3 * ua / tk) * dt
        w["tk"] += tk * dt
        w["t"] += dt
        w["thr"] += abs(self.soc - soc0)
        self.efc += 0.5 * abs(self.soc - soc0)
        gate = ag.rf_hysteresis_soc
        if self.direction == 0:
            if abs(self.soc - self.stack[-1]) > gate:
                self.direction = 1 if self.soc > self.stack[-1] else -1
                self.extreme = self.soc
        elif (self.soc - self.extreme) * self.direction > 0:
            self.extreme = self.soc
        elif (self.extreme - self.soc) * self.direction > gate:
            self._push(self.extreme)
            self.direction = -self.direction
            self.extreme = self.soc
        if w["t"] < ag.window_s:
            return

        def grow(q, k_rate, power, dx):
            if k_rate <= 0 or dx <= 0:
                return q
            return max(q, k_rate * ((q / k_rate) ** (1.0 / power) + dx) ** power)

        days = w["t"] / 86400.0
        self.days += days
        self.q_cal = grow(self.q_cal, w["kcal"] / w["t"], ag.pcal, days)
        if w["efc"] > 0:
            dod = w["dod2"] / w["efc"]
            crate = w["thr"] / (w["t"] / 3600.0)
            tkm = w["tk"] / w["t"]
            kcyc = (ag.p4 + ag.p5 * dod + ag.p6 * crate) * (
                math.exp(ag.p7 / tkm) + math.exp(-ag.p8 / tkm)
            )
            self.q_cyc = grow(self.q_cyc, kcyc, ag.pcyc, w["efc"])
        new_soh = min(self.soh, max(1.0 - self.q_cal - self.q_cyc, 0.05))
        self.acc["e_fade"] += self.stored_kwh(soh=self.soh) - self.stored_kwh(soh=new_soh)
        self.soh = new_soh
        self.r_growth = 1.0 + ag.r_growth_per_fade * (1.0 - new_soh)
        for key in w:
            w[key] = 0.0

    def substep(self, p_req: float, q_req: float, ambient_c: float, dt: float) -> None:
        pcs = self.p.pcs
        soc0, temp0 = self.soc, self.temp_c
        state_before = self.state
        active = p_req != 0.0 or q_req != 0.0
        if self.state == STANDBY and active:
            self.state, self.timer = STARTING, 0.0
        t_run = 0.0
        if self.state == STARTING:
            if pcs.t_start_s - self.timer > dt:
                self.timer += dt
            else:
                t_run = dt - max(pcs.t_start_s - self.timer, 0.0)
                self.state, self.idle, self.p_state = RUNNING, 0.0, 0.0
        elif self.state == RUNNING:
            t_run = dt
        share = t_run / dt
        p_run = q_run = p_dc_run = 0.0
        if t_run > 0:
            s = pcs.s_kva
            q_run = min(max(q_req, -s), s)
            p_cap = math.sqrt(max(s * s - q_run * q_run, 0.0))
            target = min(max(p_req, -p_cap), p_cap)
            lagged = self.p_state + (target - self.p_state) * (1.0 - math.exp(-t_run / pcs.tau_s))
            step = self.p.ramp_kw_per_s * t_run
            p_run = min(max(lagged, self.p_state - step), self.p_state + step, p_cap)
            p_run = max(p_run, -p_cap)
            p_dc_run = p_run - self.pcs_loss(p_run, q_run)
        p_dc, loss_bat, limited = self.battery(share * p_dc_run, dt)
        if t_run > 0:
            if limited:
                p_run = self.ac_for_dc(p_dc / share, q_run)
            self.p_state = p_run
        idle_draw = pcs.p_standby_kw if state_before != OFF else 0.0
        e_ac = (share * p_run + (1.0 - share) * idle_draw) * dt / 3600.0
        self.acc["e_in" if e_ac >= 0 else "e_out"] += abs(e_ac)
        self.acc["q"] += share * q_run * dt / 3600.0
        self.acc["l_pcs"] += e_ac - p_dc * dt / 3600.0
        if self.state == RUNNING:
            self.idle = 0.0 if active else self.idle + t_run
            if self.idle >= pcs.idle_to_standby_s:
                self.state, self.p_state = STANDBY, 0.0
        self.thermal(loss_bat * 3600.0 / dt, ambient_c, dt)
        self.aging(soc0, temp0, dt)

    def step(self, p_req: float, q_req: float, ambient_c: float, dt: float, n_sub: int) -> dict:
        """`n_sub` sub-steps; returns the energies of the call (kWh)."""
        self.zero_acc()
        for _ in range(n_sub):
            self.substep(p_req, q_req, ambient_c, dt)
        return dict(self.acc)
