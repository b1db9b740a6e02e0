"""Settings of `twin calibrate` (``twin/calibrate/data/calibrate.toml``): noise, checks, bounds."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, model_validator

from parktwin.config import Frozen, load_package_toml

STAGES = ("pcs", "battery", "thermal")


class Noise(Frozen):
    """One standard deviation of each measured channel (weights of the residuals)."""

    v_dc_v: float = Field(gt=0)
    soc: float = Field(gt=0)
    temp_c: float = Field(gt=0)
    p_aux_kw: float = Field(gt=0)
    pcs_loss_kw: float = Field(gt=0)
    source: str


class ParamSpec(Frozen):
    """One fitted parameter: its stage, its section of the unit-type file and its bounds."""

    stage: Literal["pcs", "battery", "thermal"]
    section: Literal["cell", "pcs", "thermal"]
    bounds: tuple[float, float]
    relative: bool
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> ParamSpec:
        if not self.bounds[0] < self.bounds[1]:
            raise ValueError("bounds must be [low, high] with low < high")
        return self


class Settings(Frozen):
    holdout_fraction: float = Field(ge=0, lt=0.9)
    correlation_max: float = Field(gt=0, lt=1)
    rel_ci_max: float = Field(gt=0)
    gap_factor: float = Field(gt=1)
    power_margin: float = Field(ge=0)
    min_rows: int = Field(ge=3)
    rest_deadband_kw: float = Field(ge=0)
    cycle_min_discharge: float = Field(ge=0, lt=1)
    self_discharge_min_rest_s: float = Field(ge=0)
    flat_tolerance: float = Field(gt=0, lt=1)
    sources: dict[str, str]
    noise: Noise
    params: dict[str, ParamSpec]


@cache
def settings() -> Settings:
    """The shipped settings (validated once)."""
    return load_package_toml("twin.calibrate", "calibrate.toml", Settings)
