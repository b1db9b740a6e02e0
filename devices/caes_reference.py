"""Plain-Python reference of the compressed-air unit (`devices.caes_kernels`), for differential
tests: one object per unit, the same equations written a second time from the physics (the
one deliberate second copy), in the order of the kernel's sub-step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from devices.caes_params import BAR_PA, CaesParams, full_load_eta
from parktwin.pcs_states import PcsState


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for k in range(1, len(xs)):
        if x <= xs[k]:
            return ys[k - 1] + (x - xs[k - 1]) / (xs[k] - xs[k - 1]) * (ys[k] - ys[k - 1])
    return ys[-1]


@dataclass
class CaesReferenceUnit:
    """One compressed-air unit; `step` returns the energies of one call [kWh]."""

    p: CaesParams
    soc0: float = 0.5
    state: int = int(PcsState.STANDBY)
    m: float = field(init=False)
    t_tes: float = field(init=False)
    p_state: float = 0.0
    timer: float = 0.0
    idle: float = 0.0
    mode: int = 0
    efc: float = 0.0

    def __post_init__(self) -> None:
        a = self.p.air
        self.r, self.cp = a.r_j_per_kg_k, a.cp_j_per_kg_k
        self.t0 = a.temp_c + 273.15
        self.p0 = a.p_ambient_bar * BAR_PA
        self.vol = self.p.volume_m3
        self.m_min = a.p_min_bar * BAR_PA * self.vol / (self.r * self.t0)
        self.m_max = a.p_max_bar * BAR_PA * self.vol / (self.r * self.t0)
        self.c_tes = self.p.tes_heat_capacity_j_per_k
        ts = self.p.thermal_store
        rise = ts.design_temp_c - a.temp_c if ts.heat_capture else 0.0
        self.m = self.m_min + self.soc0 * (self.m_max - self.m_min)
        self.t_tes = self.t0 + self.soc0 * rise
        ex = self.p.expander
        self.p_in_max = ex.p_inlet_max_bar * BAR_PA
        w_rated = self._w_exp(self.p_in_max, self.p.t_turbine_design_k, full_load_eta(ex))
        self.mdot_rated = self.p.rating.p_discharge_kw * 1000.0 / (ex.eta_machine * w_rated)

    # ---- physics, each written from scratch
    def pressure(self, m: float) -> float:
        return m * self.r * self.t0 / self.vol

    def air_exergy(self, m: float) -> float:
        """Minimum work to fill the store from ambient to mass m, isothermally [kWh]."""
        p = self.pressure(m)
        m_amb = self.p0 * self.vol / (self.r * self.t0)
        # integral of R T0 ln(p(m)/p0) dm from m_amb to m
        return self.r * self.t0 * (m * math.log(p / self.p0) - (m - m_amb)) / 3.6e6

    def heat_exergy(self, t: float) -> float:
        if self.c_tes == 0.0:
            return 0.0
        return self.c_tes * (t - self.t0 - self.t0 * math.log(t / self.t0)) / 3.6e6

    def soc(self) -> float:
        return (self.m - self.m_min) / (self.m_max - self.m_min)

    def stored(self) -> float:
        return self.air_exergy(self.m) - self.air_exergy(self.m_min) + self.heat_exergy(self.t_tes)

    def _w_exp(self, p_in: float, t_in: float, eta: float) -> float:
        n = self.p.expander.stages
        ratio = (p_in / self.p0) ** (1.0 / n)
        return n * self.cp * t_in * (1.0 - ratio ** (-eta * self.r / self.cp))

    def _t_in(self) -> float:
        if self.c_tes == 0.0:
            return self.t0
        return max(self.t_tes - self.p.thermal_store.approach_k, self.t0)

    def available_kw(self) -> float:
        ex = self.p.expander
        if self.m <= self.m_min:
            return 0.0
        p_in = min(self.pressure(self.m), self.p_in_max)
        w = self._w_exp(p_in, self._t_in(), full_load_eta(ex))
        kw = min(self.p.rating.p_discharge_kw,
                 ex.eta_machine * self.mdot_rated * p_in / self.p_in_max * w / 1000.0)  # fmt: skip
        return kw if kw >= ex.min_load * self.p.rating.p_discharge_kw else 0.0

    # ---- one call
    def step(self, p_req: float, dt: float, n_sub: int = 1) -> dict[str, float]:
        pr, c, ex, ts = self.p.rating, self.p.compressor, self.p.expander, self.p.thermal_store
        c_min, e_min = c.min_load * pr.p_charge_kw, ex.min_load * pr.p_discharge_kw
        want = 0
        if p_req > 0 and p_req >= c_min:
            want = 1
        elif p_req < 0 and -p_req >= e_min:
            want = -1
        tot = dict.fromkeys(
            "e_in e_out e_shaft e_aux l_mach l_comp l_exp l_leak l_tes".split(), 0.0
        )
        for _ in range(n_sub):
            soc_before = self.soc()
            state_before = self.state
            running = self.state in (PcsState.RUNNING, PcsState.STARTING)
            if want and (self.state == PcsState.STANDBY or (running and want != self.mode)):
                self.state, self.mode, self.timer, self.p_state = PcsState.STARTING, want, 0.0, 0.0
            dt_run = 0.0
            if self.state == PcsState.STARTING:
                t_start = c.t_start_s if self.mode > 0 else ex.t_start_s
                if t_start - self.timer > dt:
                    self.timer += dt
                else:
                    dt_run = dt - max(t_start - self.timer, 0.0)
                    self.state, self.idle, self.p_state = PcsState.RUNNING, 0.0, 0.0
            elif self.state == PcsState.RUNNING:
                dt_run = dt
            p_run = 0.0
            if dt_run > 0:
                if self.mode > 0:
                    target = min(p_req, pr.p_charge_kw) if want > 0 else 0.0
                    p_run = max(self._ramp(target, c.ramp_pu_per_s * pr.p_charge_kw, dt_run,
                                           c_min), 0.0)  # fmt: skip
                else:
                    avail = self.available_kw()
                    target = max(p_req, -avail) if want < 0 else 0.0
                    p_run = self._ramp(target, ex.ramp_pu_per_s * pr.p_discharge_kw, dt_run, e_min)
                    p_run = min(max(p_run, -avail), 0.0)
                if p_run > 0:
                    p_run = self._compress(p_run, dt_run, tot)
                elif p_run < 0:
                    p_run = -self._expand(-p_run, dt_run, tot)
                self.p_state = p_run
            e_ac = p_run * dt_run / 3600.0
            tot["e_in" if e_ac >= 0 else "e_out"] += abs(e_ac)
            if self.state == PcsState.RUNNING:
                if want:
                    self.idle = 0.0
                elif p_run == 0.0:
                    self.idle += dt_run
                    if self.idle >= self.p.aux.idle_to_standby_s:
                        self.state, self.mode = PcsState.STANDBY, 0
            # leakage of the usable air
            k_leak = -math.log(1.0 - self.p.air.leak_per_day) / 86400.0
            if self.m > self.m_min and k_leak > 0:
                before = self.air_exergy(self.m)
                self.m = self.m_min + (self.m - self.m_min) * math.exp(-k_leak * dt)
                tot["l_leak"] += before - self.air_exergy(self.m)
            # heat loss of the thermal store
            k_tes = -math.log(1.0 - ts.loss_per_day) / 86400.0
            if self.c_tes > 0 and k_tes > 0:
                before = self.heat_exergy(self.t_tes)
                self.t_tes = self.t0 + (self.t_tes - self.t0) * math.exp(-k_tes * dt)
                tot["l_tes"] += before - self.heat_exergy(self.t_tes)
            standby = self.p.aux.p_standby_kw if state_before != PcsState.OFF else 0.0
            tot["e_aux"] += standby * dt / 3600.0 + self.p.aux.run_fraction * abs(e_ac)
            self.efc += 0.5 * abs(self.soc() - soc_before)
        return tot

    def _ramp(self, target: float, ramp: float, dt_run: float, p_min: float) -> float:
        lo, hi = self.p_state - ramp * dt_run, self.p_state + ramp * dt_run
        p = min(max(target, lo), hi)
        if 0.0 < abs(p) < p_min:
            p = math.copysign(p_min, p) if abs(target) >= p_min else 0.0
        return p

    def _compress(self, p_el: float, dt_run: float, tot: dict[str, float]) -> float:
        c, ts = self.p.compressor, self.p.thermal_store
        eta = _interp(p_el / self.p.rating.p_charge_kw, c.load_fraction, c.eta_poly)
        p_s = self.pressure(self.m)
        t_out = self.t0 * (p_s / self.p0) ** (self.r / (self.cp * eta * c.stages))
        w = c.stages * self.cp * (t_out - self.t0)
        dm = c.eta_machine * p_el * 1000.0 * dt_run / w
        share = 1.0
        if dm > self.m_max - self.m:
            room = max(self.m_max - self.m, 0.0)
            share, dm = room / dm, room
        e_el = p_el * share * dt_run / 3600.0
        shaft = c.eta_machine * e_el
        stored0 = self.air_exergy(self.m) + self.heat_exergy(self.t_tes)
        self.m += dm
        if self.c_tes > 0 and dm > 0 and t_out > self.t_tes:
            ntu = ts.heat_capture * c.stages * self.cp * dm / self.c_tes
            self.t_tes = t_out - (t_out - self.t_tes) * math.exp(-ntu)
        stored1 = self.air_exergy(self.m) + self.heat_exergy(self.t_tes)
        tot["e_shaft"] += shaft
        tot["l_mach"] += e_el - shaft
        tot["l_comp"] += shaft - (stored1 - stored0)
        return p_el * share

    def _expand(self, p_el: float, dt_run: float, tot: dict[str, float]) -> float:
        ex = self.p.expander
        eta = _interp(p_el / self.p.rating.p_discharge_kw, ex.load_fraction, ex.eta_poly)
        p_in = min(self.pressure(self.m), self.p_in_max)
        t_in = self._t_in()
        t_out = t_in * (p_in / self.p0) ** (-eta * self.r / (self.cp * ex.stages))
        w = ex.stages * self.cp * (t_in - t_out)
        dm = p_el / ex.eta_machine * 1000.0 * dt_run / w
        share = 1.0
        if dm > self.m - self.m_min:
            left = max(self.m - self.m_min, 0.0)
            share, dm = left / dm, left
        e_el = p_el * share * dt_run / 3600.0
        shaft = e_el / ex.eta_machine
        stored0 = self.air_exergy(self.m) + self.heat_exergy(self.t_tes)
        self.m -= dm
        if self.c_tes > 0 and t_in > self.t0 and dm > 0:
            heat = dm * self.cp * ((t_in - self.t0) + (ex.stages - 1) * (t_in - t_out))
            self.t_tes -= min(heat, self.c_tes * (self.t_tes - self.t0)) / self.c_tes
        stored1 = self.air_exergy(self.m) + self.heat_exergy(self.t_tes)
        tot["e_shaft"] -= shaft
        tot["l_mach"] += shaft - e_el
        tot["l_exp"] += (stored0 - stored1) - shaft
        return p_el * share
