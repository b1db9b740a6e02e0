"""numba kernels of the time-series power flow: sparse LU solves and the Z-bus fixed point.

The PQ-bus equations ``S = V * conj(Ypp V + Yps Vs)`` are solved by the implicit Z-bus
fixed point (Chen et al., IEEE Trans. Power Deliv. 1991; the method of OpenDSS and of
pandapower's own ``bfsw``):

    V_{k+1} = w + Ypp^-1 conj(S / V_k),   w = -Ypp^-1 Yps Vs  (the no-load voltages)

``Ypp`` is factored once (SuperLU, outside); each iteration is two sparse triangular
solves. The iteration stops when the largest voltage update is below ``tol_v`` and the
largest power mismatch ``|V conj(Ypp (V - w)) - S|`` is below ``tol_s`` [p.u.].

Plain-Python references of these kernels live in `grid.reference` (dense numpy).
All arrays complex128 unless named ``*_ptr``/``*_idx`` (int64) or ``perm_*`` (int64).
"""

from __future__ import annotations

import numpy as np

from parktwin.jit import jit


@jit
def lu_solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, perm_r, perm_c, b, work, x):
    """Solve A x = b with Pr A Pc = L U (L unit lower, strictly-lower CSR; U strictly-upper
    CSR plus the inverse of its diagonal). Writes `x`; `work` is scratch of the same length."""
    n = b.shape[0]
    for i in range(n):
        work[perm_r[i]] = b[i]
    for i in range(n):  # forward, unit diagonal
        s = work[i]
        for k in range(l_ptr[i], l_ptr[i + 1]):
            s -= l_val[k] * work[l_idx[k]]
        work[i] = s
    for i in range(n - 1, -1, -1):  # backward
        s = work[i]
        for k in range(u_ptr[i], u_ptr[i + 1]):
            s -= u_val[k] * work[u_idx[k]]
        work[i] = s * u_inv_diag[i]
    for j in range(n):
        x[j] = work[perm_c[j]]


@jit
def power_mismatch(y_ptr, y_idx, y_val, v, w, s):
    """Largest |V conj(Ypp (V - w)) - S| over the PQ buses [p.u.]."""
    n = v.shape[0]
    worst = 0.0
    for i in range(n):
        acc = 0j
        for k in range(y_ptr[i], y_ptr[i + 1]):
            j = y_idx[k]
            acc += y_val[k] * (v[j] - w[j])
        d = abs(v[i] * np.conj(acc) - s[i])
        if d > worst or d != d:
            worst = d
    return worst


@jit
def zbus_solve(lu, y_ptr, y_idx, y_val, w, s, v, tol_v, tol_s, max_iter):
    """Solve one step in place on `v` (warm start). Returns (iterations, mismatch);
    iterations = -1 when not converged within `max_iter` (or diverged to nan)."""
    l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, perm_r, perm_c = lu
    n = v.shape[0]
    rhs = np.empty(n, dtype=np.complex128)
    work = np.empty(n, dtype=np.complex128)
    x = np.empty(n, dtype=np.complex128)
    tol_v2 = tol_v * tol_v
    mismatch = np.inf
    for it in range(max_iter):
        for i in range(n):
            # conj(S / V) = conj(S) V / |V|^2: one real division instead of a complex one
            vr, vi = v[i].real, v[i].imag
            inv = 1.0 / (vr * vr + vi * vi)
            sr, si = s[i].real, s[i].imag
            rhs[i] = complex((sr * vr + si * vi) * inv, (sr * vi - si * vr) * inv)
        lu_solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, perm_r, perm_c, rhs, work, x)
        dv2 = 0.0
        for i in range(n):
            vn = w[i] + x[i]
            dr, di = vn.real - v[i].real, vn.imag - v[i].imag
            d2 = dr * dr + di * di
            if d2 > dv2 or d2 != d2:
                dv2 = d2
            v[i] = vn
        if dv2 != dv2:
            return -1, np.nan
        if dv2 < tol_v2:
            mismatch = power_mismatch(y_ptr, y_idx, y_val, v, w, s)
            if mismatch < tol_s:
                return it + 1, mismatch
    return -1, mismatch


@jit
def zbus_solve_series(lu, y_ptr, y_idx, y_val, w, s_steps, v0, tol_v, tol_s, max_iter):
    """Solve every row of `s_steps` (steps, n), each warm-started from the previous
    solution (the first from `v0`). Returns (v (steps, n), iterations (steps,),
    mismatch (steps,)); a step that fails has iterations -1 and restarts the next
    step from `v0`."""
    steps, n = s_steps.shape
    out = np.empty((steps, n), dtype=np.complex128)
    iters = np.empty(steps, dtype=np.int64)
    mism = np.empty(steps, dtype=np.float64)
    v = v0.copy()
    for t in range(steps):
        it, m = zbus_solve(lu, y_ptr, y_idx, y_val, w, s_steps[t], v, tol_v, tol_s, max_iter)
        iters[t] = it
        mism[t] = m
        for i in range(n):
            out[t, i] = v[i]
        if it < 0:
            for i in range(n):
                v[i] = v0[i]
    return out, iters, mism


@jit
def add_demand(d, p, q, bus, scale):
    """Add element powers p, q [MW, Mvar] to the bus demand d (steps, n) [p.u.]:
    ``d[t, bus[e]] += scale[e] (p[t, e] + j q[t, e])``. p and q have `steps` rows or one
    row (the same for every step); elements with ``bus[e] < 0`` are skipped."""
    steps = d.shape[0]
    for t in range(steps):
        tp = t if p.shape[0] > 1 else 0
        tq = t if q.shape[0] > 1 else 0
        for e in range(bus.shape[0]):
            b = bus[e]
            if b >= 0:
                d[t, b] += complex(scale[e] * p[tp, e], scale[e] * q[tq, e])


@jit
def _mag(z):
    """|z| without hypot's overflow guard (power-flow values are far from overflow)."""
    return np.sqrt(z.real * z.real + z.imag * z.imag)


@jit
def results_series(
    v,
    demand,
    bus_ppci,
    yf_ptr,
    yf_idx,
    yf_val,
    yt_ptr,
    yt_idx,
    yt_val,
    br_f,
    br_t,
    kv_f,
    kv_t,
    br_row,
    n_br,
    line_first,
    line_imax,
    trafo_first,
    trafo_vn_hv,
    trafo_vn_lv,
    trafo_sn,
    trafo_div,
    trafo_by_current,
    y_ptr,
    y_idx,
    y_val,
    eg_bus,
    base_mva,
):
    """pandapower's result quantities of every step from the bus voltages `v` (steps, n)
    [p.u.] and the bus demand (steps, n) [p.u., + = consumption]. Branch k of the in-service
    set (rows of Yf/Yt) is ppc branch ``br_row[k]``; lines are ppc rows ``line_first + j``,
    transformers ``trafo_first + j``; ``bus_ppci`` / ``eg_bus`` are -1 when left out.

    Returns vm, va [deg], line loading [%], line p/q from/to [MW, Mvar], line i [kA],
    trafo loading [%], trafo p/q hv/lv, ext_grid p/q, losses [MW]."""
    steps = v.shape[0]
    n_bus = bus_ppci.shape[0]
    n_line = line_imax.shape[0]
    n_trafo = trafo_sn.shape[0]
    n_eg = eg_bus.shape[0]
    sqrt3 = np.sqrt(3.0)
    # one output block, column groups in RESULT_ORDER (returning one array instead of 16
    # saves the boxing of 15 arrays per call, which dominates a single step)
    width = 2 * n_bus + 6 * n_line + 5 * n_trafo + 2 * n_eg + 1
    block = np.zeros((steps, width))
    o = 0
    vm = block[:, o : o + n_bus]
    o += n_bus
    va = block[:, o : o + n_bus]
    o += n_bus
    l_load = block[:, o : o + n_line]
    o += n_line
    l_pf = block[:, o : o + n_line]
    o += n_line
    l_qf = block[:, o : o + n_line]
    o += n_line
    l_pt = block[:, o : o + n_line]
    o += n_line
    l_qt = block[:, o : o + n_line]
    o += n_line
    l_i = block[:, o : o + n_line]
    o += n_line
    t_load = block[:, o : o + n_trafo]
    o += n_trafo
    t_ph = block[:, o : o + n_trafo]
    o += n_trafo
    t_qh = block[:, o : o + n_trafo]
    o += n_trafo
    t_pl = block[:, o : o + n_trafo]
    o += n_trafo
    t_ql = block[:, o : o + n_trafo]
    o += n_trafo
    eg_p = block[:, o : o + n_eg]
    o += n_eg
    eg_q = block[:, o : o + n_eg]
    o += n_eg
    losses = block[:, o]
    sf = np.zeros(n_br, dtype=np.complex128)
    st = np.zeros(n_br, dtype=np.complex128)
    i_f = np.zeros(n_br)
    i_t = np.zeros(n_br)
    rad2deg = 180.0 / np.pi
    for s in range(steps):
        vs = v[s]
        for b in range(n_bus):
            k = bus_ppci[b]
            if k < 0:
                vm[s, b] = np.nan
                va[s, b] = np.nan
            else:
                vm[s, b] = _mag(vs[k])
                va[s, b] = np.arctan2(vs[k].imag, vs[k].real) * rad2deg
        for k in range(br_f.shape[0]):
            row = br_row[k]
            acc = 0j
            for q in range(yf_ptr[k], yf_ptr[k + 1]):
                acc += yf_val[q] * vs[yf_idx[q]]
            vf = vs[br_f[k]]
            a = vf * np.conj(acc) * base_mva
            sf[row] = a
            i_f[row] = _mag(a) / (_mag(vf) * kv_f[k] * sqrt3)
            acc = 0j
            for q in range(yt_ptr[k], yt_ptr[k + 1]):
                acc += yt_val[q] * vs[yt_idx[q]]
            vt = vs[br_t[k]]
            a = vt * np.conj(acc) * base_mva
            st[row] = a
            i_t[row] = _mag(a) / (_mag(vt) * kv_t[k] * sqrt3)
        for j in range(n_line):
            r = line_first + j
            l_pf[s, j] = sf[r].real
            l_qf[s, j] = sf[r].imag
            l_pt[s, j] = st[r].real
            l_qt[s, j] = st[r].imag
            i = max(i_f[r], i_t[r]) if i_f[r] == i_f[r] and i_t[r] == i_t[r] else np.nan
            l_i[s, j] = i
            l_load[s, j] = i / line_imax[j] * 100.0 if line_imax[j] != 0 else np.inf
        for j in range(n_trafo):
            r = trafo_first + j
            t_ph[s, j] = sf[r].real
            t_qh[s, j] = sf[r].imag
            t_pl[s, j] = st[r].real
            t_ql[s, j] = st[r].imag
            if trafo_by_current:
                ld = max(i_f[r] * trafo_vn_hv[j], i_t[r] * trafo_vn_lv[j]) * sqrt3
            else:
                ld = max(_mag(sf[r]), _mag(st[r]))
            if i_f[r] != i_f[r]:
                ld = np.nan
            t_load[s, j] = ld / trafo_sn[j] * 100.0 / trafo_div[j]
        total = 0.0
        for k in range(br_f.shape[0]):
            total += sf[br_row[k]].real + st[br_row[k]].real
        losses[s] = total
        for e in range(n_eg):
            k = eg_bus[e]
            if k < 0:
                continue
            acc = 0j
            for q in range(y_ptr[k], y_ptr[k + 1]):
                acc += y_val[q] * vs[y_idx[q]]
            g = (vs[k] * np.conj(acc) + demand[s, k]) * base_mva
            eg_p[s, e] = g.real
            eg_q[s, e] = g.imag
    return block


@jit
def solve_and_results(
    demand, pq, ref, v_ref, v0, lu, y_ptr, y_idx, y_val, w, tol_v, tol_s, max_iter, post
):
    """`zbus_solve_series` on the PQ buses of a (steps, n) bus demand [p.u.], then
    `results_series` on the full voltages, in one call (one dispatch per step for the
    engine's loop). `post` is the tuple of `results_series`' arguments after `demand`.
    Returns (iterations, mismatch, the last PQ voltages, *results_series' outputs);
    failed steps have NaN voltages."""
    steps, n = demand.shape
    s_pq = np.empty((steps, pq.shape[0]), dtype=np.complex128)
    for t in range(steps):
        for i in range(pq.shape[0]):
            s_pq[t, i] = -demand[t, pq[i]]
    v_pq, iters, mism = zbus_solve_series(
        lu, y_ptr, y_idx, y_val, w, s_pq, v0, tol_v, tol_s, max_iter
    )
    v = np.empty((steps, n), dtype=np.complex128)
    for t in range(steps):
        if iters[t] < 0:
            for k in range(n):
                v[t, k] = np.nan
            continue
        for i in range(ref.shape[0]):
            v[t, ref[i]] = v_ref[i]
        for i in range(pq.shape[0]):
            v[t, pq[i]] = v_pq[t, i]
    last = v0.copy() if iters[steps - 1] < 0 else v_pq[steps - 1].copy()
    return iters, mism, last, results_series(v, demand, *post)


def split_results(block: np.ndarray, n_bus: int, n_line: int, n_trafo: int, n_eg: int) -> tuple:
    """Views of `results_series`' block: (vm, va, 6 line, 5 trafo, 2 ext_grid groups, losses)."""
    sizes = [n_bus] * 2 + [n_line] * 6 + [n_trafo] * 5 + [n_eg] * 2
    out, o = [], 0
    for k in sizes:
        out.append(block[:, o : o + k])
        o += k
    out.append(block[:, o])
    return tuple(out)
