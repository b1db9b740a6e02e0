"""numba kernels of a storage unit: LFP pack, PCS, cabin thermal + auxiliaries, aging.

Pure functions over a structure of arrays (see `devices.state` for the layout):
- the parameters ``pv[P_*, i]``;
- the piecewise-linear tables ``tx/ty[T_*, i, :]`` with ``tn[T_*, i]`` points;
- the anode-potential table ``ua[i, :]``;
- the float state ``xs[X_*, i]`` and the PCS state codes ``pcs[i]``;
- the rainflow reversal stack ``rf[i, :]`` with depth ``rfn[i]``.
`step_units` updates the state arrays in place and writes the interval's energies into
``acc[A_*, i]``. Nothing here allocates, logs or does I/O. Tables are indexed directly, never
sliced: in numba every array view costs reference-count updates, which once dominated the
step time. Within a call a unit's parameters and state live in locals (a store into one state
array would otherwise force every value read from the others to be re-read), and each table
is searched from the segment it used last (`_lookup_at`, `_ocv_integral_at`, `_ac_for_dc_at`;
a hint of 1 is the plain scan); see `_advance_unit`.

One sub-step of one unit runs the phases of simses' ``Battery.step`` in order:
PCS state machine -> PCS setpoint (P/Q circle, lag, ramp) -> PCS loss -> battery current for
the DC power -> clamps (current, cell voltage, SOC window) -> back to the achieved AC power ->
SOC/RC update -> heat, HVAC and auxiliaries -> aging stressors, rainflow, daily fade.
Each equation is written once, in a small function (``inline="always"``: numba inlines it into
the fused `_advance_unit`, so the split costs no speed); `power_limits` and
`stored_energy_all` use the same functions.

Signs: positive power = charging (drawn from the AC bus); current positive = charging.
Units: kW, kWh, A, V, Ohm, s, C (K inside the Arrhenius terms), SOC 0..1.
`devices.reference` is an independent plain-Python version of the same equations.
"""

from __future__ import annotations

import math

from parktwin.jit import jit
from parktwin.pcs_states import PcsState

# PCS state codes as plain ints: numba freezes module-level ints into the compiled code.
OFF, STANDBY, STARTING, RUNNING, FAULT = (int(s) for s in PcsState)

# Parameter rows of pv[P_*, i].
P_CAP_AH = 0  # nameplate charge of the pack [Ah]
P_NS = 1  # cells in series
P_R0 = 2  # ohmic resistance of the pack at 50 % SOC, 25 C [Ohm] (cells + connections)
P_R1 = 3  # polarisation resistance of the pack [Ohm]
P_TAU1 = 4  # RC time constant [s]
P_VMAX = 5  # pack voltage limit [V] (cells x cell limit)
P_VMIN = 6
P_ICH = 7  # charge current limit [A]
P_IDIS = 8  # discharge current limit [A] (> 0)
P_ETA_C = 9  # coulombic efficiency (charging)
P_KSD = 10  # self-discharge [fraction of capacity per s]
P_SOC_MIN = 11
P_SOC_MAX = 12
P_CTH = 13  # heat capacity [J/K]
P_UA = 14  # envelope conductance [W/K]
P_TCOOL = 15  # [C]
P_THEAT = 16
P_KP = 17  # HVAC proportional gain [W/K]
P_QCOOL = 18  # [W] thermal
P_QHEAT = 19
P_COPC = 20
P_COPH = 21
P_PBMS = 22  # BMS/EMS/fans standby draw [kW]
P_S = 23  # PCS rating [kVA]
P_PSB = 24  # PCS standby draw [kW]
P_RAMP = 25  # [kW/s]
P_TAU = 26  # PCS response lag [s]
P_TSTART = 27  # start-up delay [s]
P_TIDLE = 28  # idle time at zero setpoint before standby [s]
P_A1, P_A2, P_A3, P_A4, P_A5, P_A6, P_A7, P_A8 = 29, 30, 31, 32, 33, 34, 35, 36
P_PCAL = 37
P_PCYC = 38
P_WIN = 39  # aging window [s]
P_KR = 40  # resistance growth per capacity fade
P_RFH = 41  # rainflow reversal gate [SOC]
P_HYST = 42  # half the OCV hysteresis of the pack [V]
NP = 43

# Tables tx/ty[T_*, i, :].
T_OCV = 0  # SOC -> cell OCV [V]
T_RSOC = 1  # SOC -> resistance factor
T_RTEMP = 2  # temperature [C] -> resistance factor
T_LCH = 3  # apparent power [kVA] -> PCS loss charging [kW]
T_LDIS = 4  # apparent power [kVA] -> PCS loss discharging [kW]
T_OCVG = 5  # SOC knots of T_OCV -> integral of the cell OCV from SOC 0 [V]
NT = 6
# The graphite anode potential [V] vs SOC lives apart, in ua[i, :] on an even SOC grid 0..1
# (101 points): padding every table to its width would push the tables out of the cache.

# Float state rows of xs[X_*, i].
X_SOC = 0
X_V1 = 1  # RC branch voltage [V]
X_TEMP = 2  # cell/cabin temperature [C]
X_SOH = 3  # capacity / nameplate
X_RG = 4  # resistance growth factor (>= 1)
X_QCAL = 5  # calendar capacity loss (fraction)
X_QCYC = 6  # cycle capacity loss (fraction)
X_P = 7  # PCS active power state [kW] (lag/ramp memory)
X_TIMER = 8  # start-up timer [s]
X_IDLE = 9  # time at zero setpoint while running [s]
X_EFC = 10  # equivalent full cycles (SOC throughput / 2)
X_WT = 11  # aging window: elapsed [s]
X_WKCAL = 12  # integral of the calendar rate [s]
X_WTK = 13  # integral of temperature [K s]
X_WTHR = 14  # SOC throughput in the window
X_WEFC = 15  # rainflow-counted EFC in the window
X_WDOD = 16  # sum of count x range^2 (for the EFC-weighted mean DOD)
X_RFEXT = 17  # running SOC extreme since the last reversal
X_RFDIR = 18  # +1 rising, -1 falling, 0 not yet known
X_DAYS = 19  # calendar age [days]
NX = 20

# Accumulators acc[A_*, i] over one call (kWh, kvarh).
A_EIN = 0
A_EOUT = 1
A_EDC = 2  # signed DC energy into the battery
A_Q = 3  # reactive energy (+ absorbing)
A_EAUX = 4
A_LPCS = 5
A_LBAT = 6
A_LOHM = 7
A_LCOUL = 8
A_LSELF = 9
A_EHVAC = 10
A_EFADE = 11  # stored energy lost by capacity fade
A_AH = 12  # signed charge through the terminals [Ah]
A_VDC = 13  # terminal voltage of the last sub-step [V] (not a sum)
NA = 14

RF_DEPTH = 32


# ------------------------------------------------------------------------------- tables


@jit(inline="always")
def _seg(tx, t: int, i: int, x: float, k: int) -> int:
    """Segment of table `t` holding x (the first k >= 1 with tx[k] >= x), searched from the
    hint `k` (the last segment used): the same k as a scan from 1, in one or two compares.
    x must lie strictly inside the table."""
    while k > 1 and tx[t, i, k - 1] >= x:
        k -= 1
    while tx[t, i, k] < x:
        k += 1
    return k


@jit(inline="always")
def _lookup_at(tx, ty, tn, t: int, i: int, x: float, k: int) -> tuple[float, int]:
    """Piecewise-linear table `t` of unit `i` at x, held constant beyond its ends, searched
    from the segment hint `k`; returns (value, segment). Indexes the 3-D arrays directly (no
    array views: in numba each view costs reference-count updates)."""
    n = tn[t, i]
    if x <= tx[t, i, 0]:
        return ty[t, i, 0], k
    if x >= tx[t, i, n - 1]:
        return ty[t, i, n - 1], k
    k = _seg(tx, t, i, x, k)
    x0 = tx[t, i, k - 1]
    y0 = ty[t, i, k - 1]
    return y0 + (x - x0) / (tx[t, i, k] - x0) * (ty[t, i, k] - y0), k


@jit(inline="always")
def lookup(tx, ty, tn, t: int, i: int, x: float) -> float:
    """`_lookup_at` without a hint (a scan from the first segment)."""
    return _lookup_at(tx, ty, tn, t, i, x, 1)[0]


@jit(inline="always")
def _lookup_uniform(ua, i: int, x: float) -> float:
    """Row `i` of `ua`, points spaced evenly over x in [0, 1], held beyond."""
    n = ua.shape[1]
    if x <= 0.0:
        return ua[i, 0]
    if x >= 1.0:
        return ua[i, n - 1]
    u = x * (n - 1)
    j = min(int(u), n - 2)
    return ua[i, j] + (u - j) * (ua[i, j + 1] - ua[i, j])


@jit(inline="always")
def _ocv_integral_at(tx, ty, tn, i: int, soc: float, k: int) -> tuple[float, int]:
    """Integral of the cell OCV from SOC 0 to `soc` [V], from the knots' cumulative table,
    searched from the segment hint `k`; returns (value, segment)."""
    n = tn[T_OCV, i]
    if soc <= 0.0:
        return 0.0, k
    if soc >= tx[T_OCV, i, n - 1]:
        return ty[T_OCVG, i, n - 1], k
    k = _seg(tx, T_OCV, i, soc, k)
    x0 = tx[T_OCV, i, k - 1]
    v0 = ty[T_OCV, i, k - 1]
    d = soc - x0
    slope = (ty[T_OCV, i, k] - v0) / (tx[T_OCV, i, k] - x0)
    return ty[T_OCVG, i, k - 1] + (v0 + 0.5 * slope * d) * d, k


@jit(inline="always")
def stored_energy_kwh(pv, tx, ty, tn, i, soc: float, soh: float) -> float:
    """Chemical energy stored above SOC 0 [kWh]: cells x aged Ah x integral of OCV."""
    g = _ocv_integral_at(tx, ty, tn, i, soc, 1)[0]
    return pv[P_NS, i] * pv[P_CAP_AH, i] * soh * g / 1000.0


# --------------------------------------------------------------------------------- PCS


@jit(inline="always")
def _step_response(dt: float, tau: float) -> float:
    """1 - exp(-dt / tau): how far a first-order lag of time constant tau [s] moves in dt [s]."""
    return -math.expm1(-dt / tau)


@jit(inline="always")
def _pq_circle(p_req: float, q_req: float, s_kva: float) -> tuple[float, float, float]:
    """The rating's P/Q circle, Q first: (q [kvar], the P left [kW], p_req clamped to it)."""
    q_c = min(max(q_req, -s_kva), s_kva)
    p_cap = math.sqrt(max(s_kva * s_kva - q_c * q_c, 0.0))
    return q_c, p_cap, min(max(p_req, -p_cap), p_cap)


@jit(inline="always")
def _pcs_start(st, timer: float, idle: float, p_st: float, active: bool, dt: float, t_start):
    """PCS state machine at the start of a sub-step: a setpoint wakes a unit in standby,
    start-up takes `t_start` [s]. Returns (state, timer, idle, p_state, seconds running)."""
    if st == STANDBY and active:
        st = STARTING
        timer = 0.0
    dt_run = 0.0
    if st == STARTING:
        left = t_start - timer
        if left > dt:
            timer += dt
        else:
            dt_run = dt - max(left, 0.0)
            st = RUNNING
            idle = 0.0
            p_st = 0.0
    elif st == RUNNING:
        dt_run = dt
    return st, timer, idle, p_st, dt_run


@jit(inline="always")
def _pcs_power(p0: float, p_t: float, lag: float, ramp: float, dt_run: float, p_cap: float):
    """AC power [kW] after the first-order lag (step response `lag`) towards p_t, the ramp
    limit [kW/s] over dt_run [s] and the P/Q circle."""
    p1 = p0 + (p_t - p0) * lag
    r = ramp * dt_run
    p = min(max(p1, p0 - r), p0 + r)
    return min(max(p, -p_cap), p_cap)


@jit(inline="always")
def _pcs_idle(st, idle: float, p_st: float, active: bool, dt_run: float, t_idle: float):
    """A running PCS without a setpoint for `t_idle` [s] goes to standby: (state, idle, p)."""
    if st == RUNNING:
        if active:
            idle = 0.0
        else:
            idle += dt_run
            if idle >= t_idle:
                st = STANDBY
                p_st = 0.0
    return st, idle, p_st


@jit(inline="always")
def _pcs_loss_at(tx, ty, tn, i, p_kw: float, q_kvar: float, kc: int, kd: int):
    """PCS loss [kW] at AC active power p (its sign picks the direction's table) and reactive
    q, searched from the hints `kc`, `kd`; returns (loss, kc, kd)."""
    # |p| is sqrt(p^2) exactly (and the reference's hypot(p, 0))
    s_app = abs(p_kw) if q_kvar == 0.0 else math.sqrt(p_kw * p_kw + q_kvar * q_kvar)
    if p_kw >= 0.0:
        loss, kc = _lookup_at(tx, ty, tn, T_LCH, i, s_app, kc)
    else:
        loss, kd = _lookup_at(tx, ty, tn, T_LDIS, i, s_app, kd)
    return loss, kc, kd


@jit(inline="always")
def pcs_loss_kw(tx, ty, tn, i, p_kw: float, q_kvar: float) -> float:
    """PCS loss [kW] at AC active power p and reactive q (`_pcs_loss_at` without hints)."""
    return _pcs_loss_at(tx, ty, tn, i, p_kw, q_kvar, 1, 1)[0]


@jit(inline="always")
def _ac_for_dc_at(tx, ty, tn, i, p_dc_kw: float, kc: int, kd: int) -> tuple[float, int, int]:
    """Exact inverse of p_dc = p_ac - loss(|p_ac|) at Q = 0 on the piecewise-linear loss:
    closed form on the segment found from the hints `kc`, `kd` (charging / discharging table,
    the last segments used); returns (p_ac, kc, kd)."""
    if p_dc_kw >= -ty[T_LCH, i, 0]:  # charging branch: p - L(p) rises from -L(0)
        n = tn[T_LCH, i]
        # the first k with x_k - L_k >= p_dc, or n (the same k as a scan from 1)
        while kc > 1 and tx[T_LCH, i, kc - 1] - ty[T_LCH, i, kc - 1] >= p_dc_kw:
            kc -= 1
        while kc < n and tx[T_LCH, i, kc] - ty[T_LCH, i, kc] < p_dc_kw:
            kc += 1
        if kc == n:  # beyond the table the loss is held: p = p_dc + L(last)
            return p_dc_kw + ty[T_LCH, i, n - 1], kc, kd
        x0 = tx[T_LCH, i, kc - 1]
        y0 = ty[T_LCH, i, kc - 1]
        slope = (ty[T_LCH, i, kc] - y0) / (tx[T_LCH, i, kc] - x0)
        return x0 + (p_dc_kw - (x0 - y0)) / (1.0 - slope), kc, kd
    n = tn[T_LDIS, i]
    target = -p_dc_kw  # s + L(s) = -p_dc for s = -p_ac >= 0, rising from L(0)
    if target <= ty[T_LDIS, i, 0]:
        return 0.0, kc, kd
    while kd > 1 and tx[T_LDIS, i, kd - 1] + ty[T_LDIS, i, kd - 1] >= target:
        kd -= 1
    while kd < n and tx[T_LDIS, i, kd] + ty[T_LDIS, i, kd] < target:
        kd += 1
    if kd == n:
        return -(target - ty[T_LDIS, i, n - 1]), kc, kd
    x0 = tx[T_LDIS, i, kd - 1]
    y0 = ty[T_LDIS, i, kd - 1]
    slope = (ty[T_LDIS, i, kd] - y0) / (tx[T_LDIS, i, kd] - x0)
    return -(x0 + (target - (x0 + y0)) / (1.0 + slope)), kc, kd


@jit(allocates=False)
def ac_for_dc_kw(tx, ty, tn, i, p_dc_kw: float, q_kvar: float) -> float:
    """AC active power [kW] whose DC side is `p_dc_kw` (p_dc = p_ac - loss), at reactive q.

    At q = 0 the exact inverse `_ac_for_dc_at`. Otherwise p_ac - loss(p_ac) rises
    monotonically (loss slopes < 0.5, checked in params), so the fixed point
    p = p_dc + loss(p) contracts; a DC power between the two branches' values at p_ac = 0
    (only possible with q != 0) maps to p_ac = 0.
    """
    if q_kvar == 0.0:
        return _ac_for_dc_at(tx, ty, tn, i, p_dc_kw, 1, 1)[0]
    f_pos = -pcs_loss_kw(tx, ty, tn, i, 0.0, q_kvar)
    f_neg = -lookup(tx, ty, tn, T_LDIS, i, abs(q_kvar))
    if p_dc_kw >= f_pos:
        p = p_dc_kw - f_pos
        for _ in range(60):
            p_new = p_dc_kw + pcs_loss_kw(tx, ty, tn, i, p, q_kvar)
            if abs(p_new - p) <= 1e-12 * (1.0 + abs(p_new)):
                return max(p_new, 0.0)
            p = max(p_new, 0.0)
        return p
    if p_dc_kw <= f_neg:
        p = p_dc_kw - f_neg
        for _ in range(60):
            p_new = p_dc_kw + pcs_loss_kw(tx, ty, tn, i, min(p, -1e-300), q_kvar)
            if abs(p_new - p) <= 1e-12 * (1.0 + abs(p_new)):
                return min(p_new, 0.0)
            p = min(p_new, 0.0)
        return p
    return 0.0


# ----------------------------------------------------------------------------- battery


@jit(inline="always")
def _rc_mean_factor(tau1: float, a_rc: float, dt: float) -> float:
    """Mean over a step of dt [s] of the RC memory's decay (a_rc: its step response)."""
    return tau1 * a_rc / dt


@jit(inline="always")
def _resistances(tx, ty, tn, i, soc, temp_c, rg, r0_nom, r1_nom, one_minus_beta, ks, kt):
    """Ohmic and RC resistance [Ohm] at SOC, temperature and aging growth `rg`, and the
    effective resistance of the step (r0 + r1 (1 - beta)); tables searched from the hints
    `ks`, `kt`. Returns (r0, r1, reff, ks, kt)."""
    f_soc, ks = _lookup_at(tx, ty, tn, T_RSOC, i, soc, ks)
    f_t, kt = _lookup_at(tx, ty, tn, T_RTEMP, i, temp_c, kt)
    fr = f_soc * f_t * rg
    r0 = r0_nom * fr
    r1 = r1_nom * fr
    return r0, r1, r0 + r1 * one_minus_beta, ks, kt


@jit(inline="always")
def _source_voltage(ocv_v: float, beta: float, v1: float, hyst_v: float) -> float:
    """Voltage [V] behind the effective resistance: OCV, the RC memory's mean, hysteresis."""
    return ocv_v + beta * v1 + hyst_v


@jit(inline="always")
def _current_at_max_power(e_v: float, r_ohm: float) -> float:
    """Discharge current [A] of the maximum power e^2 / 4r of a source e behind r."""
    return -e_v / (2.0 * r_ohm)


@jit(inline="always")
def current_for_power(e_v: float, r_ohm: float, p_w: float) -> tuple[float, bool]:
    """Current [A] with (e + r I) I = p for a source e [V] behind r [Ohm]; (I, beyond max power).

    Written as 2p / (e + sqrt(e^2 + 4 r p)) so small powers lose no digits. Past the maximum
    discharge power e^2 / 4r the current of that maximum is returned, flagged.
    """
    disc = e_v * e_v + 4.0 * r_ohm * p_w
    if disc < 0.0:
        return _current_at_max_power(e_v, r_ohm), True
    return 2.0 * p_w / (e_v + math.sqrt(disc)), False


@jit(inline="always")
def _terminal_voltage(e_v: float, r_ohm: float, cur: float) -> float:
    """Terminal voltage [V] at current `cur` [A] (+ charging)."""
    return e_v + r_ohm * cur


@jit(inline="always")
def _dc_power_kw(v_term: float, cur: float) -> float:
    """DC power [kW] at the terminals (+ charging)."""
    return v_term * cur / 1000.0


@jit(inline="always")
def _soc_after(soc, cur, eta, dt, sd_ah, cap_ah) -> float:
    """SOC after dt [s] at current `cur` [A] (coulombic efficiency when charging) less the
    self-discharge `sd_ah` [Ah], of a capacity `cap_ah`, held in [0, 1]."""
    dq = (cur * eta if cur > 0.0 else cur) * dt / 3600.0 - sd_ah
    return min(max(soc + dq / cap_ah, 0.0), 1.0)


@jit(inline="always")
def _charge_current_max(i_ch: float, v_max: float, e_v: float, r_ohm: float) -> float:
    """Highest charge current [A]: the C-rate limit and the cell voltage limit."""
    return min(i_ch, (v_max - e_v) / r_ohm)


@jit(inline="always")
def _discharge_current_min(i_dis: float, v_min: float, e_v: float, r_ohm: float) -> float:
    """Lowest (most negative) current [A]: the C-rate limit and the cell voltage limit."""
    return max(-i_dis, (v_min - e_v) / r_ohm)


@jit(inline="always")
def _battery_current(
    tx, ty, tn, i, p_w, hyst, soc, v1, temp, rg, cap, sd_ah, g0,
    ns, r0_nom, r1_nom, beta, one_minus_beta, eta, dt, k_ocv, k_rsoc, k_rtemp,
):  # fmt: skip
    """Current [A] drawing the DC power p_w [W] over the step: solved at the OCV of `soc`,
    then once more at the mean OCV over the SOC it leads to (energy-consistent at long
    steps). `g0` is the OCV integral at `soc`. Returns (current, beyond max power, source
    voltage, OCV used [V], r0, r1, reff, soc_g1, g1: the OCV integral g1 at soc_g1, hints).
    """
    ocv_cell, k_ocv = _lookup_at(tx, ty, tn, T_OCV, i, soc, k_ocv)
    ocv = ns * ocv_cell
    e = _source_voltage(ocv, beta, v1, hyst)
    if p_w != 0.0:
        r0, r1, reff, k_rsoc, k_rtemp = _resistances(
            tx, ty, tn, i, soc, temp, rg, r0_nom, r1_nom, one_minus_beta, k_rsoc, k_rtemp
        )
        cur, beyond = current_for_power(e, reff, p_w)
    else:
        # no power, no current: the resistances only ever multiply a zero current
        r0 = 0.0
        r1 = 0.0
        reff = 0.0
        cur = 0.0
        beyond = False
    soc_pred = _soc_after(soc, cur, eta, dt, sd_ah, cap)
    g1 = g0
    soc_g1 = soc
    if abs(soc_pred - soc) > 1e-9:
        g1, k_ocv = _ocv_integral_at(tx, ty, tn, i, soc_pred, k_ocv)
        soc_g1 = soc_pred
        ocv = ns * (g1 - g0) / (soc_pred - soc)
        e = _source_voltage(ocv, beta, v1, hyst)
        if p_w != 0.0:
            cur, beyond = current_for_power(e, reff, p_w)
    return cur, beyond, e, ocv, r0, r1, reff, soc_g1, g1, k_ocv, k_rsoc, k_rtemp


@jit(inline="always")
def _clamp_current(
    cur, e, reff, soc, cap, sd_ah, i_ch, i_dis, v_max, v_min, soc_min, soc_max, eta_dt, dt
):  # fmt: skip
    """The current [A] within the C-rate, the cell voltage (at the step's mean voltage) and
    the SOC window; only the side of the current's sign can bind. Returns (current, clamped)."""
    if cur > 0.0:
        i_hi = _charge_current_max(i_ch, v_max, e, reff)
        i_hi = min(i_hi, ((soc_max - soc) * cap + sd_ah) * 3600.0 / eta_dt)
        i_hi = max(i_hi, 0.0)
        if cur > i_hi:
            return i_hi, True
    elif cur < 0.0:
        i_lo = _discharge_current_min(i_dis, v_min, e, reff)
        i_lo = max(i_lo, -((soc - soc_min) * cap - sd_ah) * 3600.0 / dt)
        i_lo = min(i_lo, 0.0)
        if cur < i_lo:
            return i_lo, True
    return cur, False


@jit(inline="always")
def _rc_voltage(v1: float, keep_rc: float, a_rc: float, r1: float, cur: float) -> float:
    """RC branch voltage [V] after a step at current `cur` (exact for a constant current)."""
    v1_new = v1 * keep_rc + a_rc * r1 * cur
    # a relaxed RC voltage decays into subnormal numbers, which are ~100x slower to compute
    return v1_new if abs(v1_new) > 1e-12 else 0.0


# ------------------------------------------------------------------ cabin thermal, HVAC


@jit(inline="always")
def _thermal_terms(pv, i, dt: float, ambient_c: float):
    """The implicit-Euler terms of the cabin node for steps of dt [s] at ambient_c [C]:
    (dt/C, 1 + dt UA/C, the same with the HVAC gain, UA Ta, the gain's pull to the cooling
    and to the heating set point)."""
    c_th = pv[P_CTH, i]
    kp = pv[P_KP, i]
    dt_c = dt / c_th
    den = 1.0 + dt * pv[P_UA, i] / c_th
    return (
        dt_c,
        den,
        den + dt * kp / c_th,
        pv[P_UA, i] * ambient_c,
        dt_c * kp * pv[P_TCOOL, i],
        dt_c * kp * pv[P_THEAT, i],
    )


@jit(inline="always")
def _cabin_temperature(
    temp, heat_kw, dt_c, den, den_kp, ua_amb, cool_src, heat_src,
    kp, t_cool, t_heat, q_cool, q_heat, cop_c, cop_h,
):  # fmt: skip
    """Cabin (cell) temperature [C] after a step with the battery's heat `heat_kw`: a lumped
    node, implicit in time, with HVAC proportional about its set points up to its thermal
    capacity. Returns (temperature, HVAC electric draw [W])."""
    src = temp + dt_c * (1000.0 * heat_kw + ua_amb)
    t_new = src / den
    p_hvac_w = 0.0
    if t_new > t_cool:
        t_new = (src + cool_src) / den_kp
        q = kp * (t_new - t_cool)
        if q > q_cool:
            q = q_cool
            t_new = (src - dt_c * q) / den
        p_hvac_w = q / cop_c
    elif t_new < t_heat:
        t_new = (src + heat_src) / den_kp
        q = kp * (t_heat - t_new)
        if q > q_heat:
            q = q_heat
            t_new = (src + dt_c * q) / den
        p_hvac_w = q / cop_h
    return t_new, p_hvac_w


# ------------------------------------------------------------------------------- aging

# Calendar-rate memo: exp(x) is reused as exp(x0) (1 + d + d^2/2) while |d = x - x0| <= this.
# The truncation error is below d^3/6 * e^d < 1.7e-19 relative, under half an ulp of a double
# (1.1e-16): the result equals math.exp's to its own rounding. The exponent moves by ~1e-7
# per second at rest (self-discharge, temperature settling): 99.7 % of a 4-h rest reuses it.
EXP_MEMO_DX = 1e-6


@jit(inline="always")
def _exp_memo(x: float, x0: float, e0: float) -> tuple[float, float, float]:
    """exp(x) from the memo (x0, e0 = exp(x0)); returns (exp(x), new x0, new e0)."""
    d = x - x0
    if abs(d) <= EXP_MEMO_DX:
        return e0 * (1.0 + d * (1.0 + 0.5 * d)), x0, e0
    e = math.exp(x)
    return e, x, e


@jit(inline="always")
def _calendar_rate(a1: float, a2: float, a3: float, temp_k: float, ua_v: float, x0, e0):
    """BLAST-Lite calendar fade coefficient kcal = |p1| exp((p2 + p3 Ua) / T) [1/day^pcal]
    at temperature [K] and anode potential [V] (a1 = |p1|), exp through the memo (x0, e0).
    Returns (kcal, x0, e0)."""
    ex, x0, e0 = _exp_memo((a2 + a3 * ua_v) / temp_k, x0, e0)
    return a1 * ex, x0, e0


@jit(inline="always")
def cycle_rate(pv, i, dod: float, crate_per_h: float, temp_k: float) -> float:
    """BLAST-Lite cycle fade coefficient kcyc [1/EFC^pcyc] at DOD, C-rate [1/h], temperature."""
    return (pv[P_A4, i] + pv[P_A5, i] * dod + pv[P_A6, i] * crate_per_h) * (
        math.exp(pv[P_A7, i] / temp_k) + math.exp(-pv[P_A8, i] / temp_k)
    )


@jit(inline="always")
def power_state_step(q: float, k: float, p: float, dx: float) -> float:
    """Advance q = k x^p by dx of x at the rate k of this window (virtual-x form; never falls)."""
    if k <= 0.0 or dx <= 0.0:
        return q
    x_eff = (q / k) ** (1.0 / p)
    return max(q, k * (x_eff + dx) ** p)


@jit(allocates=False)
def _rainflow_count(rf, rfn, i, value: float, wefc: float, wdod: float) -> tuple[float, float]:
    """Push a reversal and count closed cycles (ASTM E1049 3-point rule, online).

    Returns the window's rainflow EFC and sum of count x range^2 with the closed cycles added.
    """
    n = rfn[i]
    if n == RF_DEPTH:  # full: the oldest range leaves as a half cycle
        rng = abs(rf[i, 1] - rf[i, 0])
        wefc += 0.5 * rng
        wdod += 0.5 * rng * rng
        for k in range(n - 1):
            rf[i, k] = rf[i, k + 1]
        n -= 1
    rf[i, n] = value
    n += 1
    while n >= 3:
        x = abs(rf[i, n - 1] - rf[i, n - 2])
        y = abs(rf[i, n - 2] - rf[i, n - 3])
        if x < y:
            break
        if n == 3:  # y contains the oldest point: a half cycle
            wefc += 0.5 * y
            wdod += 0.5 * y * y
            rf[i, 0] = rf[i, 1]
            rf[i, 1] = rf[i, 2]
            n = 2
        else:
            wefc += y
            wdod += y * y
            rf[i, n - 3] = rf[i, n - 1]
            n -= 2
    rfn[i] = n
    return wefc, wdod


@jit(inline="always")
def _rainflow_track(rf, rfn, i, soc, gate, rfdir, rfext, wefc, wdod):
    """Follow the SOC for reversals (a turn by more than `gate`) and count each one; returns
    (direction: +1 rising / -1 falling / 0 unknown, running extreme, wefc, wdod)."""
    if rfdir == 0.0:
        last = rf[i, rfn[i] - 1]
        if soc - last > gate:
            rfdir = 1.0
            rfext = soc
        elif last - soc > gate:
            rfdir = -1.0
            rfext = soc
    elif rfdir > 0.0:
        if soc > rfext:
            rfext = soc
        elif rfext - soc > gate:
            wefc, wdod = _rainflow_count(rf, rfn, i, rfext, wefc, wdod)
            rfdir = -1.0
            rfext = soc
    else:
        if soc < rfext:
            rfext = soc
        elif soc - rfext > gate:
            wefc, wdod = _rainflow_count(rf, rfn, i, rfext, wefc, wdod)
            rfdir = 1.0
            rfext = soc
    return rfdir, rfext, wefc, wdod


@jit(allocates=False)  # not inlined: once a day, and kept out of the hot loop's code
def _apply_fade(pv, tx, ty, tn, xs, i, soc, soh, wt, wkcal, wtk, wthr, wefc, wdod):
    """End of an aging window of wt [s]: calendar and cycle fade from the window's sums
    (calendar-rate integral, temperature integral [K s], SOC throughput, rainflow EFC and
    count x range^2) into xs's ages. Returns (soh, resistance growth, stored energy lost
    [kWh])."""
    days = wt / 86400.0
    xs[X_DAYS, i] += days
    kcal = wkcal / wt
    xs[X_QCAL, i] = power_state_step(xs[X_QCAL, i], kcal, pv[P_PCAL, i], days)
    if wefc > 0.0:
        dod = wdod / wefc
        crate = wthr / (wt / 3600.0)
        kcyc = cycle_rate(pv, i, dod, crate, wtk / wt)
        xs[X_QCYC, i] = power_state_step(xs[X_QCYC, i], kcyc, pv[P_PCYC, i], wefc)
    soh_new = min(soh, max(1.0 - xs[X_QCAL, i] - xs[X_QCYC, i], 0.05))
    e_lost = stored_energy_kwh(pv, tx, ty, tn, i, soc, soh) - stored_energy_kwh(
        pv, tx, ty, tn, i, soc, soh_new
    )
    return soh_new, 1.0 + pv[P_KR, i] * (1.0 - soh_new), e_lost


# ---------------------------------------------------------------------- the fused step


@jit(inline="always")
def _advance_unit(
    p_req, q_req, ambient_c, dt, n_sub, pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc, i, a_lag, a_rc
) -> None:
    """`n_sub` sub-steps of unit `i` at a constant setpoint (phases in the module docstring).

    Each phase's arithmetic is one of the small functions above, inlined here. The unit's
    constants and state live in locals for the whole call (the state arrays may alias each
    other as far as the compiler knows, so every value read from them would be re-read after
    each store), and each table lookup starts from the segment it used last.
    """
    # --- constants of the call
    ns = pv[P_NS, i]
    cap_ah = pv[P_CAP_AH, i]
    r0_nom = pv[P_R0, i]
    r1_nom = pv[P_R1, i]
    vmax = pv[P_VMAX, i]
    vmin = pv[P_VMIN, i]
    i_ch = pv[P_ICH, i]
    i_dis = pv[P_IDIS, i]
    eta = pv[P_ETA_C, i]
    ksd = pv[P_KSD, i]
    soc_min = pv[P_SOC_MIN, i]
    soc_max = pv[P_SOC_MAX, i]
    hyst_v = pv[P_HYST, i]
    eta_dt = eta * dt
    beta = _rc_mean_factor(pv[P_TAU1, i], a_rc, dt)
    one_minus_beta = 1.0 - beta
    keep_rc = 1.0 - a_rc
    # PCS: the P/Q circle and the clamped target are constant over the call
    tau = pv[P_TAU, i]
    ramp = pv[P_RAMP, i]
    t_start = pv[P_TSTART, i]
    t_idle = pv[P_TIDLE, i]
    q_c, p_cap, p_t = _pq_circle(p_req, q_req, pv[P_S, i])
    active = p_req != 0.0 or q_req != 0.0
    p_sb = pv[P_PSB, i]
    # thermal
    kp = pv[P_KP, i]
    t_cool = pv[P_TCOOL, i]
    t_heat = pv[P_THEAT, i]
    q_cool = pv[P_QCOOL, i]
    q_heat = pv[P_QHEAT, i]
    cop_c = pv[P_COPC, i]
    cop_h = pv[P_COPH, i]
    p_bms = pv[P_PBMS, i]
    dt_c, den, den_kp, ua_amb, cool_src, heat_src = _thermal_terms(pv, i, dt, ambient_c)
    # aging
    a1 = abs(pv[P_A1, i])
    a2 = pv[P_A2, i]
    a3 = pv[P_A3, i]
    win = pv[P_WIN, i]
    gate = pv[P_RFH, i]
    # --- state
    soc = xs[X_SOC, i]
    v1 = xs[X_V1, i]
    temp = xs[X_TEMP, i]
    soh = xs[X_SOH, i]
    rg = xs[X_RG, i]
    p_st = xs[X_P, i]
    timer = xs[X_TIMER, i]
    idle = xs[X_IDLE, i]
    efc = xs[X_EFC, i]
    wt = xs[X_WT, i]
    wkcal = xs[X_WKCAL, i]
    wtk = xs[X_WTK, i]
    wthr = xs[X_WTHR, i]
    wefc = xs[X_WEFC, i]
    wdod = xs[X_WDOD, i]
    rfext = xs[X_RFEXT, i]
    rfdir = xs[X_RFDIR, i]
    st = pcs[i]
    # --- accumulators of the call
    e_in = 0.0
    e_out = 0.0
    e_dc = 0.0
    e_q = 0.0
    e_aux = 0.0
    l_pcs = 0.0
    l_bat = 0.0
    l_ohm = 0.0
    l_coul = 0.0
    l_self = 0.0
    e_hvac = 0.0
    e_fade = 0.0
    ah = 0.0
    v_dc = 0.0
    # --- segment hints and memos
    k_ocv = 1
    k_rsoc = 1
    k_rtemp = 1
    k_lch = 1
    k_ldis = 1
    k_ach = 1
    k_adis = 1
    g0, k_ocv = _ocv_integral_at(tx, ty, tn, i, soc, k_ocv)  # OCV integral at soc
    cap = cap_ah * soh  # present capacity [Ah] and self-discharge per sub-step (fade moves them)
    sd_ah = ksd * cap * dt
    loss_p = math.nan  # last PCS-loss argument and value (the lag settles on one power)
    loss_v = 0.0
    exp_x0 = math.inf  # calendar-rate memo
    exp_e0 = 0.0
    for _ in range(n_sub):
        soc0 = soc
        temp0 = temp
        # --- PCS state machine, setpoint (lag, ramp, P/Q circle) and loss
        st0 = st
        st, timer, idle, p_st, dt_run = _pcs_start(st, timer, idle, p_st, active, dt, t_start)
        # the share of the sub-step the PCS ran (dt/dt is 1 exactly: no division on the
        # running path, whose sub-steps form one chain of dependent divisions)
        frac = 1.0 if dt_run == dt else dt_run / dt
        p_run = 0.0
        q_run = 0.0
        p_dc_run = 0.0
        if dt_run > 0.0:
            q_run = q_c
            lag = a_lag if dt_run == dt else _step_response(dt_run, tau)
            p_run = _pcs_power(p_st, p_t, lag, ramp, dt_run, p_cap)
            if p_run != loss_p:
                loss_v, k_lch, k_ldis = _pcs_loss_at(tx, ty, tn, i, p_run, q_run, k_lch, k_ldis)
                loss_p = p_run
            p_dc_run = p_run - loss_v
        # --- battery at the sub-step's mean DC power: current, clamps, SOC, RC
        p_dc_kw = frac * p_dc_run
        hyst = hyst_v if p_dc_kw > 0.0 else (-hyst_v if p_dc_kw < 0.0 else 0.0)
        cur, beyond, e, ocv, r0, r1, reff, soc_g1, g1, k_ocv, k_rsoc, k_rtemp = (
            _battery_current(
                tx, ty, tn, i, 1000.0 * p_dc_kw, hyst, soc, v1, temp, rg, cap, sd_ah, g0,
                ns, r0_nom, r1_nom, beta, one_minus_beta, eta, dt, k_ocv, k_rsoc, k_rtemp,
            )
        )  # fmt: skip
        cur, clamped = _clamp_current(
            cur, e, reff, soc, cap, sd_ah, i_ch, i_dis, vmax, vmin, soc_min, soc_max, eta_dt, dt
        )
        limited = beyond or clamped
        soc_new = _soc_after(soc, cur, eta, dt, sd_ah, cap)
        v_term = _terminal_voltage(e, reff, cur)
        p_dc = _dc_power_kw(v_term, cur)
        if soc_new == soc_g1:  # unclamped at rest, or the step too small to move it
            g_new = g1
        else:
            g_new, k_ocv = _ocv_integral_at(tx, ty, tn, i, soc_new, k_ocv)
        de = ns * cap * (g_new - g0) / 1000.0
        loss_bat = p_dc * dt / 3600.0 - de
        soc = soc_new
        g0 = g_new
        v1 = _rc_voltage(v1, keep_rc, a_rc, r1, cur)
        l_ohm += r0 * cur * cur * dt / 3.6e6
        if cur > 0.0:
            l_coul += (1.0 - eta) * cur * ocv * dt / 3.6e6
        l_self += sd_ah * ocv / 1000.0
        l_bat += loss_bat
        e_dc += p_dc * dt / 3600.0
        ah += cur * dt / 3600.0
        v_dc = v_term
        # --- back to the achieved AC power
        if dt_run > 0.0:
            if limited:
                p_dc_run = p_dc if frac == 1.0 else p_dc / frac
                if q_run == 0.0:
                    p_run, k_ach, k_adis = _ac_for_dc_at(tx, ty, tn, i, p_dc_run, k_ach, k_adis)
                else:
                    p_run = ac_for_dc_kw(tx, ty, tn, i, p_dc_run, q_run)
            p_st = p_run  # the lag follows what was achieved (no wind-up)
        p_idle = p_sb if st0 != OFF else 0.0
        p_ac = frac * p_run + (1.0 - frac) * p_idle
        e_ac = p_ac * dt / 3600.0
        if e_ac >= 0.0:
            e_in += e_ac
        else:
            e_out -= e_ac
        e_q += frac * q_run * dt / 3600.0
        l_pcs += e_ac - p_dc * dt / 3600.0
        st, idle, p_st = _pcs_idle(st, idle, p_st, active, dt_run, t_idle)
        # --- heat of the battery's losses, HVAC, auxiliaries
        temp, p_hvac_w = _cabin_temperature(
            temp, loss_bat * 3600.0 / dt, dt_c, den, den_kp, ua_amb, cool_src, heat_src,
            kp, t_cool, t_heat, q_cool, q_heat, cop_c, cop_h,
        )  # fmt: skip
        p_aux = p_bms + p_hvac_w / 1000.0
        e_hvac += p_hvac_w / 1000.0 * dt / 3600.0
        e_aux += p_aux * dt / 3600.0
        # --- aging stressors of the sub-step (at its start), rainflow on SOC
        tk = temp0 + 273.15
        kcal, exp_x0, exp_e0 = _calendar_rate(
            a1, a2, a3, tk, _lookup_uniform(ua, i, soc0), exp_x0, exp_e0
        )
        wkcal += kcal * dt
        wtk += tk * dt
        wt += dt
        dsoc = abs(soc - soc0)
        wthr += dsoc
        efc += 0.5 * dsoc
        rfdir, rfext, wefc, wdod = _rainflow_track(rf, rfn, i, soc, gate, rfdir, rfext, wefc, wdod)
        if wt >= win:  # end of the aging window: apply the fade
            soh, rg, lost = _apply_fade(
                pv, tx, ty, tn, xs, i, soc, soh, wt, wkcal, wtk, wthr, wefc, wdod
            )
            e_fade += lost
            cap = cap_ah * soh
            sd_ah = ksd * cap * dt
            wt = 0.0
            wkcal = 0.0
            wtk = 0.0
            wthr = 0.0
            wefc = 0.0
            wdod = 0.0
    # --- write back
    xs[X_SOC, i] = soc
    xs[X_V1, i] = v1
    xs[X_TEMP, i] = temp
    xs[X_SOH, i] = soh
    xs[X_RG, i] = rg
    xs[X_P, i] = p_st
    xs[X_TIMER, i] = timer
    xs[X_IDLE, i] = idle
    xs[X_EFC, i] = efc
    xs[X_WT, i] = wt
    xs[X_WKCAL, i] = wkcal
    xs[X_WTK, i] = wtk
    xs[X_WTHR, i] = wthr
    xs[X_WEFC, i] = wefc
    xs[X_WDOD, i] = wdod
    xs[X_RFEXT, i] = rfext
    xs[X_RFDIR, i] = rfdir
    pcs[i] = st
    acc[A_EIN, i] = e_in
    acc[A_EOUT, i] = e_out
    acc[A_EDC, i] = e_dc
    acc[A_Q, i] = e_q
    acc[A_EAUX, i] = e_aux
    acc[A_LPCS, i] = l_pcs
    acc[A_LBAT, i] = l_bat
    acc[A_LOHM, i] = l_ohm
    acc[A_LCOUL, i] = l_coul
    acc[A_LSELF, i] = l_self
    acc[A_EHVAC, i] = e_hvac
    acc[A_EFADE, i] = e_fade
    acc[A_AH, i] = ah
    acc[A_VDC, i] = v_dc


@jit(allocates=False)
def step_units(p_set, q_set, ambient_c, dt_s, n_sub, pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc):
    """Advance every unit by `n_sub` sub-steps of `dt_s` [s] at constant setpoints.

    p_set, q_set [kW, kvar] and ambient_c [C] are (N,) arrays; the state arrays are updated in
    place; acc[A_*, i] receives the energies of the whole call (zeroed first).
    """
    tau = math.nan
    tau1 = math.nan
    a_lag = 0.0
    a_rc = 0.0
    for i in range(p_set.shape[0]):
        # the PCS lag's and the RC branch's step responses, shared by units of one type
        if pv[P_TAU, i] != tau:
            tau = pv[P_TAU, i]
            a_lag = _step_response(dt_s, tau)
        if pv[P_TAU1, i] != tau1:
            tau1 = pv[P_TAU1, i]
            a_rc = _step_response(dt_s, tau1)
        _advance_unit(
            p_set[i], q_set[i], ambient_c[i], dt_s, n_sub,
            pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc, i, a_lag, a_rc,
        )  # fmt: skip


@jit(allocates=False)
def power_limits(pv, tx, ty, tn, xs, pcs, out_charge, out_discharge) -> None:
    """AC power [kW] each unit could charge / discharge now (both >= 0; 0 when OFF or FAULT).

    Battery side: C-rate and cell-voltage limits at the present OCV, RC voltage and resistance
    (a 1-s horizon), zero at the SOC window's edge; PCS side: the rating with Q = 0.
    """
    dt = 1.0
    for i in range(pv.shape[1]):
        out_charge[i] = 0.0
        out_discharge[i] = 0.0
        if pcs[i] == OFF or pcs[i] == FAULT:
            continue
        soc = xs[X_SOC, i]
        tau1 = pv[P_TAU1, i]
        beta = _rc_mean_factor(tau1, _step_response(dt, tau1), dt)
        reff = _resistances(
            tx, ty, tn, i, soc, xs[X_TEMP, i], xs[X_RG, i], pv[P_R0, i], pv[P_R1, i],
            1.0 - beta, 1, 1,
        )[2]  # fmt: skip
        ocv = pv[P_NS, i] * lookup(tx, ty, tn, T_OCV, i, soc)
        s = pv[P_S, i]
        if soc < pv[P_SOC_MAX, i]:
            e = _source_voltage(ocv, beta, xs[X_V1, i], pv[P_HYST, i])
            i_hi = max(_charge_current_max(pv[P_ICH, i], pv[P_VMAX, i], e, reff), 0.0)
            p_dc = _dc_power_kw(_terminal_voltage(e, reff, i_hi), i_hi)
            out_charge[i] = min(max(ac_for_dc_kw(tx, ty, tn, i, p_dc, 0.0), 0.0), s)
        if soc > pv[P_SOC_MIN, i]:
            e = _source_voltage(ocv, beta, xs[X_V1, i], -pv[P_HYST, i])
            i_lo = _discharge_current_min(pv[P_IDIS, i], pv[P_VMIN, i], e, reff)
            i_lo = min(max(i_lo, _current_at_max_power(e, reff)), 0.0)
            p_dc = _dc_power_kw(_terminal_voltage(e, reff, i_lo), i_lo)
            out_discharge[i] = min(max(-ac_for_dc_kw(tx, ty, tn, i, p_dc, 0.0), 0.0), s)


@jit(allocates=False)
def stored_energy_all(pv, tx, ty, tn, xs, out) -> None:
    """Chemical energy stored above SOC 0 of every unit [kWh]."""
    for i in range(pv.shape[1]):
        out[i] = stored_energy_kwh(pv, tx, ty, tn, i, xs[X_SOC, i], xs[X_SOH, i])


# Rows of the result array written by `result_rows` (devices.fleet.StepResult's fields).
R_FIELDS = (
    "p_ac_kw", "q_ac_kvar", "p_dc_kw", "p_aux_kw", "e_ac_in_kwh", "e_ac_out_kwh", "e_aux_kwh",
    "loss_pcs_kwh", "loss_battery_kwh", "soc", "temp_c", "soh", "e_dc_kwh", "loss_ohmic_kwh",
    "loss_coulombic_kwh", "loss_self_discharge_kwh", "e_hvac_kwh", "e_fade_kwh", "i_dc_a",
    "v_dc_v",
)  # fmt: skip


@jit(allocates=False)
def result_rows(acc, xs, duration_s: float, out) -> None:
    """Means and energies of one call, one row per `R_FIELDS` entry (out is [20, N])."""
    per_h = 3600.0 / duration_s
    for i in range(acc.shape[1]):
        out[0, i] = (acc[A_EIN, i] - acc[A_EOUT, i]) * per_h
        out[1, i] = acc[A_Q, i] * per_h
        out[2, i] = acc[A_EDC, i] * per_h
        out[3, i] = acc[A_EAUX, i] * per_h
        out[4, i] = acc[A_EIN, i]
        out[5, i] = acc[A_EOUT, i]
        out[6, i] = acc[A_EAUX, i]
        out[7, i] = acc[A_LPCS, i]
        out[8, i] = acc[A_LBAT, i]
        out[9, i] = xs[X_SOC, i]
        out[10, i] = xs[X_TEMP, i]
        out[11, i] = xs[X_SOH, i]
        out[12, i] = acc[A_EDC, i]
        out[13, i] = acc[A_LOHM, i]
        out[14, i] = acc[A_LCOUL, i]
        out[15, i] = acc[A_LSELF, i]
        out[16, i] = acc[A_EHVAC, i]
        out[17, i] = acc[A_EFADE, i]
        out[18, i] = acc[A_AH, i] * per_h
        out[19, i] = acc[A_VDC, i]


@jit(inline="always")
def _all_finite(values) -> bool:
    for i in range(values.shape[0]):
        if not math.isfinite(values[i]):
            return False
    return True


@jit(allocates=False)
def step_fleet(
    p_set, q_set, ambient_c, dt_s, n_sub, pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc, out
) -> int:
    """`step_units`, then `result_rows` into `out`, in one call (what `Fleet.step` runs).

    The inputs are checked first: returns 0, or the first that holds a value that is not
    finite (1 p_set, 2 q_set, 3 ambient_c) without advancing anything.
    """
    if not _all_finite(p_set):
        return 1
    if not _all_finite(q_set):
        return 2
    if not _all_finite(ambient_c):
        return 3
    step_units(p_set, q_set, ambient_c, dt_s, n_sub, pv, tx, ty, tn, ua, xs, pcs, rf, rfn, acc)
    result_rows(acc, xs, dt_s * n_sub, out)
    return 0
