"""The park's feeders in pandapower, and a fast time-series power flow that matches runpp.

The only package that imports pandapower; the pandapower net never leaves it: callers get
our own small result types.

    from grid import Site, StorageGroup, load_site, default_site
    from grid import ParkGrid, TimeSeriesPowerFlow, check_limits

- `grid.site`: the site model (TOML) and the default park (``grid/data/park.toml``).
- `grid.network`: the pandapower net of a site.
- `grid.powerflow`: `TimeSeriesPowerFlow`, any supported pandapower net, many steps fast.
- `grid.taps`: `TapControl`, discrete on-load tap control in a time series.
- `grid.park`: `ParkGrid`, the park for the twin (kW, enterprise and unit order).
- `grid.importer`, `grid.netmap`, `grid.netpark`: an engineer's own net as the park
  (`twin grid import`; `ParkGrid(site)` of such a site is a `NetParkGrid`).
- `grid.sensitivity`: `GridSensitivity`, how each unit's power moves voltages and loadings.
- `grid.limits`: `check_limits`, voltage band, loadings, backflow, substation exchange.
- `grid.kernels` (numba) and `grid.reference` (their plain-Python references).
"""

from typing import TYPE_CHECKING

from grid.errors import PowerFlowError, UnsupportedNetError
from grid.site import (
    Enterprise,
    Feeder,
    Reinforcements,
    Site,
    StorageGroup,
    default_site,
    load_site,
)

# The solver side imports pandapower (seconds); load it on first use, so that reading a
# site (`from grid import Site`) stays cheap for the CLI and the other packages.
_LAZY = {
    "LimitReport": "grid.limits",
    "check_limits": "grid.limits",
    "GridSensitivity": "grid.sensitivity",
    "GridSeries": "grid.park",
    "GridSnapshot": "grid.park",
    "ParkGrid": "grid.park",
    "PowerFlowResult": "grid.powerflow",
    "TapControl": "grid.taps",
    "TimeSeriesPowerFlow": "grid.powerflow",
}

if TYPE_CHECKING:
    from grid.limits import LimitReport, check_limits
    from grid.park import GridSeries, GridSnapshot, ParkGrid
    from grid.powerflow import PowerFlowResult, TimeSeriesPowerFlow
    from grid.sensitivity import GridSensitivity
    from grid.taps import TapControl


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'grid' has no attribute {name!r}")


__all__ = [
    "Enterprise",
    "Feeder",
    "GridSensitivity",
    "GridSeries",
    "GridSnapshot",
    "LimitReport",
    "ParkGrid",
    "PowerFlowError",
    "PowerFlowResult",
    "Reinforcements",
    "Site",
    "StorageGroup",
    "TapControl",
    "TimeSeriesPowerFlow",
    "UnsupportedNetError",
    "check_limits",
    "default_site",
    "load_site",
]
