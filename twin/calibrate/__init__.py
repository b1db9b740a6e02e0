"""`twin calibrate`: fit a unit type to a site's measured series through the twin's kernels.

`measured` reads and checks the data, `replay` runs it through `devices.kernels`, `fit`
fits and judges, `unitfile` writes the fitted unit type, `figures` draws before/after.
"""

from twin.calibrate.fit import Calibration, calibrate
from twin.calibrate.measured import Measured, load_mapping, load_measured

__all__ = ["Calibration", "Measured", "calibrate", "load_mapping", "load_measured"]
