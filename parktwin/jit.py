"""The one JIT policy of the project (as numba-stats' `_util.py`).

Every numba kernel in ParkTwin is decorated with `jit`: compiled in nopython mode,
cached on disk, releasing the GIL, with numpy's error model (a division by zero gives
inf/nan as in the plain-Python reference, instead of raising) and without fastmath (so
results are bit-reproducible and equal the reference to rounding).

A kernel that creates no arrays (arrays in, written in place) says so with
``allocates=False``: it is compiled without numba's reference-counting runtime (numba's
``_nrt`` option). Every array handed to an inlined helper otherwise costs an atomic
increment and decrement, which numba's refcount pruning cannot remove once the helpers
branch (numba/numba#2345, #2350); in the devices step they cost a fifth of the time. Such
a kernel that does create an array fails to compile, so the promise is checked.

``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python: the nox session
``tests_nojit`` runs the whole suite that way.
"""

from __future__ import annotations

import contextlib

import numba
import numba.core.event

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}


def jit(fn=None, *, allocates: bool = True, **overrides):
    """Compile `fn` with the project's policy; usable as ``@jit`` or ``@jit(...)``.

    ``allocates=False``: the kernel creates no arrays; compiled without reference counting.
    """
    options = {**JIT_OPTIONS, **overrides}
    if not allocates:
        options["_nrt"] = False
    if fn is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(fn)


class _SayOnce(numba.core.event.Listener):
    """Calls `say()` at the first compilation it hears of (a cache miss), then never."""

    def __init__(self, say) -> None:
        self.say, self.said = say, False

    def on_start(self, event) -> None:
        if not self.said:
            self.said = True
            self.say()

    def on_end(self, event) -> None:
        pass


@contextlib.contextmanager
def when_compiling(say):
    """Within the block, call `say()` once when numba compiles a kernel: a kernel missing
    from the on-disk cache (a fresh install, a changed kernel). Loading a cached kernel is
    not a compilation (numba's ``numba:compile`` event fires only on a cache miss)."""
    listener = _SayOnce(say)
    with numba.core.event.install_listener("numba:compile", listener):
        yield listener
