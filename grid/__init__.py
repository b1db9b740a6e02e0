"""The park's feeders in pandapower, and a fast time-series power flow that matches runpp.

The only package that imports pandapower; the pandapower net never leaves it: callers get
our own small result types.

    from grid import Site, StorageGroup, load_site, default_site
    from grid import ParkGrid, TimeSeriesPowerFlow, check_limits

- `grid.site`: the site model (TOML) and the default park (``grid/data/park.toml``).
- `grid.network`: the pandapower net of a site.
- `grid.powerflow`: `TimeSeriesPowerFlow`, any supported pandapower net, many steps fast.
- `grid.park`: `ParkGrid`, the park for the twin (kW, enterprise and unit order).
- `grid.limits`: `check_limits`, voltage band, loadings, backflow, substation exchange.
- `grid.kernels` (numba) and `grid.reference` (their plain-Python references).
"""

from grid.errors import PowerFlowError, UnsupportedNetError
from grid.limits import LimitReport, check_limits
from grid.park import GridSeries, GridSnapshot, ParkGrid
from grid.powerflow import PowerFlowResult, TimeSeriesPowerFlow
from grid.site import Enterprise, Feeder, Site, StorageGroup, default_site, load_site

__all__ = [
    "Enterprise",
    "Feeder",
    "GridSeries",
    "GridSnapshot",
    "LimitReport",
    "ParkGrid",
    "PowerFlowError",
    "PowerFlowResult",
    "Site",
    "StorageGroup",
    "TimeSeriesPowerFlow",
    "UnsupportedNetError",
    "check_limits",
    "default_site",
    "load_site",
]
