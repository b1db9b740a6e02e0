"""Fixtures of grid/ tests. Building the park (pandapower + one runpp + factorisation) takes
seconds, so one `ParkGrid` is built per test module; its only state is the warm start of
`solve`, which changes no result beyond the solver tolerance."""

from __future__ import annotations

import warnings

import pytest

from grid import ParkGrid, default_site


@pytest.fixture(scope="module")
def park() -> ParkGrid:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ParkGrid(default_site())
