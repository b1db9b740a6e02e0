"""numba kernels of the park's single step: sparse LU solves and the Z-bus fixed point.

`grid.ParkGrid.solve` (the engine's per-period call on the park, PQ buses only) runs
`park_step`; every other power flow runs the Newton-Raphson of `grid.newton`, which shares
this module's result helpers (branch loadings, NaN rules).

The PQ-bus equations ``S = V * conj(Ypp V + Yps Vs)`` are solved by the implicit Z-bus
fixed point (Chen et al., IEEE Trans. Power Deliv. 1991; the method of OpenDSS and of
pandapower's own ``bfsw``):

    V_{k+1} = w + Ypp^-1 conj(S / V_k),   w = -Ypp^-1 Yps Vs  (the no-load voltages)

``Ypp`` is factored once (SuperLU, outside); each iteration is two sparse triangular
solves. The iteration stops when the largest voltage update is below ``tol_v`` and the
largest power mismatch ``|V conj(Ypp (V - w)) - S|`` is below ``tol_s`` [p.u.].

`park_step` is `grid.ParkGrid.solve` in one call: bus demand from the element powers, the
fixed point, and the snapshot's quantities, with the net's constants packed (`pack`).

Plain-Python references of these kernels live in `grid.reference` (dense numpy).
All arrays complex128 unless named ``*_ptr``/``*_idx`` (int64) or ``perm_*`` (int64).
"""

from __future__ import annotations

import numpy as np

from parktwin.jit import jit


@jit
def _lu_solve_permuted(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, work):
    """In place on `work`: L U z = work (L unit lower, strictly-lower CSR; U strictly-upper
    CSR plus the inverse of its diagonal), without the row and column permutations."""
    n = work.shape[0]
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


@jit
def lu_solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, perm_r, perm_c, b, work, x):
    """Solve A x = b with Pr A Pc = L U (L unit lower, strictly-lower CSR; U strictly-upper
    CSR plus the inverse of its diagonal). Writes `x`; `work` is scratch of the same length."""
    n = b.shape[0]
    for i in range(n):
        work[perm_r[i]] = b[i]
    _lu_solve_permuted(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, work)
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
    work = np.empty(n, dtype=np.complex128)
    tol_v2 = tol_v * tol_v
    mismatch = np.inf
    for it in range(max_iter):
        for i in range(n):
            # conj(S / V) = conj(S) V / |V|^2: one real division instead of a complex one;
            # written straight to its row-permuted place (`lu_solve` without the copies)
            vr, vi = v[i].real, v[i].imag
            inv = 1.0 / (vr * vr + vi * vi)
            sr, si = s[i].real, s[i].imag
            work[perm_r[i]] = complex((sr * vr + si * vi) * inv, (sr * vi - si * vr) * inv)
        _lu_solve_permuted(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, u_inv_diag, work)
        dv2 = 0.0
        for i in range(n):
            vn = w[i] + work[perm_c[i]]
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
def _branch_flows(
    vs,
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
    base_mva,
    sf,
    st,
    i_f,
    i_t,
):
    """Branch end powers [MVA] and currents [kA] of the bus voltages `vs` [p.u.]: writes
    ``sf``/``st`` (into the branch at its from/to bus) and ``i_f``/``i_t`` at the ppc rows
    ``br_row`` of the in-service branches (the other rows are left as they are)."""
    sqrt3 = np.sqrt(3.0)
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


@jit
def _line_current(i_f, i_t):
    """A line's current [kA]: the larger end (NaN if either is)."""
    return max(i_f, i_t) if i_f == i_f and i_t == i_t else np.nan


@jit
def _line_loading(i_ka, imax_ka):
    """pandapower's line loading [%] = I / (max_i_ka * df * parallel)."""
    return i_ka / imax_ka * 100.0 if imax_ka != 0 else np.inf


@jit
def _trafo_loading(sf, st, i_f, i_t, vn_hv, vn_lv, sn, div, by_current):
    """pandapower's transformer loading [%]: by current (the larger side's I * vn * sqrt 3)
    or by power (the larger side's |S|), over sn_mva * parallel * df."""
    if by_current:
        # NaN if either side is (numpy's max, as pandapower): a de-energised side
        ld = max(i_f * vn_hv, i_t * vn_lv) * np.sqrt(3.0)
        if i_f != i_f or i_t != i_t:
            ld = np.nan
    else:
        ld = max(_mag(sf), _mag(st))
    return ld / sn * 100.0 / div


@jit
def _slack_power(vs, k, y_ptr, y_idx, y_val, demand_k, base_mva):
    """Power an ext_grid at ppci bus `k` supplies [MVA]: the bus injection plus its loads."""
    acc = 0j
    for q in range(y_ptr[k], y_ptr[k + 1]):
        acc += y_val[q] * vs[y_idx[q]]
    return (vs[k] * np.conj(acc) + demand_k) * base_mva


# --- the single step of `grid.ParkGrid.solve` -------------------------------------------
# One call per step with few arguments: numba's dispatcher types every argument on every
# call, ~0.1 µs per array but ~10 µs for the 40 arrays and scalars of the batch path's
# tuples. So the net's constant arrays travel packed, one buffer per dtype (int64, float64,
# complex128) with segment offsets (`pack`), in the segment order below.
(
    I_PQ, I_REF, I_L_PTR, I_L_IDX, I_U_PTR, I_U_IDX, I_PERM_R, I_PERM_C, I_YPP_PTR,
    I_YPP_IDX, I_BUS_PPCI, I_YF_PTR, I_YF_IDX, I_YT_PTR, I_YT_IDX, I_BR_F, I_BR_T, I_BR_ROW,
    I_Y_PTR, I_Y_IDX, I_EG_BUS, I_LOAD_BUS, I_SGEN_BUS, I_STORAGE_BUS, I_SIZES,
    I_PCC_LINE, I_CHECKED_BUS, I_UNIT_TRAFO,
) = range(28)  # fmt: skip
#: int64 scalars in segment I_SIZES: ppci buses, ppc branches, first line row, first trafo
#: row, trafo loading by current (1) or power (0), iteration limit
(S_N, S_N_BR, S_LINE_FIRST, S_TRAFO_FIRST, S_BY_CURRENT, S_MAX_ITER) = range(6)
(
    R_KV_F, R_KV_T, R_LINE_IMAX, R_TRAFO_VN_HV, R_TRAFO_VN_LV, R_TRAFO_SN, R_TRAFO_DIV,
    R_LOAD_SCALE, R_SGEN_SCALE, R_STORAGE_SCALE, R_TOLS, R_TAN_PHI,
) = range(12)  # fmt: skip
#: float64 scalars in segment R_TOLS: base MVA, voltage and power tolerances [p.u.]
(T_BASE_MVA, T_TOL_V, T_TOL_S) = range(3)
(
    C_L_VAL, C_U_VAL, C_U_INV_DIAG, C_YPP_VAL, C_W, C_V_REF, C_YF_VAL, C_YT_VAL, C_Y_VAL,
) = range(9)  # fmt: skip
#: Layout of `park_step`'s output block: (n_ent,) pcc_kw, pcc_kvar; (n_bus,) vm; (n_line,)
#: line loading; (n_trafo,) trafo loading; (n_units,) unit trafo loading; then the scalars
#: v_min, v_max, ext_grid kW, ext_grid kvar, losses kW.
PARK_SCALARS = 5


def pack(
    ints: list[np.ndarray], reals: list[np.ndarray], cplx: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate 1-D segments into one int64, one float64 and one complex128 buffer.

    Returns (ints, reals, cplx, off): ``off`` (3, m) int64 holds each buffer's segment
    offsets, segment k of buffer j = ``buffer[off[j, k]:off[j, k + 1]]``."""
    groups = ((ints, np.int64), (reals, np.float64), (cplx, np.complex128))
    off = np.zeros((3, max(len(g) for g, _ in groups) + 1), dtype=np.int64)
    bufs = []
    for j, (segments, dtype) in enumerate(groups):
        off[j, 1 : len(segments) + 1] = np.cumsum([len(a) for a in segments])
        off[j, len(segments) + 1 :] = off[j, len(segments)]
        buf = np.empty(int(off[j, len(segments)]), dtype=dtype)
        for k, a in enumerate(segments):
            buf[off[j, k] : off[j, k + 1]] = np.asarray(a).ravel()
        bufs.append(buf)
    return bufs[0], bufs[1], bufs[2], off


@jit
def _seg(buf, off, k):
    return buf[off[k] : off[k + 1]]


@jit
def _all_finite(x):
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True


@jit
def _add_elements(d, p_kw, q_kvar, tan_phi, bus, scale):
    """``d[bus[e]] += scale[e] (p + j q)`` with p = p_kw / 1000 [MW] and q = q_kvar / 1000,
    or q = p tan_phi when `q_kvar` is empty (`add_demand`'s arithmetic, one step)."""
    for e in range(bus.shape[0]):
        p = p_kw[e] * 1e-3
        if q_kvar.shape[0]:
            q = q_kvar[e] * 1e-3
        elif tan_phi.shape[0]:
            q = p * tan_phi[e]
        else:
            q = 0.0
        b = bus[e]
        if b >= 0:
            d[b] += complex(scale[e] * p, scale[e] * q)


@jit
def park_step(ints, reals, cplx, off, load_kw, pv_kw, storage_kw, storage_kvar, v_pq):
    """One power-flow step of the park, from the element powers to the snapshot's numbers.

    Assembles the bus demand [p.u.] from the enterprise loads (reactive power = p tan_phi),
    PV (sgens, unity power factor) and storage units [kW, kvar], solves the PQ buses by
    `zbus_solve` warm-started from `v_pq` (updated in place when converged), then computes
    `results_series`' quantities that a `grid.ParkGrid` snapshot holds (no voltage angles).
    The net's constants come packed (`pack`; segment indices above).

    Returns (bad, iterations, mismatch, block): ``bad`` = index (0..3) of the first input
    with a NaN or inf (nothing solved), else -1; iterations = -1 when not converged (then
    `v_pq` is untouched and the block empty); the block laid out as PARK_SCALARS says.
    """
    if not _all_finite(load_kw):
        return 0, -1, np.nan, np.empty(0)
    if not _all_finite(pv_kw):
        return 1, -1, np.nan, np.empty(0)
    if not _all_finite(storage_kw):
        return 2, -1, np.nan, np.empty(0)
    if not _all_finite(storage_kvar):
        return 3, -1, np.nan, np.empty(0)
    ioff, roff, coff = off[0], off[1], off[2]
    sizes = _seg(ints, ioff, I_SIZES)
    n = sizes[S_N]
    tols = _seg(reals, roff, R_TOLS)
    base_mva = tols[T_BASE_MVA]
    pq = _seg(ints, ioff, I_PQ)
    ref = _seg(ints, ioff, I_REF)
    no_q = np.empty(0)

    d = np.zeros(n, dtype=np.complex128)
    tan_phi = _seg(reals, roff, R_TAN_PHI)
    _add_elements(
        d, load_kw, no_q, tan_phi, _seg(ints, ioff, I_LOAD_BUS), _seg(reals, roff, R_LOAD_SCALE)
    )
    _add_elements(
        d, pv_kw, no_q, no_q, _seg(ints, ioff, I_SGEN_BUS), _seg(reals, roff, R_SGEN_SCALE)
    )
    _add_elements(
        d,
        storage_kw,
        storage_kvar,
        no_q,
        _seg(ints, ioff, I_STORAGE_BUS),
        _seg(reals, roff, R_STORAGE_SCALE),
    )

    n_pq = pq.shape[0]
    s_pq = np.empty(n_pq, dtype=np.complex128)
    for i in range(n_pq):
        s_pq[i] = -d[pq[i]]
    v = v_pq.copy()
    lu = (
        _seg(ints, ioff, I_L_PTR),
        _seg(ints, ioff, I_L_IDX),
        _seg(cplx, coff, C_L_VAL),
        _seg(ints, ioff, I_U_PTR),
        _seg(ints, ioff, I_U_IDX),
        _seg(cplx, coff, C_U_VAL),
        _seg(cplx, coff, C_U_INV_DIAG),
        _seg(ints, ioff, I_PERM_R),
        _seg(ints, ioff, I_PERM_C),
    )
    it, mism = zbus_solve(
        lu,
        _seg(ints, ioff, I_YPP_PTR),
        _seg(ints, ioff, I_YPP_IDX),
        _seg(cplx, coff, C_YPP_VAL),
        _seg(cplx, coff, C_W),
        s_pq,
        v,
        tols[T_TOL_V],
        tols[T_TOL_S],
        sizes[S_MAX_ITER],
    )
    if it < 0:
        return -1, it, mism, np.empty(0)
    vs = np.empty(n, dtype=np.complex128)
    v_ref = _seg(cplx, coff, C_V_REF)
    for i in range(ref.shape[0]):
        vs[ref[i]] = v_ref[i]
    for i in range(n_pq):
        vs[pq[i]] = v[i]
        v_pq[i] = v[i]

    n_br = sizes[S_N_BR]
    sf = np.zeros(n_br, dtype=np.complex128)
    st = np.zeros(n_br, dtype=np.complex128)
    i_f = np.zeros(n_br)
    i_t = np.zeros(n_br)
    br_row = _seg(ints, ioff, I_BR_ROW)
    _branch_flows(
        vs,
        _seg(ints, ioff, I_YF_PTR),
        _seg(ints, ioff, I_YF_IDX),
        _seg(cplx, coff, C_YF_VAL),
        _seg(ints, ioff, I_YT_PTR),
        _seg(ints, ioff, I_YT_IDX),
        _seg(cplx, coff, C_YT_VAL),
        _seg(ints, ioff, I_BR_F),
        _seg(ints, ioff, I_BR_T),
        _seg(reals, roff, R_KV_F),
        _seg(reals, roff, R_KV_T),
        br_row,
        base_mva,
        sf,
        st,
        i_f,
        i_t,
    )

    bus_ppci = _seg(ints, ioff, I_BUS_PPCI)
    pcc_line = _seg(ints, ioff, I_PCC_LINE)
    checked = _seg(ints, ioff, I_CHECKED_BUS)
    unit_trafo = _seg(ints, ioff, I_UNIT_TRAFO)
    line_imax = _seg(reals, roff, R_LINE_IMAX)
    trafo_sn = _seg(reals, roff, R_TRAFO_SN)
    n_ent, n_bus, n_line = pcc_line.shape[0], bus_ppci.shape[0], line_imax.shape[0]
    n_trafo, n_units = trafo_sn.shape[0], unit_trafo.shape[0]
    block = np.empty(2 * n_ent + n_bus + n_line + n_trafo + n_units + PARK_SCALARS)
    line_first = sizes[S_LINE_FIRST]
    o = 0
    for j in range(n_ent):  # PCC = what the service line delivers at its to (meter) end
        r = line_first + pcc_line[j]
        block[o + j] = st[r].real * -1000.0
        block[o + n_ent + j] = st[r].imag * -1000.0
    o += 2 * n_ent
    vm = block[o : o + n_bus]
    for b in range(n_bus):
        k = bus_ppci[b]
        vm[b] = np.nan if k < 0 else _mag(vs[k])
    o += n_bus
    for j in range(n_line):
        r = line_first + j
        block[o + j] = _line_loading(_line_current(i_f[r], i_t[r]), line_imax[j])
    o += n_line
    t_load = block[o : o + n_trafo]
    trafo_first = sizes[S_TRAFO_FIRST]
    by_current = sizes[S_BY_CURRENT] != 0
    vn_hv = _seg(reals, roff, R_TRAFO_VN_HV)
    vn_lv = _seg(reals, roff, R_TRAFO_VN_LV)
    div = _seg(reals, roff, R_TRAFO_DIV)
    for j in range(n_trafo):
        r = trafo_first + j
        t_load[j] = _trafo_loading(
            sf[r], st[r], i_f[r], i_t[r], vn_hv[j], vn_lv[j], trafo_sn[j], div[j], by_current
        )
    o += n_trafo
    for u in range(n_units):
        block[o + u] = t_load[unit_trafo[u]]
    o += n_units

    # voltage band over the checked buses (NaN if one of them is left out, as numpy's min)
    lo, hi = np.inf, -np.inf
    for b in checked:
        x = vm[b]
        if x != x:
            lo = hi = np.nan
            break
        lo = min(lo, x)
        hi = max(hi, x)
    eg_bus = _seg(ints, ioff, I_EG_BUS)
    y_ptr, y_idx = _seg(ints, ioff, I_Y_PTR), _seg(ints, ioff, I_Y_IDX)
    y_val = _seg(cplx, coff, C_Y_VAL)
    eg_p = 0.0
    eg_q = 0.0
    for e in range(eg_bus.shape[0]):
        k = eg_bus[e]
        if k >= 0:
            g = _slack_power(vs, k, y_ptr, y_idx, y_val, d[k], base_mva)
            eg_p += g.real
            eg_q += g.imag
    losses = 0.0
    for k in range(br_row.shape[0]):
        losses += sf[br_row[k]].real + st[br_row[k]].real
    block[o] = lo
    block[o + 1] = hi
    block[o + 2] = eg_p * 1000.0
    block[o + 3] = eg_q * 1000.0
    block[o + 4] = losses * 1000.0
    return -1, it, mism, block
