"""Test settings shared by every package's tests: Hypothesis profiles and markers.

Profiles (``HYPOTHESIS_PROFILE``): ``dev`` (default, quick, random), ``ci`` (more
examples, derandomized, set by .ci/run), ``nojit`` (few examples: kernels run as plain
Python). Hypothesis' deadline is off everywhere: numba compiles a kernel on its first call.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "derandomize": False}
settings.register_profile("dev", max_examples=40, **_common)
# CI draws the same examples on every run (a red CI is reproducible and never depends on the
# day's draw); dev runs draw new ones each time, and that is where new counterexamples are
# found (then kept as explicit examples).
settings.register_profile(
    "ci", max_examples=100, print_blob=True, **{**_common, "derandomize": True}
)
settings.register_profile("nojit", max_examples=10, **_common)
_default = "nojit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hardware", action="store_true", help="run tests that need real devices")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--hardware"):
        return
    skip = pytest.mark.skip(reason="needs real hardware: pass --hardware")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
