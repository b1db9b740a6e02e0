"""Plain-Python references of the kernels in `grid.kernels`, for differential tests.

Independent of the kernels' sparse LU: dense matrices and `numpy.linalg.solve`.
"""

from __future__ import annotations

import numpy as np


def lu_solve_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with a @ x = b (dense)."""
    return np.linalg.solve(a, b)


def power_mismatch_reference(ypp: np.ndarray, v: np.ndarray, w: np.ndarray, s: np.ndarray) -> float:
    """Largest |V conj(Ypp (V - w)) - S| [p.u.] (dense)."""
    return float(np.max(np.abs(v * np.conj(ypp @ (v - w)) - s)))


def zbus_solve_reference(
    ypp: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    v0: np.ndarray,
    tol_v: float,
    tol_s: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:
    """The Z-bus fixed point with a dense solve per iteration; (v, iterations or -1)."""
    v = v0.astype(complex).copy()
    for it in range(max_iter):
        v_new = w + np.linalg.solve(ypp, np.conj(s / v))
        dv = np.max(np.abs(v_new - v))
        v = v_new
        if not np.isfinite(dv):
            return v, -1
        if dv < tol_v and power_mismatch_reference(ypp, v, w, s) < tol_s:
            return v, it + 1
    return v, -1
