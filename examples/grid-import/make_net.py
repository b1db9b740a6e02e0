"""Write net.json: pandapower's CIGRE MV benchmark network with its PV and wind, as an
engineer's own feeder model that `twin grid import` turns into a park (see map.toml).

    python examples/grid-import/make_net.py

CIGRE Task Force C6.04.02, "Benchmark Systems for Network Integration of Renewable and
Distributed Energy Resources" (2014), medium-voltage European benchmark, as pandapower
ships it (``pandapower.networks.create_cigre_network_mv(with_der="pv_wind")``): a 110/20 kV
substation with two transformers, two 20 kV feeders (one meshable through three open
load-break switches S1-S3), 18 loads, 8 PV and one wind turbine; 15 buses.
"""

from __future__ import annotations

import warnings
from pathlib import Path

if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower as pp
        import pandapower.networks as pn

        net = pn.create_cigre_network_mv(with_der="pv_wind")
        out = Path(__file__).with_name("net.json")
        pp.to_json(net, str(out))
    print(f"wrote {out}")
