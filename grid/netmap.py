"""Where a site's enterprises sit in an engineer's own pandapower net (the site's `network`).

A site built by `twin grid import` does not describe feeders to be built: its network model
is the engineer's net itself (a pandapower JSON beside the site file), and these models say
which of its elements are whose. They hold references only (an element's name, or its
pandapower index); `grid.importer` resolves them against the net, so reading a site stays
cheap and pandapower-free.

    [network]
    file = "net.json"
    pcc = { trafo = "Trafo 0-1", side = "hv" }    # default: the ext_grids

    [[enterprises]]
    name = "dyeing"
    ...
    [enterprises.net]
    loads = ["Load CI9"]                          # net.load names or indices
    pv = ["PV 9"]                                 # net.sgen: the enterprise's PV
    meter = { line = "Line 8-9" }                 # default: the enterprise's own elements
    storage_bus = "Bus 9"                         # where its storage units connect
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, model_validator

from parktwin.config import Frozen
from parktwin.limits import GridLimits

#: An element of the net: its name (a string) or its pandapower index (an integer).
ElementRef = StrictStr | Annotated[StrictInt, Field(ge=0)]

#: The end of a branch a meter sits at: a line's from/to end, a transformer's hv/lv side.
Side = Literal["from", "to", "hv", "lv"]


class BranchMeter(Frozen):
    """A meter on one branch of the net: a line or a two-winding transformer, at one end.

    Import (+) is the power that flows through the branch towards the metered side (the
    enterprise's, or the park's); which end faces it is found from the net's topology.
    `side` omitted: a line is metered at the end that faces the metered side (as the park's
    service cables are), a transformer at its HV side (high-voltage metering).
    """

    line: ElementRef | None = None
    trafo: ElementRef | None = None
    side: Side | None = None

    @model_validator(mode="after")
    def _one_branch(self) -> BranchMeter:
        if (self.line is None) == (self.trafo is None):
            raise ValueError("give exactly one of 'line' or 'trafo'")
        if self.side is not None:
            ok = ("from", "to") if self.line is not None else ("hv", "lv")
            if self.side not in ok:
                kind = "line" if self.line is not None else "trafo"
                raise ValueError(f"side {self.side!r} for a {kind}: expected {' or '.join(ok)}")
        return self

    @property
    def table(self) -> str:
        """``"line"`` or ``"trafo"``."""
        return "line" if self.line is not None else "trafo"

    @property
    def ref(self) -> ElementRef:
        """The metered branch's reference."""
        return self.line if self.line is not None else self.trafo  # type: ignore[return-value]


class EnterpriseNet(Frozen):
    """An enterprise's elements in the net: its loads, PV, meter and storage connection.

    ``meter`` omitted: the enterprise's import is the sum of its own elements' powers (its
    loads, minus its PV, plus its storage units at their transformers' HV side), which is
    what a meter at the enterprise's connection point reads when nothing else is behind it.
    ``storage_bus`` omitted: the bus behind the meter (a branch meter's enterprise-side
    end), else the bus of the enterprise's first load.
    """

    loads: tuple[ElementRef, ...] = Field(min_length=1)
    pv: tuple[ElementRef, ...] = ()
    meter: BranchMeter | None = None
    storage_bus: ElementRef | None = None


class SiteNetwork(Frozen):
    """The site's network model: an engineer's pandapower net and the park's exchange point.

    Every element of the net is modelled as `runpp` models it; the twin drives the mapped
    loads, PV and its storage units (each on its own bus behind its own step-up transformer,
    added at build time), and every other element keeps the net's own values.
    """

    file: str = Field(min_length=1)
    """pandapower JSON; relative to the site file's folder."""
    pcc: Literal["ext_grid"] | BranchMeter = "ext_grid"
    """The park's point of common coupling: the ext_grids (their sum), or a branch."""
    unit_trafo_kv: float = Field(default=10.0, gt=0)
    """HV voltage of the catalogue's storage step-up transformer types [kV]; a unit's
    transformer takes its type's per-unit data with its HV winding at the voltage of the
    bus it connects to."""
    limits: GridLimits | None = None
    """The voltage band and loading limit of this net; None = ParkTwin's defaults."""
    source: str = ""
