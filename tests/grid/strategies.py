"""Hypothesis strategies of grid/ tests: operating points of a net, as scale factors.

An operating point scales each load, sgen and storage of a net (or the park's enterprise
peaks, PV and PCS ratings) by factors drawn per element, covering light load, heavy load
(up to 1.3 x peak), full PV at no load (reverse flow) and storage from full discharge to
full charge.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def operating_points(draw, n_load: int, n_sgen: int, n_storage: int, steps: int = 3):
    """(load, sgen, storage) factor arrays of shape (steps, n): load 0..1.3, sgen 0..1,
    storage -1..1 (+ = charging); some steps forced to the extremes."""
    seed = draw(st.integers(0, 2**32 - 1))
    regime = draw(st.sampled_from(["random", "heavy", "reverse", "light"]))
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.0, 1.3, (steps, n_load))
    sgen = rng.uniform(0.0, 1.0, (steps, n_sgen))
    storage = rng.uniform(-1.0, 1.0, (steps, n_storage))
    if regime == "heavy":
        load = rng.uniform(1.0, 1.3, (steps, n_load))
        sgen[:] = 0.0
        storage = rng.uniform(0.5, 1.0, (steps, n_storage))
    elif regime == "reverse":
        load = rng.uniform(0.0, 0.1, (steps, n_load))
        sgen = rng.uniform(0.9, 1.0, (steps, n_sgen))
        storage = rng.uniform(-1.0, -0.8, (steps, n_storage))
    elif regime == "light":
        load = rng.uniform(0.0, 0.05, (steps, n_load))
        sgen[:] = 0.0
        storage[:] = 0.0
    return load, sgen, storage
