"""Fit a unit type to measured series: PCS loss, battery (capacity, R0, RC, hysteresis,
self-discharge), cabin auxiliaries; then the quality of the fit and a hold-out check.

Method: `scipy.optimize.least_squares` (trust-region reflective, bounds) over residuals
computed by replaying the measured power through the twin's own kernel (`replay`). Each
stage fits only the parameters its channels can see, in the order PCS -> battery -> cabin,
each with the previous stages' values. Parameters are scaled by their starting value so the
Jacobian's columns are comparable; its columns at the start tell which parameters the data
cannot move (kept at their shipped value) and at the solution give the covariance
``s^2 (J^T J)^-1`` (s^2 the residual variance), the 95 % intervals and the correlations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from devices.params import UnitParams
from parktwin.errors import InputError, SolverError
from twin.calibrate.measured import Measured
from twin.calibrate.replay import Replayed, Replayer
from twin.calibrate.settings import ParamSpec, settings

Z95 = 1.959963984540054  # two-sided 95 % quantile of the normal distribution
_PCS_VIRTUAL = ("loss_scale_charge", "loss_scale_discharge")


@dataclass(frozen=True)
class FittedParam:
    """One parameter after the fit; values in the unit-type file's units."""

    name: str
    section: str
    stage: str
    start: float  # the base unit type's value
    value: float
    ci95: float  # half-width of the 95 % interval (nan: not fitted)
    status: str  # "fitted", "flat" (kept at start), "poor", "correlated"
    note: str = ""

    @property
    def fitted(self) -> bool:
        return self.status != "flat"


@dataclass(frozen=True)
class ChannelQuality:
    """RMSE of one channel, base unit type vs fitted, on the fit rows and the hold-out rows."""

    channel: str
    unit: str
    rmse_before: float
    rmse_after: float
    rmse_before_holdout: float
    rmse_after_holdout: float


@dataclass(frozen=True)
class CycleError:
    """Stored-energy error at the end of one cycle (twin minus measured) [kWh], base vs fitted,
    the twin started at the cycle's measured state (see `_cycle_errors`)."""

    cycle: int
    holdout: bool
    e_discharged_kwh: float  # measured AC (or DC) energy out in the cycle
    error_before_kwh: float
    error_after_kwh: float


@dataclass(frozen=True)
class Calibration:
    """The result of `calibrate`."""

    base: UnitParams
    fitted: UnitParams
    data: Measured
    params: tuple[FittedParam, ...]
    channels: tuple[ChannelQuality, ...]
    cycles: tuple[CycleError, ...]
    warnings: tuple[str, ...]
    n_fit_rows: int
    n_holdout_rows: int
    holdout_fraction: float
    fit_s: float
    before: Replayed
    after: Replayed
    stages: tuple[str, ...]  # stages the data supported


# ------------------------------------------------------------------ parameters <-> unit type
def current_value(p: UnitParams, name: str, spec: ParamSpec) -> float:
    if name in _PCS_VIRTUAL:
        return 1.0
    return float(getattr(getattr(p, spec.section), name))


def apply(base: UnitParams, values: dict[str, float], shipped: UnitParams) -> UnitParams:
    """`base` with `values` set; the PCS loss is the shipped curve's load-dependent part times
    a scale per direction plus the no-load loss, written back as efficiencies."""
    data = base.model_dump()
    specs = settings().params
    for name, v in values.items():
        if name not in _PCS_VIRTUAL:
            data[specs[name].section][name] = float(v)
    if any(n in values for n in (*_PCS_VIRTUAL, "p_noload_kw")):
        pcs = data["pcs"]
        p0_new = pcs["p_noload_kw"]
        for direction, key in (("charge", "eff_charge"), ("discharge", "eff_discharge")):
            xs, ys = shipped.loss_curve(direction)
            a = values.get(f"loss_scale_{direction}", 1.0)
            eff = []
            for x, y in zip(xs[1:], ys[1:], strict=True):
                loss = p0_new + a * (y - ys[0])
                eff.append(1.0 - loss / x if direction == "charge" else x / (x + loss))
            pcs[key] = eff
    try:
        return UnitParams.model_validate(data)
    except ValueError as exc:
        msg = str(exc).splitlines()
        raise InputError(f"fitted unit type invalid: {' '.join(msg[:3])}") from exc


# ------------------------------------------------------------------ one least-squares stage
@dataclass
class _Stage:
    names: list[str]
    start: np.ndarray  # physical
    lo: np.ndarray
    hi: np.ndarray
    scale: np.ndarray


def _stage(base: UnitParams, names: list[str]) -> _Stage:
    specs = settings().params
    start, lo, hi, scale = [], [], [], []
    for n in names:
        s = specs[n]
        v = current_value(base, n, s)
        a, b = (s.bounds[0] * v, s.bounds[1] * v) if s.relative else s.bounds
        v = min(max(v, a), b)
        start.append(v)
        lo.append(a)
        hi.append(b)
        scale.append(max(abs(v), (b - a) / 100.0))
    return _Stage(names, *(np.array(x, dtype=float) for x in (start, lo, hi, scale)))


def _jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, lo, hi) -> np.ndarray:
    """Forward differences in the scaled variables (backward at an upper bound)."""
    f0 = fun(x)
    jac = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 1e-4 * max(1.0, abs(x[j]))
        if x[j] + h > hi[j]:
            h = -h
        xj = x.copy()
        xj[j] += h
        jac[:, j] = (fun(xj) - f0) / h
    return jac


def _solve(
    st: _Stage, residual: Callable[[dict[str, float]], np.ndarray], label: str
) -> tuple[dict[str, float], list[FittedParam], list[str]]:
    """Least squares over the stage's parameters; flat ones stay at their start."""
    cfg = settings()
    specs = cfg.params
    notes: list[str] = []

    def fun_of(names, sc):
        def fun(x):
            return residual(dict(zip(names, x * sc, strict=True)))

        return fun

    x0 = st.start / st.scale
    lo_x, hi_x = st.lo / st.scale, st.hi / st.scale
    full = fun_of(st.names, st.scale)
    r0 = full(x0)
    if r0.size == 0:
        return {}, [], [f"{label}: no rows to fit"]
    j0 = _jacobian(full, x0, lo_x, hi_x)
    norms = np.linalg.norm(j0, axis=0)
    live = norms > cfg.flat_tolerance * max(norms.max(), 1e-300)
    out: list[FittedParam] = []
    for n, ok, v in zip(st.names, live, st.start, strict=True):
        if not ok:
            out.append(FittedParam(n, specs[n].section, specs[n].stage, v, v, math.nan, "flat",
                                   "the data do not move it: kept"))  # fmt: skip
            notes.append(f"{n}: not identifiable from these data (flat); kept at {v:.6g}")
    idx = np.flatnonzero(live)
    if idx.size == 0:
        return {}, out, notes
    names = [st.names[i] for i in idx]
    fixed = {st.names[i]: st.start[i] for i in np.flatnonzero(~live)}

    def fun(x):
        return residual({**fixed, **dict(zip(names, x * st.scale[idx], strict=True))})

    if r0.size <= idx.size:
        raise InputError(f"{label}: {r0.size} residuals for {idx.size} parameters; need more data")
    try:
        res = least_squares(
            fun, x0[idx], bounds=(lo_x[idx], hi_x[idx]), method="trf", diff_step=1e-6,
            x_scale=1.0, max_nfev=200,
        )  # fmt: skip
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise SolverError(f"{label}: least squares failed: {exc}") from exc
    if res.status <= 0:
        notes.append(f"{label}: least squares stopped early ({res.message})")
    x = res.x
    jac = res.jac
    m, n = jac.shape
    s2 = float(res.fun @ res.fun) / max(m - n, 1)
    cov = np.linalg.pinv(jac.T @ jac) * s2
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    sv = np.linalg.svd(jac, compute_uv=False)
    flat_dir = sv.size > 1 and sv[-1] < 1e-6 * sv[0]
    values = {**fixed}
    for j, name in enumerate(names):
        value = float(x[j] * st.scale[idx[j]])
        ci = float(Z95 * sd[j] * st.scale[idx[j]])
        values[name] = value
        status, note = "fitted", ""
        others = [
            (abs(corr[j, q]), names[q])
            for q in range(n)
            if q != j and np.isfinite(corr[j, q]) and abs(corr[j, q]) > cfg.correlation_max
        ]
        if others:
            c, other = max(others)
            status, note = "correlated", f"|correlation| {c:.3f} with {other}"
        elif value != 0 and ci > cfg.rel_ci_max * abs(value):
            status, note = "poor", f"95 % interval +-{100 * ci / abs(value):.0f} % of the value"
        if status != "fitted":
            notes.append(f"{name}: poorly identified ({note})")
        out.append(FittedParam(name, specs[name].section, specs[name].stage,
                               float(st.start[idx[j]]), value, ci, status, note))  # fmt: skip
    if flat_dir:
        notes.append(
            f"{label}: the data leave a flat direction among {', '.join(names)} "
            f"(singular values {sv[-1]:.2g} / {sv[0]:.2g})"
        )
    order = {n: i for i, n in enumerate(st.names)}
    out.sort(key=lambda p: order[p.name])
    return values, out, notes


# ------------------------------------------------------------------ the stages
def _steady_rows(m: Measured, n_fit: int, s_kva: float) -> np.ndarray:
    """Rows of the fit part where the PCS runs at a steady power (no start-up, no ramp)."""
    p = m.p_ac_kw
    ok = np.isfinite(p) & np.isfinite(m.p_dc_kw) & ~m.restart & (np.abs(p) >= 0.02 * s_kva)
    dp = np.abs(np.diff(p))
    steady = np.ones(m.n, dtype=bool)
    steady[1:] &= dp < 0.02 * s_kva
    steady[:-1] &= dp < 0.02 * s_kva
    ok &= steady
    ok[n_fit:] = False
    return np.flatnonzero(ok)


def _pcs_residual(m: Measured, rows: np.ndarray, base: UnitParams, shipped: UnitParams):
    sigma = settings().noise.pcs_loss_kw
    p_ac = m.p_ac_kw[rows]
    loss = p_ac - m.p_dc_kw[rows]
    s = np.abs(p_ac)
    charging = p_ac >= 0

    def residual(values: dict[str, float]) -> np.ndarray:
        p0 = values.get("p_noload_kw", base.pcs.p_noload_kw)
        model = np.empty_like(loss)
        for direction, mask in (("charge", charging), ("discharge", ~charging)):
            xs, ys = shipped.loss_curve(direction)
            a = values.get(f"loss_scale_{direction}", 1.0)
            knots = [p0] + [p0 + a * (y - ys[0]) for y in ys[1:]]
            model[mask] = np.interp(s[mask], xs, knots)  # held beyond the ends, as the kernel
        return (model - loss) / sigma

    return residual


def longest_rest_s(m: Measured, n_rows: int) -> float:
    """Longest stretch [s] of the first `n_rows` rows with the power within the rest deadband."""
    p = m.p_dc_kw if m.p_dc_kw is not None else m.p_ac_kw
    rest = np.abs(p[:n_rows]) < settings().rest_deadband_kw
    best = 0.0
    t_start = None
    for j in range(n_rows):
        if rest[j] and not m.restart[j]:
            if t_start is None:
                t_start = m.t_s[j - 1]
            best = max(best, m.t_s[j] - t_start)
        else:
            t_start = None
    return float(best)


def _masked(sim: np.ndarray, meas: np.ndarray | None, rows: slice | np.ndarray, sigma: float):
    if meas is None:
        return np.empty(0)
    d = sim[rows] - meas[rows]
    d = d[np.isfinite(d)]
    return d / sigma


def calibrate(
    m: Measured,
    base: UnitParams,
    holdout_fraction: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit `base` to `m`; the last `holdout_fraction` of the time span is kept out of the fit."""
    cfg = settings()
    hf = cfg.holdout_fraction if holdout_fraction is None else holdout_fraction
    if not 0.0 <= hf < 0.9:
        raise InputError(f"--holdout: a fraction in [0, 0.9) (got {hf!r})")
    t0 = time.perf_counter()
    n_fit = int(np.searchsorted(m.t_s, (1.0 - hf) * m.t_s[-1], side="left")) if hf > 0 else m.n
    n_fit = max(min(n_fit, m.n), 1)
    if n_fit < cfg.min_rows:
        raise InputError(f"{m.source}: {n_fit} rows before the hold-out; need {cfg.min_rows}")
    say = progress or (lambda s: None)
    params: list[FittedParam] = []
    notes: list[str] = list(m.warnings)
    values: dict[str, float] = {}
    stages: list[str] = []
    current = base
    stage_names = {
        st: [n for n, s in cfg.params.items() if s.stage == st]
        for st in ("pcs", "battery", "thermal")
    }
    # --- PCS loss per direction from AC against DC power
    if m.p_ac_kw is not None and m.p_dc_kw is not None:
        rows = _steady_rows(m, n_fit, base.pcs_kva)
        if rows.size > len(stage_names["pcs"]):
            say("PCS loss")
            residual = _pcs_residual(m, rows, base, base)
            st = _stage(base, stage_names["pcs"])
            v, fp, nt = _solve(st, residual, "PCS loss")
            values.update(v)
            params += fp
            notes += nt
            current = apply(base, values, base)
            stages.append("pcs")
    else:
        notes.append("PCS loss: needs both AC and DC power; kept")
    # --- battery: capacity, R0, RC, hysteresis, self-discharge
    if m.v_dc_v is not None or m.soc is not None:
        say("battery")
        rp = Replayer(m, "dc", n_fit, force_temp=m.temp_c is not None)
        sig = cfg.noise

        def battery_residual(vals: dict[str, float]) -> np.ndarray:
            r = rp.run(apply(current, vals, base))
            rows = slice(0, n_fit)
            return np.concatenate(
                (
                    _masked(r.v_dc_v, m.v_dc_v, rows, sig.v_dc_v),
                    _masked(r.soc, m.soc, rows, sig.soc),
                )
            )

        names = stage_names["battery"]
        rest_s = longest_rest_s(m, n_fit)
        if rest_s < cfg.self_discharge_min_rest_s:
            names = [n for n in names if n != "self_discharge_per_month"]
            notes.append(
                f"self_discharge_per_month: needs a rest of {cfg.self_discharge_min_rest_s / 3600:g} h"
                f" or more (longest {rest_s / 3600:.1f} h); kept"
            )
        st = _stage(current, names)
        v, fp, nt = _solve(st, battery_residual, "battery")
        values.update(v)
        params += fp
        notes += nt
        current = apply(base, values, base)
        stages.append("battery")
    else:
        notes.append("battery: needs the DC voltage or the SOC; kept")
    # --- cabin: auxiliaries and temperature against ambient
    if (m.temp_c is not None or m.p_aux_kw is not None) and m.ambient_c is not None:
        say("cabin auxiliaries")
        rp_t = Replayer(m, "dc", n_fit, force_temp=False)
        sig = cfg.noise

        def thermal_residual(vals: dict[str, float]) -> np.ndarray:
            r = rp_t.run(apply(current, vals, base))
            rows = slice(0, n_fit)
            return np.concatenate(
                (
                    _masked(r.temp_c, m.temp_c, rows, sig.temp_c),
                    _masked(r.p_aux_kw, m.p_aux_kw, rows, sig.p_aux_kw),
                )
            )

        st = _stage(current, stage_names["thermal"])
        v, fp, nt = _solve(st, thermal_residual, "cabin")
        values.update(v)
        params += fp
        notes += nt
        current = apply(base, values, base)
        stages.append("thermal")
    else:
        notes.append(
            "cabin auxiliaries: need the ambient and the cabin temperature or aux power; kept"
        )
    fitted = current
    fit_s = time.perf_counter() - t0
    say("quality")
    full = Replayer(m, "ac", None, force_temp=False, fit=False)
    before = full.run(base)
    after = full.run(fitted)
    channels = _quality(m, before, after, n_fit)
    cycles = _cycle_errors(m, n_fit, base, fitted)
    return Calibration(
        base=base,
        fitted=fitted,
        data=m,
        params=tuple(params),
        channels=channels,
        cycles=cycles,
        warnings=tuple(notes),
        n_fit_rows=n_fit,
        n_holdout_rows=m.n - n_fit,
        holdout_fraction=hf,
        fit_s=fit_s,
        before=before,
        after=after,
        stages=tuple(stages),
    )


# ------------------------------------------------------------------ quality
_CHANNEL_UNITS = (
    ("v_dc_v", "V"),
    ("soc", "1"),
    ("temp_c", "C"),
    ("p_aux_kw", "kW"),
    ("p_dc_kw", "kW"),
)


def _rmse(sim: np.ndarray, meas: np.ndarray, rows: slice) -> float:
    d = sim[rows] - meas[rows]
    d = d[np.isfinite(d)]
    return float(np.sqrt(np.mean(d * d))) if d.size else math.nan


def _quality(m: Measured, before: Replayed, after: Replayed, n_fit: int):
    out = []
    fit, hold = slice(0, n_fit), slice(n_fit, m.n)
    for ch, unit in _CHANNEL_UNITS:
        meas = getattr(m, ch)
        if meas is None:
            continue
        b, a = getattr(before, ch), getattr(after, ch)
        out.append(
            ChannelQuality(ch, unit, _rmse(b, meas, fit), _rmse(a, meas, fit),
                           _rmse(b, meas, hold), _rmse(a, meas, hold))
        )  # fmt: skip
    return tuple(out)


def cycle_ids(m: Measured) -> np.ndarray:
    """Cycle number per row: the data's own, or a new cycle where a charge follows a discharge
    (rests and powers within the rest deadband do not end a cycle)."""
    if m.cycle is not None:
        return np.asarray(m.cycle, dtype=np.int64)
    p = m.p_dc_kw if m.p_dc_kw is not None else m.p_ac_kw
    db = settings().rest_deadband_kw
    sign = np.where(p > db, 1, np.where(p < -db, -1, 0))
    last = 0
    ids = np.empty(m.n, dtype=np.int64)
    c = 1
    for j, s in enumerate(sign):
        if s != 0:
            if last < 0 < s:
                c += 1
            last = s
        ids[j] = c
    return ids


def _cycle_errors(m, n_fit, base, fitted) -> tuple[CycleError, ...]:
    """Per cycle, the twin started at the cycle's measured state and driven by its measured
    AC power: its stored energy at the cycle's end minus what the measured SOC says [kWh]
    (SOC error x the unit's nameplate energy); the cycle's discharged energy for scale."""
    if m.soc is None:
        return ()
    ids = cycle_ids(m)
    starts = np.zeros(m.n, dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    per_cycle = Measured(**{**m.__dict__, "restart": m.restart | starts})
    rp = Replayer(per_cycle, "ac", None, force_temp=False, fit=False)
    before, after = rp.run(base), rp.run(fitted)
    dt_h = np.diff(m.t_s, prepend=m.t_s[0]) / 3600.0
    p = m.p_ac_kw if m.p_ac_kw is not None else m.p_dc_kw
    min_kwh = settings().cycle_min_discharge * base.e_nom_kwh
    out = []
    for c in np.unique(ids):
        rows = np.flatnonzero(ids == c)
        j = rows[-1]
        e_out = float(-np.sum(np.minimum(p[rows], 0.0) * dt_h[rows]))
        if e_out < min_kwh or not np.isfinite(m.soc[j]) or per_cycle.restart[j]:
            continue
        eb = float((before.soc[j] - m.soc[j]) * base.e_nom_kwh)
        ea = float((after.soc[j] - m.soc[j]) * fitted.e_nom_kwh)
        out.append(CycleError(int(c), bool(j >= n_fit), e_out, eb, ea))
    return tuple(out)
