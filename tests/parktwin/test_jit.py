"""The JIT policy compiles, caches, and keeps the plain-Python function reachable."""

import numpy as np

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
