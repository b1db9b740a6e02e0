"""The JIT policy compiles, caches, and keeps the plain-Python function reachable."""

import numba
import numpy as np
import pytest

from parktwin.jit import jit


@jit
def _axpy(a: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return a * x + y


def test_compiled_equals_python() -> None:
    x, y = np.arange(5.0), np.ones(5)
    np.testing.assert_array_equal(_axpy(2.0, x, y), _axpy.py_func(2.0, x, y))


def test_division_by_zero_follows_numpy() -> None:
    @jit
    def div(a: float, b: float) -> float:
        return a / b

    assert np.isinf(div(1.0, 0.0))


def test_a_kernel_that_allocates_nothing_runs_without_the_runtime() -> None:
    @jit(allocates=False)
    def scale(x: np.ndarray, a: float) -> None:
        for i in range(x.shape[0]):
            x[i] *= a

    x = np.arange(4.0)
    scale(x, 2.0)
    np.testing.assert_array_equal(x, [0.0, 2.0, 4.0, 6.0])


def test_a_kernel_that_says_it_allocates_nothing_and_does_fails_to_compile() -> None:
    import os

    import numba
    import pytest

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("plain Python allocates freely")

    @jit(allocates=False)
    def make(n: int) -> np.ndarray:
        return np.zeros(n)

    with pytest.raises(numba.core.errors.NumbaError):
        make(3)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing compiles without the JIT")
def test_when_compiling_says_once_on_a_compilation_and_not_on_a_compiled_call() -> None:
    from parktwin.jit import when_compiling

    said: list[str] = []

    # not cached on disk: every test run compiles it afresh
    @numba.njit(cache=False)
    def twice(x):
        return 2.0 * x

    @numba.njit(cache=False)
    def thrice(x):
        return 3.0 * x

    with when_compiling(lambda: said.append("compiling")):
        assert twice(1.0) == 2.0  # compiles
        assert thrice(1.0) == 3.0  # compiles again: still said once
        assert twice(2.0) == 4.0  # compiled: nothing
    assert said == ["compiling"]
    with when_compiling(lambda: said.append("again")):
        assert twice(3.0) == 6.0 and thrice(3.0) == 9.0  # both compiled before: nothing
    assert said == ["compiling"]
