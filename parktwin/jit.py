"""The one JIT policy of the project (as numba-stats' `_util.py`).

Every numba kernel in ParkTwin is decorated with `jit`: compiled in nopython mode,
cached on disk, releasing the GIL, with numpy's error model (a division by zero gives
inf/nan as in the plain-Python reference, instead of raising) and without fastmath (so
results are bit-reproducible and equal the reference to rounding).

``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python: the nox session
``tests_nojit`` runs the whole suite that way.
"""

from __future__ import annotations

import numba

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}


def jit(fn=None, **overrides):
    """Compile `fn` with the project's policy; usable as ``@jit`` or ``@jit(...)``."""
    options = {**JIT_OPTIONS, **overrides}
    if fn is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(fn)
