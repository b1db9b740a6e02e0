"""numba kernels of the general power flow: Newton-Raphson on a factored 2x2-block structure.

The polar Newton-Raphson of pandapower's ``newtonpf`` (Tinney & Hart 1967), with every bus
carrying two unknowns (angle, magnitude) so that the Jacobian has the sparsity of Ybus with
dense 2x2 blocks. Rows of reference buses are the identity, the Q row of a PV bus is
``dVm = 0``: the pattern never changes when a PV bus reaches a reactive limit and becomes
PQ, so the fill-reducing order and the symbolic factorisation are computed once
(`symbolic`) and each factorisation is numeric only (`factor`, no pivoting: the diagonal
blocks of a power-flow Jacobian are non-singular).

A step reuses the last factorisation while it contracts the mismatch quickly (the chord
method; in a time series the previous step's Jacobian is close) and refactors at the
current point when it does not: converged steps are Newton solutions to the same
tolerance, usually for the price of two triangular solves per iteration.

Reactive limits are enforced as ``runpp(enforce_q_lims=True)`` does (``pandapower.pf.
run_newton_raphson_pf._run_ac_pf_with_qlims_enforced``): solve, split each bus's reactive
injection among its generators as ``pfsoln`` does, fix every violating generator at its
limit (its bus becomes PQ, the generator a negative load), solve again, until none violates.

Voltage-dependent loads follow pandapower's ``_get_Sload``: the bus demand's P and Q scale
with ``1 - ci - cz + ci vm + cz vm^2`` (per-bus shares in the ppc).

Arrays: buses in the solver's (fill-reducing) order; blocks are (k, 4) float64 rows
``[a, b, c, d]`` = ``[[a, b], [c, d]]``, rows (P, Q), columns (angle, magnitude).
Bus types as pandapower's: 1 = PQ, 2 = PV, 3 = REF.
Plain-Python reference: `grid.reference.newton_reference` (dense numpy).
"""

from __future__ import annotations

import numpy as np

from grid.kernels import _line_current, _line_loading, _mag, _trafo_loading
from grid.taps import MAX_ROUNDS, apply_taps, tap_round
from parktwin.jit import jit

PQ, PV, REF = 1, 2, 3
#: Refactor when an iteration shrinks the mismatch by less than this factor.
CHORD_RATE = 0.25
_EPS = np.finfo(np.float64).eps


def symbolic(n: int, a_ptr: np.ndarray, a_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pattern of L + U of a structurally symmetric matrix (CSR pattern incl. diagonal), in
    its given order: the row subtrees of the elimination tree (Liu 1986). Returns (ptr, idx)
    of the full rows, each sorted (L part, diagonal, U part)."""
    lr, lc = _lower_pattern(n, a_ptr, a_idx)
    rows = np.concatenate([lr, lc, np.arange(n, dtype=np.int64)])
    cols = np.concatenate([lc, lr, np.arange(n, dtype=np.int64)])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, rows + 1, 1)
    return np.cumsum(ptr), cols.astype(np.int64)


@jit
def _lower_pattern(n, a_ptr, a_idx):
    """(rows, cols) of the strictly lower part of the LU fill of the pattern (a_ptr, a_idx)."""
    parent = np.full(n, -1, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    cap = max(16, 4 * a_idx.shape[0])
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    m = 0
    for i in range(n):
        mark[i] = i
        for k in range(a_ptr[i], a_ptr[i + 1]):
            j = a_idx[k]
            while j < i and mark[j] != i:
                if m == cap:
                    cap *= 2
                    rows2 = np.empty(cap, dtype=np.int64)
                    cols2 = np.empty(cap, dtype=np.int64)
                    rows2[:m] = rows[:m]
                    cols2[:m] = cols[:m]
                    rows, cols = rows2, cols2
                rows[m] = i
                cols[m] = j
                m += 1
                mark[j] = i
                if parent[j] == -1:
                    parent[j] = i
                j = parent[j]
    return rows[:m].copy(), cols[:m].copy()


@jit(inline="always")
def _mul(x, y, out):
    """out = x @ y for 2x2 blocks stored as [a, b, c, d]."""
    a = x[0] * y[0] + x[1] * y[2]
    b = x[0] * y[1] + x[1] * y[3]
    c = x[2] * y[0] + x[3] * y[2]
    d = x[2] * y[1] + x[3] * y[3]
    out[0], out[1], out[2], out[3] = a, b, c, d


@jit
def factor(f_ptr, f_idx, f_diag, f_val, dinv, work):
    """Block LU in place, no pivoting (up-looking, row by row). On entry `f_val` holds the
    matrix on the full pattern (fill entries zero); on return its strictly lower blocks are
    L's multipliers, the rest U; `dinv` (n, 4) the inverses of U's diagonal blocks.
    `work` is (n, 4) scratch. Returns False if a diagonal block is singular."""
    n = f_ptr.shape[0] - 1
    m = np.empty(4)
    t = np.empty(4)
    for i in range(n):
        for k in range(f_ptr[i], f_ptr[i + 1]):
            c = f_idx[k]
            for r in range(4):
                work[c, r] = f_val[k, r]
        for k in range(f_ptr[i], f_diag[i]):
            j = f_idx[k]
            _mul(work[j], dinv[j], m)
            for r in range(4):
                work[j, r] = m[r]
            for q in range(f_diag[j] + 1, f_ptr[j + 1]):
                c = f_idx[q]
                _mul(m, f_val[q], t)
                for r in range(4):
                    work[c, r] -= t[r]
        for k in range(f_ptr[i], f_ptr[i + 1]):
            c = f_idx[k]
            for r in range(4):
                f_val[k, r] = work[c, r]
        a, b, c, d = work[i, 0], work[i, 1], work[i, 2], work[i, 3]
        det = a * d - b * c
        if det == 0.0 or not np.isfinite(det):
            return False
        dinv[i, 0], dinv[i, 1], dinv[i, 2], dinv[i, 3] = d / det, -b / det, -c / det, a / det
    return True


@jit
def block_solve(f_ptr, f_idx, f_diag, f_val, dinv, x):
    """Solve L U x = b in place on `x` (n, 2) after `factor`."""
    n = f_ptr.shape[0] - 1
    for i in range(n):
        s0, s1 = x[i, 0], x[i, 1]
        for k in range(f_ptr[i], f_diag[i]):
            j = f_idx[k]
            s0 -= f_val[k, 0] * x[j, 0] + f_val[k, 1] * x[j, 1]
            s1 -= f_val[k, 2] * x[j, 0] + f_val[k, 3] * x[j, 1]
        x[i, 0], x[i, 1] = s0, s1
    for i in range(n - 1, -1, -1):
        s0, s1 = x[i, 0], x[i, 1]
        for k in range(f_diag[i] + 1, f_ptr[i + 1]):
            j = f_idx[k]
            s0 -= f_val[k, 0] * x[j, 0] + f_val[k, 1] * x[j, 1]
            s1 -= f_val[k, 2] * x[j, 0] + f_val[k, 3] * x[j, 1]
        x[i, 0] = dinv[i, 0] * s0 + dinv[i, 1] * s1
        x[i, 1] = dinv[i, 2] * s0 + dinv[i, 3] * s1


@jit(inline="always")
def _vdep(ci, cz, vm):
    """pandapower's voltage dependence of a bus demand: 1 - ci - cz + ci vm + cz vm^2."""
    return 1.0 - ci - cz + ci * vm + cz * vm * vm


@jit(inline="always")
def _dvdep(ci, cz, vm):
    """d `_vdep` / d vm."""
    return ci + 2.0 * cz * vm


@jit
def injections(y_ptr, y_idx, y_val, v, s_calc):
    """s_calc = V conj(Ybus V) [p.u.]: the power each bus injects into the network."""
    n = v.shape[0]
    for i in range(n):
        acc = 0j
        for k in range(y_ptr[i], y_ptr[i + 1]):
            acc += y_val[k] * v[y_idx[k]]
        s_calc[i] = v[i] * np.conj(acc)


@jit
def mismatch(y_ptr, y_idx, y_val, v, vm, s_gen, d, cvd, btype, s_calc, f):
    """Newton's mismatch f (n, 2) = (dP, dQ) of ``V conj(Y V) - S_gen + S_demand(vm)`` with
    the rows of reference buses (and Q of PV buses) zero; returns its largest |entry|
    [p.u.] (NaN propagates). `cvd` (n, 4): ci_p, cz_p, ci_q, cz_q per bus."""
    injections(y_ptr, y_idx, y_val, v, s_calc)
    worst = 0.0
    for i in range(v.shape[0]):
        t = btype[i]
        if t == REF:
            f[i, 0] = 0.0
            f[i, 1] = 0.0
            continue
        dp = s_calc[i].real - s_gen[i].real + d[i].real * _vdep(cvd[i, 0], cvd[i, 1], vm[i])
        f[i, 0] = dp
        a = abs(dp)
        if a > worst or a != a:
            worst = a
        if t == PQ:
            dq = s_calc[i].imag - s_gen[i].imag + d[i].imag * _vdep(cvd[i, 2], cvd[i, 3], vm[i])
            f[i, 1] = dq
            a = abs(dq)
            if a > worst or a != a:
                worst = a
        else:
            f[i, 1] = 0.0
    return worst


@jit
def jacobian(y_ptr, y_idx, y_val, y2f, v, vm, d, cvd, btype, f_val):
    """Newton's Jacobian of `mismatch` at V into `f_val` (the LU pattern; fill zeroed).
    dS/dVa = j V conj(I - Y V), dS/dVm = V conj(Y V/|V|) + conj(I) V/|V| (pandapower's
    ``dSbus_dV``), plus the demand's voltage dependence on the diagonal."""
    f_val[:, :] = 0.0
    n = v.shape[0]
    for i in range(n):
        t = btype[i]
        vi = v[i]
        acc = 0j
        for k in range(y_ptr[i], y_ptr[i + 1]):
            acc += y_val[k] * v[y_idx[k]]
        for k in range(y_ptr[i], y_ptr[i + 1]):
            j = y_idx[k]
            p = y2f[k]
            if t == REF:
                if j == i:
                    f_val[p, 0] = 1.0
                    f_val[p, 3] = 1.0
                continue
            if btype[j] == REF and j != i:
                continue
            yv = y_val[k] * v[j]
            dva = 1j * vi * np.conj(-yv)
            dvm = vi * np.conj(yv) * (1.0 / vm[j])
            if j == i:
                dva += 1j * vi * np.conj(acc)
                dvm += np.conj(acc) * vi * (1.0 / vm[i])
                dvm += complex(
                    d[i].real * _dvdep(cvd[i, 0], cvd[i, 1], vm[i]),
                    d[i].imag * _dvdep(cvd[i, 2], cvd[i, 3], vm[i]),
                )
            f_val[p, 0] = dva.real
            f_val[p, 1] = dvm.real
            if t == PQ:
                f_val[p, 2] = dva.imag
                f_val[p, 3] = dvm.imag
            elif j == i:
                f_val[p, 3] = 1.0


@jit
def newton(sys, v, va, vm, s_gen, d, cvd, btype, st, tol, max_iter):
    """Newton-Raphson (chord while it contracts) in place on v, va, vm. `sys` = (y_ptr,
    y_idx, y_val, y2f, f_ptr, f_idx, f_diag, f_val, dinv, work, s_calc, f); `st` (2,)
    float64 = (factor valid 0/1, last mismatch) carried between calls.
    Returns (iterations, or -1 if not converged; final mismatch)."""
    y_ptr, y_idx, y_val, y2f, f_ptr, f_idx, f_diag, f_val, dinv, work, s_calc, f = sys
    n = v.shape[0]
    prev = np.inf
    for it in range(max_iter + 1):
        norm = mismatch(y_ptr, y_idx, y_val, v, vm, s_gen, d, cvd, btype, s_calc, f)
        if norm < tol:
            return it, norm
        if norm != norm or it == max_iter:
            return -1, norm
        if st[0] == 0.0 or norm > CHORD_RATE * prev:
            jacobian(y_ptr, y_idx, y_val, y2f, v, vm, d, cvd, btype, f_val)
            if not factor(f_ptr, f_idx, f_diag, f_val, dinv, work):
                st[0] = 0.0
                return -1, norm
            st[0] = 1.0
        for i in range(n):
            f[i, 0] = -f[i, 0]
            f[i, 1] = -f[i, 1]
        block_solve(f_ptr, f_idx, f_diag, f_val, dinv, f)
        for i in range(n):
            if btype[i] == REF:
                continue
            va[i] += f[i, 0]
            if btype[i] == PQ:
                vm[i] += f[i, 1]
            v[i] = vm[i] * complex(np.cos(va[i]), np.sin(va[i]))
        prev = norm
    return -1, prev


@jit
def gen_q(s_calc, d, gen_bus, gen_on, qmin, qmax, q_out):
    """Each generator's reactive power [p.u.] as pandapower's ``pfsoln._update_q``: the bus
    injection plus the bus's reactive demand, split equally among the bus's generators in
    service, then in proportion to their reactive ranges (when the net has more than one
    generator in service)."""
    n_gen = gen_bus.shape[0]
    n_on = 0
    for g in range(n_gen):
        q_out[g] = 0.0
        if gen_on[g]:
            n_on += 1
    if n_on == 0:
        return
    n = s_calc.shape[0]
    count = np.zeros(n)
    qlo = np.zeros(n)
    qhi = np.zeros(n)
    for g in range(n_gen):
        if gen_on[g]:
            b = gen_bus[g]
            count[b] += 1.0
            qlo[b] += qmin[g]
            qhi[b] += qmax[g]
    for g in range(n_gen):
        if not gen_on[g]:
            continue
        b = gen_bus[g]
        q_bus = s_calc[b].imag + d[b].imag
        if n_on == 1 or qlo[b] == qhi[b]:
            q_out[g] = q_bus / count[b] if n_on > 1 else q_bus
        else:
            q_out[g] = qmin[g] + (q_bus - qlo[b]) / (qhi[b] - qlo[b] + _EPS) * (qmax[g] - qmin[g])


@jit
def solve_step(sys, v, va, vm, d0, cvd, btype0, vset, gens, gen_p, st, tol, max_iter, enforce_q):
    """One power flow with reactive limits (see the module docstring), warm-started from v,
    va, vm (in place). `d0` (n,) complex nominal bus demand [p.u.]; `gens` = (gen_bus,
    gen_ref (bool), gen_on (bool), qmin, qmax) [p.u.]; `gen_p` (n_gen,) [p.u.].
    Returns (iterations summed over the limit rounds or -1, mismatch, gen p, gen q [p.u.])."""
    gen_bus, gen_ref, gen_on0, qmin, qmax = gens
    y_ptr, y_idx, y_val = sys[0], sys[1], sys[2]
    s_calc = sys[10]
    n = v.shape[0]
    n_gen = gen_bus.shape[0]
    btype = btype0.copy()
    d = d0.copy()
    on = gen_on0.copy()
    limited = np.zeros(n_gen, dtype=np.bool_)
    q = np.zeros(n_gen)
    q_fix = np.zeros(n_gen)
    p = np.zeros(n_gen)
    s_gen = np.zeros(n, dtype=np.complex128)
    for i in range(n):
        if btype[i] != PQ:
            vm[i] = vset[i]
            v[i] = vm[i] * complex(np.cos(va[i]), np.sin(va[i]))
    total = 0
    while True:
        s_gen[:] = 0.0
        for g in range(n_gen):
            if on[g]:
                s_gen[gen_bus[g]] += complex(gen_p[g], q[g])
        it, norm = newton(sys, v, va, vm, s_gen, d, cvd, btype, st, tol, max_iter)
        if it < 0:
            return -1, norm, p, q
        total += it
        injections(y_ptr, y_idx, y_val, v, s_calc)
        gen_q(s_calc, d, gen_bus, on, qmin, qmax, q)
        for g in range(n_gen):
            if limited[g]:
                q[g] = q_fix[g]
        if not enforce_q:
            break
        hit = False
        for g in range(n_gen):
            if not on[g] or gen_ref[g]:
                continue
            if q[g] > qmax[g] or q[g] < qmin[g]:
                hit = True
                limited[g] = True
                q_fix[g] = qmax[g] if q[g] > qmax[g] else qmin[g]
                q[g] = q_fix[g]
        if not hit:
            break
        for g in range(n_gen):
            if limited[g] and on[g]:
                on[g] = False
                b = gen_bus[g]
                if btype[b] != REF:
                    btype[b] = PQ
                d[b] -= complex(gen_p[g], q[g])
        st[0] = 0.0  # rows changed: refactor
    # active power of the reference generators: bus injection + nominal demand (`_update_p`)
    for g in range(n_gen):
        p[g] = gen_p[g]
    for g in range(n_gen):
        if not gen_ref[g] or not (on[g] or limited[g]):
            continue
        b = gen_bus[g]
        share = 0.0
        others = 0.0
        for h in range(n_gen):
            if gen_bus[h] == b and (on[h] or limited[h]):
                if gen_ref[h]:
                    share += 1.0
                else:
                    others += gen_p[h]
        p[g] = (s_calc[b].real + d0[b].real - others) / share
    return total, norm, p, q


@jit
def _solve_or_restart(sys, v, va, vm, v0, va0, vm0, d, cvd, btype0, vset, gens, gp, st, tol,
                      max_iter, enforce_q):  # fmt: skip
    """`solve_step` from the warm start; if it fails, once more from (v0, va0, vm0)."""
    it, m, p, q = solve_step(sys, v, va, vm, d, cvd, btype0, vset, gens, gp, st, tol, max_iter,
                             enforce_q)  # fmt: skip
    if it < 0:
        v[:], va[:], vm[:] = v0, va0, vm0
        st[0] = 0.0
        it, m, p, q = solve_step(sys, v, va, vm, d, cvd, btype0, vset, gens, gp, st, tol,
                                 max_iter, enforce_q)  # fmt: skip
    return it, m, p, q


@jit
def solve_series(
    sys, v0, va0, vm0, demand, cvd, btype0, vset, gens, gen_p, tol, max_iter, enforce_q, taps,
    tap_state,
):  # fmt: skip
    """`solve_step` for every row of `demand` (steps, n) and `gen_p` (steps or 1, n_gen),
    each warm-started from the previous solution (a failed step restarts from v0), with
    discrete tap control (`grid.taps`) between the solves of a step.

    `taps` = (ctl_i (c, 6), ctl_f (c, 2), pos0 (c,), stamps (c, positions, 4), idx (c, 4)
    into Ybus's values, Ybus's values at pos0) (c = 0: no control); `tap_state` = (pos,
    counter) (c,) int64, carried in place from step to step (and call to call). The Ybus
    values in `sys` are written for the positions in force.
    Returns (V (steps, n) complex [p.u.], iterations, mismatch, gen p, gen q [p.u.], tap
    positions (steps, c) of each step's final solve, settled (steps,) bool: False where the
    taps still moved after `MAX_ROUNDS` rounds, pandapower's ``ControllerNotConverged``)."""
    steps, n = demand.shape
    n_gen = gens[0].shape[0]
    ctl_i, ctl_f, pos0, stamps, idx, y_base = taps
    pos, counter = tap_state
    n_ctl = pos.shape[0]
    y_val = sys[2]
    tap_min = ctl_i[:, 1].copy()
    out = np.empty((steps, n), dtype=np.complex128)
    iters = np.empty(steps, dtype=np.int64)
    mism = np.empty(steps)
    pg = np.empty((steps, n_gen))
    qg = np.empty((steps, n_gen))
    pos_out = np.empty((steps, n_ctl), dtype=np.int64)
    settled = np.ones(steps, dtype=np.bool_)
    moved = np.zeros(n_ctl, dtype=np.int64)
    v, va, vm = v0.copy(), va0.copy(), vm0.copy()
    vm_now = np.empty(n)
    st = np.zeros(2)
    if n_ctl:
        apply_taps(pos, pos0, tap_min, stamps, idx, y_base, y_val)
    for t in range(steps):
        row = gen_p[t] if gen_p.shape[0] > 1 else gen_p[0]
        moved[:] = 0
        total = 0
        for rnd in range(MAX_ROUNDS + 1):
            it, m, p, q = _solve_or_restart(sys, v, va, vm, v0, va0, vm0, demand[t], cvd, btype0,
                                            vset, gens, row, st, tol, max_iter, enforce_q)  # fmt: skip
            if it < 0 or n_ctl == 0:
                total = it if it < 0 else total + it
                break
            total += it
            for i in range(n):
                vm_now[i] = _mag(v[i])
            before = pos.copy()
            if tap_round(vm_now, ctl_i, ctl_f, pos, counter, moved, rnd == 0) == 0:
                break
            if rnd == MAX_ROUNDS:  # still moving: keep the positions of the last solve
                pos[:] = before
                settled[t] = False
            apply_taps(pos, pos0, tap_min, stamps, idx, y_base, y_val)
        for c in range(n_ctl):
            if moved[c] > 0:
                counter[c] = 0
        iters[t] = total
        mism[t] = m
        pg[t] = p
        qg[t] = q
        out[t] = v
        pos_out[t] = pos
        if total < 0:
            out[t] = np.nan
            v[:], va[:], vm[:] = v0, va0, vm0
            st[0] = 0.0
    return out, iters, mism, pg, qg, pos_out, settled


@jit
def results(
    v, bus_map, br, br_f, br_t, kv_f, kv_t, yf, yt, rows, ratings, by_current, gen_out, base_mva
):
    """pandapower's result quantities of every step of the voltages `v` (steps, n) [p.u.].

    `br` (n_br,) bool in service, `br_f`/`br_t` solver bus of each ppc branch end (-1 when
    de-energised), `yf`/`yt` (ptr, idx, val) rows of every ppc branch (empty when out of
    service); `rows` = (line, trafo, trafo3w hv, mv, lv) ppc rows; `ratings` = (line imax
    [kA], trafo vn_hv, vn_lv [kV], sn [MVA], parallel * df, trafo3w vn hv/mv/lv, sn hv/mv/lv);
    `gen_out` = (ext_grid ppci gen row or -1, gen row or -1, gen p, gen q [p.u.] (steps, g)).
    A branch out of service carries no power; an end at a de-energised bus has NaN current
    (and the branch NaN loading), as in pandapower's results.
    Returns one (steps, width) block laid out as `BLOCK`."""
    line_r, trafo_r, t3h, t3m, t3l = rows
    imax, vn_hv, vn_lv, sn, div, v3h, v3m, v3l, s3h, s3m, s3l = ratings
    eg_row, gen_row, pg, qg = gen_out
    steps = v.shape[0]
    n_bus, n_line, n_tr, n_t3 = bus_map.shape[0], line_r.shape[0], trafo_r.shape[0], t3h.shape[0]
    n_eg, n_gen = eg_row.shape[0], gen_row.shape[0]
    width = 2 * n_bus + 6 * n_line + 5 * n_tr + n_t3 + 2 * n_eg + 2 * n_gen + 1
    block = np.empty((steps, width))
    n_br = br.shape[0]
    sf = np.zeros(n_br, dtype=np.complex128)
    st = np.zeros(n_br, dtype=np.complex128)
    i_f = np.zeros(n_br)
    i_t = np.zeros(n_br)
    sqrt3 = np.sqrt(3.0)
    rad2deg = 180.0 / np.pi
    yf_ptr, yf_idx, yf_val = yf
    yt_ptr, yt_idx, yt_val = yt
    for s in range(steps):
        vs = v[s]
        out = block[s]
        for b in range(n_bus):
            k = bus_map[b]
            if k < 0:
                out[b] = np.nan
                out[n_bus + b] = np.nan
            else:
                out[b] = _mag(vs[k])
                out[n_bus + b] = np.arctan2(vs[k].imag, vs[k].real) * rad2deg
        losses = 0.0
        for r in range(n_br):
            f, t = br_f[r], br_t[r]
            if br[r]:
                acc = 0j
                for q in range(yf_ptr[r], yf_ptr[r + 1]):
                    acc += yf_val[q] * vs[yf_idx[q]]
                sf[r] = vs[f] * np.conj(acc) * base_mva
                acc = 0j
                for q in range(yt_ptr[r], yt_ptr[r + 1]):
                    acc += yt_val[q] * vs[yt_idx[q]]
                st[r] = vs[t] * np.conj(acc) * base_mva
                i_f[r] = _mag(sf[r]) / (_mag(vs[f]) * kv_f[r] * sqrt3)
                i_t[r] = _mag(st[r]) / (_mag(vs[t]) * kv_t[r] * sqrt3)
                losses += sf[r].real + st[r].real
            else:
                sf[r] = 0j
                st[r] = 0j
                i_f[r] = 0.0 if f >= 0 else np.nan
                i_t[r] = 0.0 if t >= 0 else np.nan
        o = 2 * n_bus
        for j in range(n_line):
            r = line_r[j]
            i = _line_current(i_f[r], i_t[r])
            out[o + j] = _line_loading(i, imax[j])
            out[o + n_line + j] = sf[r].real
            out[o + 2 * n_line + j] = sf[r].imag
            out[o + 3 * n_line + j] = st[r].real
            out[o + 4 * n_line + j] = st[r].imag
            out[o + 5 * n_line + j] = i
        o += 6 * n_line
        for j in range(n_tr):
            r = trafo_r[j]
            out[o + j] = _trafo_loading(
                sf[r], st[r], i_f[r], i_t[r], vn_hv[j], vn_lv[j], sn[j], div[j], by_current
            )
            out[o + n_tr + j] = sf[r].real
            out[o + 2 * n_tr + j] = sf[r].imag
            out[o + 3 * n_tr + j] = st[r].real
            out[o + 4 * n_tr + j] = st[r].imag
        o += 5 * n_tr
        for j in range(n_t3):
            h, m, lo = t3h[j], t3m[j], t3l[j]
            if by_current:
                a = i_f[h] * v3h[j] * sqrt3 / s3h[j]
                b = i_t[m] * v3m[j] * sqrt3 / s3m[j]
                c = i_t[lo] * v3l[j] * sqrt3 / s3l[j]
            else:
                a = _mag(sf[h]) / s3h[j]
                b = _mag(st[m]) / s3m[j]
                c = _mag(st[lo]) / s3l[j]
            out[o + j] = _nanmax3(a, b, c) * 100.0
        o += n_t3
        for e in range(n_eg):
            g = eg_row[e]
            out[o + e] = pg[s, g] * base_mva if g >= 0 else 0.0
            out[o + n_eg + e] = qg[s, g] * base_mva if g >= 0 else 0.0
        o += 2 * n_eg
        for e in range(n_gen):
            g = gen_row[e]
            out[o + e] = pg[s, g] * base_mva if g >= 0 else 0.0
            out[o + n_gen + e] = qg[s, g] * base_mva if g >= 0 else 0.0
        o += 2 * n_gen
        out[o] = losses
    return block


@jit(inline="always")
def _nanmax3(a, b, c):
    """max of three that is NaN if any is (numpy's max)."""
    if a != a or b != b or c != c:
        return np.nan
    return max(a, max(b, c))
