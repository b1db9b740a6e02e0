"""numba kernels of a compressed-air storage unit: compressor, air store, thermal store, expander.

Pure functions over a structure of arrays, laid out as the LFP kernels' (`devices.kernels`):
parameters ``pv[C_*, i]``, part-load tables ``tx/ty[TC_*, i, :]`` with ``tn`` points, float
state ``xs[Y_*, i]``, unit state codes ``pcs[i]`` (`PcsState`: the running train's state),
energies of one call ``acc[B_*, i]``. Nothing here allocates, logs or does I/O.

One sub-step of one unit:
1. state machine: a setpoint at or above a train's minimum load starts that train (start-up
   time); a setpoint of the other sign stops the running train and starts the other one; a
   train left at zero goes to standby;
2. power: the ramp limit, the minimum load (a train runs at zero or between its minimum and
   its rating), the expander's swallowing capacity at low store pressure;
3. compressor: motor -> intercooled polytropic stages at the store pressure -> air mass in;
   the stages' heat into the thermal store (exact exponential approach of the lumped store);
4. expander: air mass out, throttled to the inlet pressure, reheated stages (from the thermal
   store, or from ambient-air exchangers to the store temperature), generator;
5. leakage of the usable air, heat loss of the thermal store, auxiliaries.

Energy bookkeeping (exergy relative to the store temperature ``T0`` and ambient pressure):
the air store holds ``E(m) = R T0 (m ln(p/p0) - m) + p0 V`` (its derivative in m is the flow
exergy R T0 ln(p/p0) of one kg at the store pressure) and the thermal store
``X(T) = C ((T - T0) - T0 ln(T/T0))``. The motor/generator loss is explicit; the compression
and expansion losses are the shaft work that did not become stored exergy (irreversibility,
heat rejected by the intercoolers, the exhaust, throttling); the leakage and thermal-store
losses are the exergy they take. So, exactly: AC in - AC out = d(E + X) + every loss.

Signs: positive power = charging (the compressor draws from the AC bus).
Units: kW, kWh, kg, Pa, K, J/kg, s. `devices.caes_reference` is the plain-Python twin.
"""

from __future__ import annotations

import math

from devices.kernels import OFF, RUNNING, STANDBY, STARTING, _all_finite, lookup
from parktwin.jit import jit
from parktwin.pcs_states import PcsState

FAULT = int(PcsState.FAULT)

# Parameter rows of pv[C_*, i].
C_V = 0  # air-store volume [m3]
C_R = 1  # gas constant of air [J/kg K]
C_CP = 2  # heat capacity of air [J/kg K]
C_T0 = 3  # store (and reference) temperature [K]
C_P0 = 4  # ambient pressure [Pa]
C_MMIN = 5  # air mass at the minimum operating pressure [kg]
C_MMAX = 6  # air mass at the maximum pressure [kg]
C_KLEAK = 7  # leakage of the usable air [1/s]
C_NC = 8  # compressor stages
C_ETAM = 9  # motor (+ drive) efficiency
C_PC = 10  # compressor train rating [kW electric]
C_CMIN = 11  # compressor minimum load [kW]
C_RAMPC = 12  # [kW/s]
C_TSC = 13  # compressor start-up time [s]
C_NE = 14  # expander stages
C_ETAG = 15  # generator efficiency
C_PE = 16  # expander train rating [kW electric]
C_EMIN = 17  # expander minimum load [kW]
C_RAMPE = 18  # [kW/s]
C_TSE = 19  # expander start-up time [s]
C_PIN = 20  # expander inlet pressure (throttle) [Pa]
C_MDOTE = 21  # expander swallowing capacity at the inlet pressure [kg/s]
C_EPS = 22  # share of the stage heat put into the thermal store
C_CTES = 23  # thermal-store heat capacity [J/K] (0: none)
C_KTES = 24  # thermal-store loss rate [1/s]
C_APPR = 25  # reheater approach [K]
C_PSB = 26  # standby auxiliaries [kW]
C_RUNF = 27  # auxiliaries of a running train per kW of its power
C_TIDLE = 28  # time at zero setpoint before standby [s]
NC = 29

# Part-load tables tx/ty[TC_*, i, :] (load fraction -> polytropic efficiency).
TC_COMP = 0
TC_EXP = 1
NTC = 2

# Float state rows of xs[Y_*, i].
Y_M = 0  # air mass in the store [kg]
Y_TTES = 1  # thermal-store temperature [K]
Y_P = 2  # achieved AC power [kW] (ramp memory)
Y_TIMER = 3  # start-up timer [s]
Y_IDLE = 4  # time at zero setpoint while running [s]
Y_MODE = 5  # +1 compressor train, -1 expander train, 0 none chosen
Y_EFC = 6  # equivalent full cycles (SOC throughput / 2)
NY = 7

# Accumulators acc[B_*, i] over one call [kWh].
B_EIN = 0
B_EOUT = 1
B_ESH = 2  # signed shaft energy (+ into the compressor)
B_EAUX = 3
B_LMACH = 4  # motor and generator
B_LCOMP = 5
B_LEXP = 6
B_LLEAK = 7
B_LTES = 8
NB = 9

J_PER_KWH = 3.6e6


# ------------------------------------------------------------------------ thermodynamics


@jit(inline="always")
def store_pressure_pa(m: float, v: float, r: float, t0: float) -> float:
    """Ideal gas in an isothermal store: p = m R T0 / V [Pa]."""
    return m * r * t0 / v


@jit(inline="always")
def air_exergy_kwh(m: float, v: float, r: float, t0: float, p0: float) -> float:
    """Exergy of the store's air relative to the store at ambient pressure [kWh]:
    R T0 (m ln(p/p0) - m) + p0 V (zero at p = p0; d/dm = R T0 ln(p/p0))."""
    p = store_pressure_pa(m, v, r, t0)
    return (r * t0 * (m * math.log(p / p0) - m) + p0 * v) / J_PER_KWH


@jit(inline="always")
def heat_exergy_kwh(c_j_per_k: float, t_k: float, t0: float) -> float:
    """Exergy of a lumped heat store of capacity C at T relative to T0 [kWh]:
    C ((T - T0) - T0 ln(T / T0))."""
    if c_j_per_k == 0.0:
        return 0.0
    return c_j_per_k * ((t_k - t0) - t0 * math.log(t_k / t0)) / J_PER_KWH


@jit(inline="always")
def stage_outlet_k(p_out, p_in, t_in_k, stages, eta_poly, r, cp) -> float:
    """Outlet temperature [K] of each of `stages` intercooled polytropic compression stages
    of equal pressure ratio, inlet at t_in_k: T_in (p_out/p_in)^(R / (cp eta stages))."""
    return t_in_k * math.exp(r / (cp * eta_poly) * math.log(p_out / p_in) / stages)


@jit(inline="always")
def compressor_work_j_per_kg(p_out, p_in, t_in_k, stages, eta_poly, r, cp) -> float:
    """Work [J/kg] of the intercooled stages: each heats the air from T_in to its outlet."""
    return stages * cp * (stage_outlet_k(p_out, p_in, t_in_k, stages, eta_poly, r, cp) - t_in_k)


@jit(inline="always")
def expander_outlet_k(p_in, p_out, t_in_k, stages, eta_poly, r, cp) -> float:
    """Outlet temperature [K] of each of `stages` reheated polytropic expansion stages of equal
    pressure ratio, inlet at t_in_k: T_in (p_in/p_out)^(-eta R / (cp stages))."""
    return t_in_k * math.exp(-eta_poly * r / cp * math.log(p_in / p_out) / stages)


@jit(inline="always")
def expander_work_j_per_kg(p_in, p_out, t_in_k, stages, eta_poly, r, cp) -> float:
    """Work [J/kg] of the reheated stages: each cools the air from T_in to its outlet."""
    return stages * cp * (t_in_k - expander_outlet_k(p_in, p_out, t_in_k, stages, eta_poly, r, cp))


@jit(inline="always")
def reheat_j_per_kg(t_in_k, t_out_k, t0, stages, cp) -> float:
    """Heat [J/kg] the reheaters give: the first stage's inlet from the store temperature,
    each later one's from the previous outlet, up to T_in."""
    return cp * (t_in_k - t0) + (stages - 1) * cp * (t_in_k - t_out_k)


@jit(inline="always")
def expander_inlet_k(pv, i, t_tes_k: float) -> float:
    """Expander inlet temperature [K]: the thermal store's less the approach, never below
    the store temperature (ambient-air reheaters); the store temperature without one."""
    t0 = pv[C_T0, i]
    if pv[C_CTES, i] == 0.0:
        return t0
    return max(t_tes_k - pv[C_APPR, i], t0)


@jit(inline="always")
def discharge_available_kw(pv, tx, ty, tn, i, m: float, t_tes_k: float) -> float:
    """What the expander train can give now [kW]: its rating, or less when the store pressure
    is below the inlet pressure (the swallowing capacity falls with it); 0 below minimum load
    or at the minimum pressure."""
    if m <= pv[C_MMIN, i]:
        return 0.0
    r = pv[C_R, i]
    t0 = pv[C_T0, i]
    p_s = store_pressure_pa(m, pv[C_V, i], r, t0)
    p_in = min(p_s, pv[C_PIN, i])
    eta = lookup(tx, ty, tn, TC_EXP, i, 1.0)
    w = expander_work_j_per_kg(
        p_in, pv[C_P0, i], expander_inlet_k(pv, i, t_tes_k), pv[C_NE, i], eta, r, pv[C_CP, i]
    )
    p = min(pv[C_PE, i], pv[C_ETAG, i] * pv[C_MDOTE, i] * (p_in / pv[C_PIN, i]) * w / 1000.0)
    return p if p >= pv[C_EMIN, i] else 0.0


@jit(inline="always")
def soc_of(pv, i, m: float) -> float:
    """Usable air mass fraction above the minimum operating pressure [0..1]."""
    return (m - pv[C_MMIN, i]) / (pv[C_MMAX, i] - pv[C_MMIN, i])


@jit(inline="always")
def stored_exergy_kwh(pv, i, m: float, t_tes_k: float) -> float:
    """Exergy above the minimum pressure's air plus the thermal store's [kWh]."""
    v = pv[C_V, i]
    r = pv[C_R, i]
    t0 = pv[C_T0, i]
    p0 = pv[C_P0, i]
    return (
        air_exergy_kwh(m, v, r, t0, p0)
        - air_exergy_kwh(pv[C_MMIN, i], v, r, t0, p0)
        + heat_exergy_kwh(pv[C_CTES, i], t_tes_k, t0)
    )


# -------------------------------------------------------------------- trains' control


@jit(inline="always")
def _wanted_train(pv, i, p_req: float) -> int:
    """+1 compressor, -1 expander, 0 none: a setpoint below a train's minimum load asks for
    nothing."""
    if p_req > 0.0 and p_req >= pv[C_CMIN, i]:
        return 1
    if p_req < 0.0 and -p_req >= pv[C_EMIN, i]:
        return -1
    return 0


@jit(inline="always")
def _train_start(st, mode: float, timer: float, idle: float, p_st: float, want: int, dt, tsc, tse):
    """State machine at the start of a sub-step: a wanted train that is not the running one
    starts (the other stops); start-up takes its time. Returns
    (state, mode, timer, idle, p_state, seconds running)."""
    if want != 0 and (st == STANDBY or ((st == RUNNING or st == STARTING) and want != mode)):
        st = STARTING
        mode = float(want)
        timer = 0.0
        p_st = 0.0
    dt_run = 0.0
    if st == STARTING:
        left = (tsc if mode > 0.0 else tse) - timer
        if left > dt:
            timer += dt
        else:
            dt_run = dt - max(left, 0.0)
            st = RUNNING
            idle = 0.0
            p_st = 0.0
    elif st == RUNNING:
        dt_run = dt
    return st, mode, timer, idle, p_st, dt_run


@jit(inline="always")
def _train_power(p0: float, p_t: float, ramp: float, dt_run: float, p_min: float) -> float:
    """Power [kW] after the ramp limit towards p_t, kept out of (0, minimum load): ramping up
    it jumps to the minimum load, ramping down it stops there."""
    r = ramp * dt_run
    p = min(max(p_t, p0 - r), p0 + r)
    if 0.0 < abs(p) < p_min:
        p = math.copysign(p_min, p) if abs(p_t) >= p_min else 0.0
    return p


@jit(inline="always")
def _train_idle(st, mode: float, idle: float, want: int, p_run: float, dt_run: float, t_idle):
    """A running train without a setpoint for `t_idle` [s] stops: (state, mode, idle)."""
    if st == RUNNING:
        if want != 0:
            idle = 0.0
        elif p_run == 0.0:
            idle += dt_run
            if idle >= t_idle:
                st = STANDBY
                mode = 0.0
    return st, mode, idle


# --------------------------------------------------------------------------- physics


@jit(inline="always")
def _compress(pv, tx, ty, tn, i, p_el: float, dt_run: float, m: float, t_tes: float):
    """Compressor at electric power p_el [kW] for dt_run [s]: returns (achieved share of the
    time, new mass, new thermal-store temperature, shaft work [kWh], compression loss
    [kWh])."""
    v = pv[C_V, i]
    r = pv[C_R, i]
    cp = pv[C_CP, i]
    t0 = pv[C_T0, i]
    p0 = pv[C_P0, i]
    c_tes = pv[C_CTES, i]
    nc = pv[C_NC, i]
    eta = lookup(tx, ty, tn, TC_COMP, i, p_el / pv[C_PC, i])
    p_s = store_pressure_pa(m, v, r, t0)
    w = compressor_work_j_per_kg(p_s, p0, t0, nc, eta, r, cp)
    dm = pv[C_ETAM, i] * p_el * 1000.0 * dt_run / w
    room = pv[C_MMAX, i] - m
    g = 1.0
    if dm > room:
        g = max(room, 0.0) / dm
        dm = max(room, 0.0)
    w_sh = pv[C_ETAM, i] * p_el * g * dt_run / 3600.0
    e0 = air_exergy_kwh(m, v, r, t0, p0)
    m1 = m + dm
    de = air_exergy_kwh(m1, v, r, t0, p0) - e0
    dx = 0.0
    if c_tes > 0.0 and dm > 0.0:
        t_out = stage_outlet_k(p_s, p0, t0, nc, eta, r, cp)
        if t_out > t_tes:
            x0 = heat_exergy_kwh(c_tes, t_tes, t0)
            # each stage's air approaches the store's temperature: exact for a lumped store
            t_tes = t_out - (t_out - t_tes) * math.exp(-pv[C_EPS, i] * nc * cp * dm / c_tes)
            dx = heat_exergy_kwh(c_tes, t_tes, t0) - x0
    return g, m1, t_tes, w_sh, w_sh - de - dx


@jit(inline="always")
def _expand(pv, tx, ty, tn, i, p_el: float, dt_run: float, m: float, t_tes: float):
    """Expander giving electric power p_el [kW, > 0] for dt_run [s]: returns (achieved share
    of the time, new mass, new thermal-store temperature, shaft work [kWh], expansion loss
    [kWh])."""
    v = pv[C_V, i]
    r = pv[C_R, i]
    cp = pv[C_CP, i]
    t0 = pv[C_T0, i]
    p0 = pv[C_P0, i]
    c_tes = pv[C_CTES, i]
    ne = pv[C_NE, i]
    eta = lookup(tx, ty, tn, TC_EXP, i, p_el / pv[C_PE, i])
    p_in = min(store_pressure_pa(m, v, r, t0), pv[C_PIN, i])
    t_in = expander_inlet_k(pv, i, t_tes)
    t_out = expander_outlet_k(p_in, p0, t_in, ne, eta, r, cp)
    w = expander_work_j_per_kg(p_in, p0, t_in, ne, eta, r, cp)
    dm = p_el / pv[C_ETAG, i] * 1000.0 * dt_run / w
    left = m - pv[C_MMIN, i]
    g = 1.0
    if dm > left:
        g = max(left, 0.0) / dm
        dm = max(left, 0.0)
    w_sh = p_el / pv[C_ETAG, i] * g * dt_run / 3600.0
    e0 = air_exergy_kwh(m, v, r, t0, p0)
    m1 = m - dm
    de = e0 - air_exergy_kwh(m1, v, r, t0, p0)
    dx = 0.0
    if c_tes > 0.0 and t_in > t0 and dm > 0.0:
        x0 = heat_exergy_kwh(c_tes, t_tes, t0)
        q = min(dm * reheat_j_per_kg(t_in, t_out, t0, ne, cp), c_tes * (t_tes - t0))
        t_tes = t_tes - q / c_tes
        dx = x0 - heat_exergy_kwh(c_tes, t_tes, t0)
    return g, m1, t_tes, w_sh, de + dx - w_sh


@jit(inline="always")
def _leak(pv, i, m: float, dt: float) -> tuple[float, float]:
    """Leakage of the usable air over dt [s]: (new mass, exergy lost [kWh])."""
    mmin = pv[C_MMIN, i]
    if m <= mmin or pv[C_KLEAK, i] == 0.0:
        return m, 0.0
    v = pv[C_V, i]
    r = pv[C_R, i]
    t0 = pv[C_T0, i]
    p0 = pv[C_P0, i]
    m1 = mmin + (m - mmin) * math.exp(-pv[C_KLEAK, i] * dt)
    return m1, air_exergy_kwh(m, v, r, t0, p0) - air_exergy_kwh(m1, v, r, t0, p0)


@jit(inline="always")
def _tes_loss(pv, i, t_tes: float, dt: float) -> tuple[float, float]:
    """Heat loss of the thermal store towards the store temperature over dt [s]:
    (new temperature, exergy lost [kWh])."""
    c_tes = pv[C_CTES, i]
    if c_tes == 0.0 or pv[C_KTES, i] == 0.0:
        return t_tes, 0.0
    t0 = pv[C_T0, i]
    t1 = t0 + (t_tes - t0) * math.exp(-pv[C_KTES, i] * dt)
    return t1, heat_exergy_kwh(c_tes, t_tes, t0) - heat_exergy_kwh(c_tes, t1, t0)


# ---------------------------------------------------------------------- the fused step


@jit(inline="always")
def _advance_unit(p_req, dt, n_sub, pv, tx, ty, tn, xs, pcs, acc, i) -> None:
    """`n_sub` sub-steps of unit `i` at a constant setpoint (phases in the module docstring)."""
    want = _wanted_train(pv, i, p_req)
    p_c = pv[C_PC, i]
    tsc = pv[C_TSC, i]
    tse = pv[C_TSE, i]
    t_idle = pv[C_TIDLE, i]
    m = xs[Y_M, i]
    t_tes = xs[Y_TTES, i]
    p_st = xs[Y_P, i]
    timer = xs[Y_TIMER, i]
    idle = xs[Y_IDLE, i]
    mode = xs[Y_MODE, i]
    efc = xs[Y_EFC, i]
    st = pcs[i]
    e_in = 0.0
    e_out = 0.0
    e_sh = 0.0
    e_aux = 0.0
    l_mach = 0.0
    l_comp = 0.0
    l_exp = 0.0
    l_leak = 0.0
    l_tes = 0.0
    for _ in range(n_sub):
        soc0 = soc_of(pv, i, m)
        st0 = st
        st, mode, timer, idle, p_st, dt_run = _train_start(
            st, mode, timer, idle, p_st, want, dt, tsc, tse
        )
        p_run = 0.0
        if dt_run > 0.0:
            if mode > 0.0:
                p_t = min(p_req, p_c) if want > 0 else 0.0
                p_run = _train_power(p_st, p_t, pv[C_RAMPC, i], dt_run, pv[C_CMIN, i])
                p_run = max(p_run, 0.0)
            else:
                avail = discharge_available_kw(pv, tx, ty, tn, i, m, t_tes)
                p_t = max(p_req, -avail) if want < 0 else 0.0
                p_run = _train_power(p_st, p_t, pv[C_RAMPE, i], dt_run, pv[C_EMIN, i])
                p_run = min(max(p_run, -avail), 0.0)
            if p_run > 0.0:
                g, m, t_tes, w_sh, loss = _compress(pv, tx, ty, tn, i, p_run, dt_run, m, t_tes)
                p_run *= g
                e_sh += w_sh
                l_mach += p_run * dt_run / 3600.0 - w_sh
                l_comp += loss
            elif p_run < 0.0:
                g, m, t_tes, w_sh, loss = _expand(pv, tx, ty, tn, i, -p_run, dt_run, m, t_tes)
                p_run *= g
                e_sh -= w_sh
                l_mach += w_sh + p_run * dt_run / 3600.0
                l_exp += loss
            p_st = p_run
        e_ac = p_run * dt_run / 3600.0
        if e_ac >= 0.0:
            e_in += e_ac
        else:
            e_out -= e_ac
        st, mode, idle = _train_idle(st, mode, idle, want, p_run, dt_run, t_idle)
        m, lost = _leak(pv, i, m, dt)
        l_leak += lost
        t_tes, lost = _tes_loss(pv, i, t_tes, dt)
        l_tes += lost
        p_aux = (pv[C_PSB, i] if st0 != OFF else 0.0) + pv[C_RUNF, i] * abs(e_ac) * 3600.0 / dt
        e_aux += p_aux * dt / 3600.0
        efc += 0.5 * abs(soc_of(pv, i, m) - soc0)
    xs[Y_M, i] = m
    xs[Y_TTES, i] = t_tes
    xs[Y_P, i] = p_st
    xs[Y_TIMER, i] = timer
    xs[Y_IDLE, i] = idle
    xs[Y_MODE, i] = mode
    xs[Y_EFC, i] = efc
    pcs[i] = st
    acc[B_EIN, i] = e_in
    acc[B_EOUT, i] = e_out
    acc[B_ESH, i] = e_sh
    acc[B_EAUX, i] = e_aux
    acc[B_LMACH, i] = l_mach
    acc[B_LCOMP, i] = l_comp
    acc[B_LEXP, i] = l_exp
    acc[B_LLEAK, i] = l_leak
    acc[B_LTES, i] = l_tes


@jit(allocates=False)
def step_units(p_set, dt_s, n_sub, pv, tx, ty, tn, xs, pcs, acc) -> None:
    """Advance every unit by `n_sub` sub-steps of `dt_s` [s] at constant setpoints p_set [kW]
    (+ charging); the state arrays are updated in place, acc[B_*, i] receives the energies."""
    for i in range(p_set.shape[0]):
        _advance_unit(p_set[i], dt_s, n_sub, pv, tx, ty, tn, xs, pcs, acc, i)


# Rows of the result array written by `result_rows`: `devices.kernels.R_FIELDS`, then these.
R_EXTRA = (
    "loss_compression_kwh",
    "loss_expansion_kwh",
    "loss_air_leak_kwh",
    "loss_thermal_store_kwh",
)
NR = 24


@jit(allocates=False)
def result_rows(pv, acc, xs, duration_s: float, out) -> None:
    """Means and energies of one call in the LFP result rows (`kernels.R_FIELDS`: shaft power
    in the DC rows, the motor/generator loss as the PCS loss, the store side's losses as the
    battery loss, no current or voltage), then `R_EXTRA` (out is [24, N])."""
    per_h = 3600.0 / duration_s
    for i in range(acc.shape[1]):
        store_loss = acc[B_LCOMP, i] + acc[B_LEXP, i] + acc[B_LLEAK, i] + acc[B_LTES, i]
        out[0, i] = (acc[B_EIN, i] - acc[B_EOUT, i]) * per_h
        out[1, i] = 0.0  # unity power factor
        out[2, i] = acc[B_ESH, i] * per_h
        out[3, i] = acc[B_EAUX, i] * per_h
        out[4, i] = acc[B_EIN, i]
        out[5, i] = acc[B_EOUT, i]
        out[6, i] = acc[B_EAUX, i]
        out[7, i] = acc[B_LMACH, i]
        out[8, i] = store_loss
        out[9, i] = soc_of(pv, i, xs[Y_M, i])
        out[10, i] = pv[C_T0, i] - 273.15
        out[11, i] = 1.0
        out[12, i] = acc[B_ESH, i]
        for row in range(13, 20):
            out[row, i] = 0.0
        out[20, i] = acc[B_LCOMP, i]
        out[21, i] = acc[B_LEXP, i]
        out[22, i] = acc[B_LLEAK, i]
        out[23, i] = acc[B_LTES, i]


@jit(allocates=False)
def step_fleet(p_set, q_set, ambient_c, dt_s, n_sub, pv, tx, ty, tn, xs, pcs, acc, out) -> int:
    """`step_units` then `result_rows` into `out` in one call (what `Fleet.step` runs).

    The inputs are checked first, as the LFP kernel's (`devices.kernels.step_fleet`): returns
    0, or the first that holds a value that is not finite (1 p_set, 2 q_set, 3 ambient_c)
    without advancing anything. The machines run at unity power factor and the air side at
    the store temperature, so q_set and ambient_c are only checked.
    """
    if not _all_finite(p_set):
        return 1
    if not _all_finite(q_set):
        return 2
    if not _all_finite(ambient_c):
        return 3
    step_units(p_set, dt_s, n_sub, pv, tx, ty, tn, xs, pcs, acc)
    result_rows(pv, acc, xs, dt_s * n_sub, out)
    return 0


@jit(allocates=False)
def power_limits(pv, tx, ty, tn, xs, pcs, out_charge, out_discharge) -> None:
    """AC power [kW] each unit could charge / discharge now (both >= 0; 0 when OFF or FAULT,
    at the store's pressure limits, or below a train's minimum load)."""
    for i in range(pv.shape[1]):
        out_charge[i] = 0.0
        out_discharge[i] = 0.0
        if pcs[i] == OFF or pcs[i] == FAULT:
            continue
        m = xs[Y_M, i]
        if m < pv[C_MMAX, i]:
            out_charge[i] = pv[C_PC, i]
        out_discharge[i] = discharge_available_kw(pv, tx, ty, tn, i, m, xs[Y_TTES, i])


@jit(allocates=False)
def stored_energy_all(pv, xs, out) -> None:
    """Stored exergy of every unit [kWh] (`stored_exergy_kwh`)."""
    for i in range(pv.shape[1]):
        out[i] = stored_exergy_kwh(pv, i, xs[Y_M, i], xs[Y_TTES, i])
