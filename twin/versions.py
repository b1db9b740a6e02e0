"""What is installed and what Python actually imports: ParkTwin and the libraries it stands on.

A distribution's version comes from its installed metadata; where its code is imported from
comes from the import system (`importlib.util.find_spec`, which does not run the package).
The two can disagree: a checkout ahead of `sys.path` shadows the installed ParkTwin, and a
package can be importable with no metadata (not installed) or the other way round. Both are
reported, so a bug report says which code ran.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# (distribution name, the module it is imported as): ParkTwin's code is imported as `twin`
# (and its sibling packages); pysunspec2 is imported as `sunspec2`.
DISTRIBUTIONS: tuple[tuple[str, str], ...] = (
    ("parktwin", "twin"),
    ("numpy", "numpy"),
    ("numba", "numba"),
    ("simpy", "simpy"),
    ("pandapower", "pandapower"),
    ("pymodbus", "pymodbus"),
    ("pysunspec2", "sunspec2"),
)


@dataclass(frozen=True)
class PackageVersion:
    """One distribution: its installed version and where its module is imported from."""

    distribution: str
    module: str
    version: str | None
    """Version of the installed distribution; None when it is not installed."""
    location: Path | None
    """Directory (or file) Python imports `module` from; None when it cannot be imported."""

    @property
    def missing(self) -> bool:
        """Not installed, or installed but not importable."""
        return self.version is None or self.location is None


def package_versions(
    distributions: tuple[tuple[str, str], ...] | None = None,
) -> tuple[PackageVersion, ...]:
    """Installed version and import location of each `(distribution, module)` pair.

    Without an argument: ParkTwin and the libraries in `DISTRIBUTIONS`.
    """
    pairs = DISTRIBUTIONS if distributions is None else distributions
    return tuple(_one(dist, module) for dist, module in pairs)


def _one(distribution: str, module: str) -> PackageVersion:
    try:
        version: str | None = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package that fails, or a broken __spec__
        spec = None
    location = None
    if spec is not None:
        if spec.submodule_search_locations:  # a package: its directory
            location = Path(next(iter(spec.submodule_search_locations)))
        elif spec.origin not in (None, "built-in", "frozen"):
            location = Path(spec.origin)
    return PackageVersion(distribution, module, version, location)
