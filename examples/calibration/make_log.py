"""Make the example's commissioning log: the first project's unit type with a perturbed cabin.

The cabin that was "delivered" has 4 % less capacity, 20 % more resistance (R0 and R1) and a
weaker chiller (30 kW of cooling instead of 45 kW) than the shipped `lfp280-2236kwh`; the
twin runs it for two summer days at 1-minute steps under varied charge and discharge blocks
and logs it with measurement noise (`twin.calibrate.synthetic`). Writes perturbed-cabin.toml
(the truth) and commissioning-log.csv next to this script.

    python examples/calibration/make_log.py
"""

from __future__ import annotations

from pathlib import Path

import tomli_w

from devices import load_unit_params
from twin.calibrate.synthetic import LogSpec, commissioning_log

HERE = Path(__file__).parent


def main() -> None:
    data = load_unit_params("lfp280-2236kwh").model_dump()
    data["name"] = "lfp280-2236kwh-as-delivered"
    data["description"] = "example truth: 4 % less capacity, 20 % more resistance, 30 kW chiller"
    data["cell"]["capacity_ah"] = 280.0 * 0.96
    data["cell"]["r0_mohm"] = 0.5 * 1.2
    data["cell"]["r1_mohm"] = 0.2 * 1.2
    data["thermal"]["q_cool_max_kw"] = 30.0
    truth_path = HERE / "perturbed-cabin.toml"
    truth_path.write_text(
        "# The example's truth: made by make_log.py from lfp280-2236kwh (see its docstring).\n"
        + tomli_w.dumps(data)
    )
    truth = load_unit_params(str(truth_path))
    log = commissioning_log(truth, LogSpec(days=2.0), seed=2026)
    log.to_csv(HERE / "commissioning-log.csv", index=False, float_format="%.3f")


if __name__ == "__main__":
    main()
