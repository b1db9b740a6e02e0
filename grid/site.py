"""The site: the park's substation, 10 kV feeders, enterprises and storage, as typed models.

A site file (TOML) is validated into a frozen `Site`; cross-field mistakes (an enterprise on
a feeder that does not exist, storage behind an unknown enterprise, a duplicate name, a
transformer size missing from the equipment catalogue) raise one-line `InputError`s that
name the field, e.g. ``site.toml: enterprises[3].feeder: unknown feeder 'F9' (have F01, F02)``.

Equipment (cable types, transformer types) comes from the catalogue shipped in
``grid/data/equipment.toml``; a site may add its own entries under ``[cables.<name>]`` and
``[transformers.<name>]``. The default site is ``grid/data/park.toml``.

A site may instead take its network from an engineer's own pandapower net (``[network]``,
written by `twin grid import`, see `grid.netmap`): then it has no substation or feeders to
build, and each enterprise says where it sits in that net (``[enterprises.net]``).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from grid.netmap import EnterpriseNet, SiteNetwork
from parktwin.billing import BillingBasis
from parktwin.config import (
    Frozen,
    describe_validation_error,
    load_package_toml,
    load_toml,
)
from parktwin.errors import InputError
from parktwin.files import unit_type_beside
from parktwin.industries import Industry
from parktwin.limits import GridLimits

#: Nominal LV voltage of the enterprises' low-voltage buses [kV] (380 V three-phase, GB/T 156).
LV_NOMINAL_KV = 0.38


class CableType(Frozen):
    """A 10 kV cable type (per circuit)."""

    r_ohm_per_km: float = Field(gt=0)
    x_ohm_per_km: float = Field(gt=0)
    c_nf_per_km: float = Field(ge=0)
    max_i_ka: float = Field(gt=0)
    source: str = ""


class TrafoType(Frozen):
    """A two-winding transformer type; HV-side tap changer."""

    sn_kva: float = Field(gt=0)
    vn_hv_kv: float = Field(gt=0)
    vn_lv_kv: float = Field(gt=0)
    vk_percent: float = Field(gt=0, lt=50)
    pk_kw: float = Field(ge=0)
    pfe_kw: float = Field(ge=0)
    i0_percent: float = Field(ge=0, lt=20)
    vector_group: str = "Dyn11"
    shift_degree: float = 0.0
    tap_step_percent: float = Field(default=2.5, ge=0, le=10)
    tap_min: int = -2
    tap_max: int = 2
    source: str = ""

    @property
    def vkr_percent(self) -> float:
        """Resistive part of the short-circuit voltage [%] (= load loss / rating)."""
        return self.pk_kw / self.sn_kva * 100.0

    @model_validator(mode="after")
    def _check(self) -> TrafoType:
        if self.vkr_percent >= self.vk_percent:
            raise ValueError("pk_kw gives vkr_percent >= vk_percent")
        if self.tap_min > 0 or self.tap_max < 0:
            raise ValueError("tap range must contain the neutral position 0")
        return self


class Equipment(Frozen):
    """Catalogue of cable and transformer types, by name."""

    cables: dict[str, CableType] = Field(default_factory=dict)
    transformers: dict[str, TrafoType] = Field(default_factory=dict)
    note: str = ""

    def merged(self, extra_cables: dict, extra_transformers: dict) -> Equipment:
        """This catalogue with a site's own entries added (a site's entry wins)."""
        return Equipment(
            cables={**self.cables, **extra_cables},
            transformers={**self.transformers, **extra_transformers},
        )

    def transformer_for(self, sn_kva: float, vn_hv_kv: float, vn_lv_kv: float) -> str | None:
        """Name of the catalogue transformer with this rating and voltages, or None."""
        for name, t in self.transformers.items():
            if (
                math.isclose(t.sn_kva, sn_kva)
                and math.isclose(t.vn_hv_kv, vn_hv_kv)
                and math.isclose(t.vn_lv_kv, vn_lv_kv)
            ):
                return name
        return None

    def sizes(self, vn_hv_kv: float, vn_lv_kv: float) -> list[float]:
        """Ratings [kVA] available for a voltage pair, ascending."""
        return sorted(
            t.sn_kva
            for t in self.transformers.values()
            if math.isclose(t.vn_hv_kv, vn_hv_kv) and math.isclose(t.vn_lv_kv, vn_lv_kv)
        )


@functools.cache
def equipment_catalogue() -> Equipment:
    """The shipped catalogue (``grid/data/equipment.toml``)."""
    return load_package_toml("grid", "equipment.toml", Equipment)


class TapControlSpec(Frozen):
    """On-load tap control of the main transformers (`grid.taps`): each keeps its 10 kV
    section bus strictly inside (`vm_lower_pu`, `vm_upper_pu`) [p.u.], moving after
    `delay_s` [s] outside the band, at most `max_steps` positions per grid period."""

    vm_lower_pu: float = Field(gt=0.8, lt=1.2)
    vm_upper_pu: float = Field(gt=0.8, lt=1.2)
    delay_s: float = Field(default=0.0, ge=0)
    max_steps: int | None = Field(default=None, ge=1)
    source: str = ""

    @model_validator(mode="after")
    def _band(self) -> TapControlSpec:
        if self.vm_lower_pu >= self.vm_upper_pu:
            raise ValueError(
                f"vm_lower_pu {self.vm_lower_pu} must be below vm_upper_pu {self.vm_upper_pu}"
            )
        return self

    def delay_intervals(self, interval_s: float) -> int:
        """Whole intervals of `interval_s` [s] outside the band before a move: a delay
        shorter than one interval acts in the first interval outside."""
        return math.floor(self.delay_s / interval_s + 1e-9)


class Substation(Frozen):
    """The 110/10 kV substation: one 110 kV bus, one 10 kV bus section per transformer."""

    name: str
    hv_kv: float = Field(default=110.0, gt=0)
    mv_kv: float = Field(default=10.0, gt=0)
    vm_pu: float = Field(default=1.0, gt=0.8, lt=1.2)  # 110 kV supply voltage (ext_grid)
    transformer: str
    count: int = Field(default=2, ge=1, le=4)
    tap_pos: int = 0  # on-load tap changer position of the main transformers (at the start)
    tap_control: TapControlSpec | None = None  # None: the taps stay at tap_pos
    bus_coupler_closed: bool = False  # sections run split (分段运行) unless closed
    distribution_tap_pos: int = 0  # off-circuit tap of every enterprise 10/0.4 kV transformer
    note: str = ""


class Feeder(Frozen):
    """A 10 kV cable feeder from a substation bus section; enterprises hang on it in order."""

    name: str
    section: int = Field(ge=1)  # 1-based bus section = substation transformer
    cable: str
    parallel: int = Field(default=1, ge=1, le=4)
    note: str = ""


class Enterprise(Frozen):
    """An enterprise: its 10 kV PCC bus, its 10/0.4 kV transformers, load and rooftop PV.

    The enterprise's ring-main unit sits on its feeder ``feeder_km`` after the previous
    enterprise's (or the substation); a service cable of ``service_km`` runs from there to
    the enterprise's own 10 kV bus (the meter, PCC). ``transformer_count == 0`` means a
    direct 10 kV supply (load and PV on the 10 kV bus).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    industry: Industry
    feeder: str
    feeder_km: float | None = Field(default=None, gt=0, le=20)
    """Required unless the site's network is an engineer's net (then `net` places it)."""
    service_km: float = Field(default=0.2, gt=0, le=5)
    service_cable: str = "YJV22-3x150"
    service_parallel: int = Field(default=1, ge=1, le=4)
    annual_mwh: float = Field(gt=0)
    peak_kw: float = Field(gt=0)
    power_factor: float = Field(default=0.95, gt=0.5, le=1.0)
    pv_kwp: float = Field(default=0.0, ge=0)
    pv_tilt_deg: float = Field(default=20.0, ge=0, le=90)
    pv_azimuth_deg: float = Field(default=180.0, ge=0, lt=360)
    transformer_kva: float = Field(default=0.0, ge=0)
    transformer_count: int = Field(default=0, ge=0, le=12)
    billing: BillingBasis | None = None
    """Basis of the basic charge (capacity, demand or contract); None = the run's choice."""
    contract_demand_kw: float | None = Field(default=None, gt=0)
    """Declared demand for contract billing [kW]; None = `peak_kw`."""
    net: EnterpriseNet | None = None
    """Its elements in the site's own pandapower net (sites with a ``[network]`` only)."""
    source: str = ""
    note: str = ""

    @property
    def direct_10kv(self) -> bool:
        """True when the enterprise is supplied directly at 10 kV (no 10/0.4 kV transformer)."""
        return self.transformer_count == 0

    @property
    def transformer_total_kva(self) -> float:
        """Installed 10/0.4 kV transformer capacity [kVA] (0 for a direct 10 kV supply)."""
        return self.transformer_kva * self.transformer_count

    @property
    def connection(self) -> str:
        """Human description of the supply, e.g. ``4 x 2500 kVA 10/0.4 kV``."""
        if self.direct_10kv:
            return "direct 10 kV"
        return f"{self.transformer_count} x {self.transformer_kva:g} kVA 10/0.4 kV"

    @property
    def mean_kw(self) -> float:
        """Mean load [kW] over a year."""
        return self.annual_mwh * 1000.0 / 8760.0

    @model_validator(mode="after")
    def _check(self) -> Enterprise:
        if (self.transformer_count == 0) != (self.transformer_kva == 0):
            raise ValueError(
                "transformer_kva and transformer_count must both be 0 (direct 10 kV) or both > 0"
            )
        if self.mean_kw > self.peak_kw:
            raise ValueError(
                f"annual_mwh {self.annual_mwh:g} needs a mean load of {self.mean_kw:.0f} kW"
                f" above peak_kw {self.peak_kw:g}"
            )
        return self


class StorageGroup(Frozen):
    """``count`` identical storage units behind one enterprise; each unit is one battery
    cabin + one PCS on its own LV AC bus + its own step-up transformer to the 10 kV bus."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]*$")
    enterprise: str
    unit_type: str  # a devices parameter set, e.g. "lfp280-2236kwh"
    count: int = Field(ge=1, le=50)
    pcs_kva: float | None = Field(default=None, gt=0)  # None = the unit type's PCS
    unit_kwh: float | None = Field(default=None, gt=0)  # nameplate energy; None = unit type's
    trafo_kva: float = Field(gt=0)  # per unit
    ac_kv: float = Field(default=0.69, gt=0, le=1.0)  # the unit's LV AC bus
    commissioned: int = Field(ge=2000, le=2100)
    source: str = ""
    note: str = ""

    def unit_names(self) -> list[str]:
        """Names of this group's units: ``{name}-1`` .. ``{name}-{count}``."""
        return [f"{self.name}-{k}" for k in range(1, self.count + 1)]


class Reinforcements(Frozen):
    """Changes to a site's grid (a reinforcement plan, `Site.reinforced`). Names that the
    site does not hold (yet) are left for the site of a later year (a new load)."""

    feeder_parallel: dict[str, int] = Field(default_factory=dict)  # feeder -> circuits
    service_parallel: dict[str, int] = Field(default_factory=dict)  # enterprise -> circuits
    transformer_count: dict[str, int] = Field(default_factory=dict)  # enterprise -> 10/0.4 kV
    new_feeders: tuple[Feeder, ...] = ()  # new cable feeders from the substation
    moves: dict[str, tuple[str, float]] = Field(default_factory=dict)
    """enterprise -> (the feeder it is connected to instead, its feeder_km there)"""
    substation_transformer: str | None = None  # catalogue type of every main transformer

    def merged(self, more: Reinforcements) -> Reinforcements:
        """These changes and then `more` (a later one wins on the same element)."""
        return Reinforcements(
            feeder_parallel={**self.feeder_parallel, **more.feeder_parallel},
            service_parallel={**self.service_parallel, **more.service_parallel},
            transformer_count={**self.transformer_count, **more.transformer_count},
            new_feeders=(*self.new_feeders, *more.new_feeders),
            moves={**self.moves, **more.moves},
            substation_transformer=more.substation_transformer or self.substation_transformer,
        )


class Site(Frozen):
    """A park: its substation, feeders, enterprises and storage groups."""

    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    substation: Substation | None = None
    """Required unless `network` is given."""
    feeders: tuple[Feeder, ...] = ()
    """At least one unless `network` is given."""
    enterprises: tuple[Enterprise, ...] = Field(min_length=1)
    storage: tuple[StorageGroup, ...] = ()
    cables: dict[str, CableType] = Field(default_factory=dict)
    transformers: dict[str, TrafoType] = Field(default_factory=dict)
    network: SiteNetwork | None = None
    """An engineer's own pandapower net as the network model (`grid.netmap`)."""
    source: str = ""
    note: str = ""

    @property
    def limits(self) -> GridLimits | None:
        """The site's own grid limits (a site on its own net may carry them), else None."""
        return self.network.limits if self.network is not None else None

    @property
    def mv_kv(self) -> float:
        """Voltage [kV] of the catalogue's storage step-up transformer types this site
        uses: the substation's MV, or the network's ``unit_trafo_kv``."""
        if self.network is not None:
            return self.network.unit_trafo_kv
        assert self.substation is not None  # checked by validation
        return self.substation.mv_kv

    @property
    def equipment(self) -> Equipment:
        """The shipped catalogue plus this site's own cable and transformer types."""
        return equipment_catalogue().merged(self.cables, self.transformers)

    def enterprise(self, name: str) -> Enterprise:
        """The enterprise called `name` (KeyError if none)."""
        for e in self.enterprises:
            if e.name == name:
                return e
        raise KeyError(name)

    def enterprise_transformer(self, e: Enterprise) -> str | None:
        """Catalogue name of an enterprise's 10/0.4 kV transformer (None if direct 10 kV)."""
        if e.direct_10kv:
            return None
        return self.equipment.transformer_for(e.transformer_kva, self.substation.mv_kv, 0.4)

    def unit_transformer(self, g: StorageGroup) -> str:
        """Catalogue name of a storage unit's step-up transformer."""
        name = self.equipment.transformer_for(g.trafo_kva, self.mv_kv, g.ac_kv)
        assert name is not None  # checked by validation
        return name

    def with_loads(self, extra: list[Enterprise]) -> Site:
        """This site with new loads connected (e.g. a factory a study adds in a later year):
        each a new enterprise on its feeder, after the feeder's last one, with its own ring
        main unit, service cable, 10 kV bus and transformers; validated again."""
        if not extra:
            return self
        data = self.model_dump()
        data["enterprises"] = [*data["enterprises"], *(e.model_dump() for e in extra)]
        return _validate_site(data, f"{self.name} + new loads")

    def reinforced(self, r: Reinforcements) -> Site:
        """This site with the grid changes of `r` (parallel circuits, more transformers, new
        feeders, enterprises moved to them, larger main transformers); validated again."""
        data = self.model_dump()
        data["feeders"] = [
            {**f, "parallel": r.feeder_parallel.get(f["name"], f["parallel"])}
            for f in data["feeders"]
        ] + [f.model_dump() for f in r.new_feeders]
        ents = []
        for e in data["enterprises"]:
            name = e["name"]
            e = {**e, "service_parallel": r.service_parallel.get(name, e["service_parallel"])}
            if name in r.transformer_count:
                e["transformer_count"] = r.transformer_count[name]
            if name in r.moves:
                e["feeder"], e["feeder_km"] = r.moves[name]
            ents.append(e)
        data["enterprises"] = ents
        if r.substation_transformer is not None:
            data["substation"] = {**data["substation"], "transformer": r.substation_transformer}
        return _validate_site(data, f"{self.name} reinforced")

    def with_storage(self, extra: list[StorageGroup]) -> Site:
        """This site with more storage groups (for expansion studies); validated again."""
        data = self.model_dump()
        data["storage"] = [*data["storage"], *(g.model_dump() for g in extra)]
        return _validate_site(data, f"{self.name} + extra storage")

    @model_validator(mode="after")
    def _cross_check(self) -> Site:
        problem = _first_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _dupes(names: list[str]) -> str | None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return None


def _first_problem(site: Site) -> str | None:
    """The first cross-field inconsistency as ``field.path: what is wrong``, or None."""
    if site.network is not None:
        return _network_problem(site)
    if site.substation is None:
        return "substation: required (or a [network] of your own, see twin grid import)"
    if not site.feeders:
        return "feeders: at least one feeder is required"
    for i, e in enumerate(site.enterprises):
        if e.feeder_km is None:
            return f"enterprises[{i}].feeder_km: required"
        if e.net is not None:
            return f"enterprises[{i}].net: only for a site with a [network]"
    eq = site.equipment
    sub = site.substation
    if sub.transformer not in eq.transformers:
        return f"substation.transformer: unknown transformer type {sub.transformer!r}"
    t = eq.transformers[sub.transformer]
    if not (math.isclose(t.vn_hv_kv, sub.hv_kv) and t.vn_lv_kv >= sub.mv_kv * 0.95):
        return (
            f"substation.transformer: {sub.transformer!r} is {t.vn_hv_kv:g}/{t.vn_lv_kv:g} kV,"
            f" not {sub.hv_kv:g}/{sub.mv_kv:g} kV"
        )
    if not t.tap_min <= sub.tap_pos <= t.tap_max:
        return f"substation.tap_pos: {sub.tap_pos} outside the tap range {t.tap_min}..{t.tap_max}"
    for field, names in (
        ("feeders", [f.name for f in site.feeders]),
        ("enterprises", [e.name for e in site.enterprises]),
        ("storage", [g.name for g in site.storage]),
    ):
        dup = _dupes(names)
        if dup is not None:
            return f"{field}: duplicate name {dup!r}"
    feeders = {f.name for f in site.feeders}
    for i, f in enumerate(site.feeders):
        if f.section > sub.count:
            return f"feeders[{i}].section: {f.section} but the substation has {sub.count} sections"
        if f.cable not in eq.cables:
            return (
                f"feeders[{i}].cable: unknown cable type {f.cable!r} (have {', '.join(eq.cables)})"
            )
    lv_sizes = eq.sizes(sub.mv_kv, 0.4)
    for i, e in enumerate(site.enterprises):
        if e.feeder not in feeders:
            return (
                f"enterprises[{i}].feeder: unknown feeder {e.feeder!r}"
                f" (have {', '.join(sorted(feeders))})"
            )
        if e.service_cable not in eq.cables:
            return f"enterprises[{i}].service_cable: unknown cable type {e.service_cable!r}"
        if not e.direct_10kv:
            name = site.enterprise_transformer(e)
            if name is None:
                return (
                    f"enterprises[{i}].transformer_kva: no {sub.mv_kv:g}/0.4 kV transformer of"
                    f" {e.transformer_kva:g} kVA in the catalogue"
                    f" (have {', '.join(f'{s:g}' for s in lv_sizes)})"
                )
            tt = eq.transformers[name]
            if not tt.tap_min <= sub.distribution_tap_pos <= tt.tap_max:
                return (
                    f"substation.distribution_tap_pos: {sub.distribution_tap_pos} outside"
                    f" {name}'s tap range {tt.tap_min}..{tt.tap_max}"
                )
    return _storage_problem(site)


def _storage_problem(site: Site) -> str | None:
    """The first problem of the storage groups (their enterprise, transformer, PCS)."""
    eq = site.equipment
    mv_kv = site.mv_kv
    enterprises = {e.name for e in site.enterprises}
    for i, g in enumerate(site.storage):
        if g.enterprise not in enterprises:
            return f"storage[{i}].enterprise: unknown enterprise {g.enterprise!r}"
        if eq.transformer_for(g.trafo_kva, mv_kv, g.ac_kv) is None:
            sizes = ", ".join(f"{s:g}" for s in eq.sizes(mv_kv, g.ac_kv)) or "none"
            return (
                f"storage[{i}].trafo_kva: no {mv_kv:g}/{g.ac_kv:g} kV transformer of"
                f" {g.trafo_kva:g} kVA in the catalogue (have {sizes})"
            )
        if g.pcs_kva is not None and g.pcs_kva > g.trafo_kva:
            return (
                f"storage[{i}].pcs_kva: PCS {g.pcs_kva:g} kVA above its transformer's"
                f" {g.trafo_kva:g} kVA"
            )
    return None


def _network_problem(site: Site) -> str | None:
    """The first problem of a site on its own net that needs no net to see (the references
    into the net are checked when the net is read, `grid.importer`)."""
    if site.substation is not None or site.feeders:
        return "network: a site on its own net has no substation or feeders to build"
    for field, names in (
        ("enterprises", [e.name for e in site.enterprises]),
        ("storage", [g.name for g in site.storage]),
    ):
        dup = _dupes(names)
        if dup is not None:
            return f"{field}: duplicate name {dup!r}"
    for i, e in enumerate(site.enterprises):
        if e.net is None:
            return f"enterprises[{i}].net: required: the enterprise's loads in the net"
    return _storage_problem(site)


def _describe(source: str, exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    if first["loc"] == () and first["type"] == "value_error":
        # Our cross-field checks already name the field; drop pydantic's "Value error, ".
        return f"{source}: {first['ctx']['error']}"
    return describe_validation_error(source, exc)


def _validate_site(data: object, source: str) -> Site:
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        raise InputError(_describe(source, exc)) from exc


def _retell(exc: InputError, source: str) -> InputError:
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return InputError(_describe(source, cause))
    return exc


def load_site(path: str | Path) -> Site:
    """Read and validate a site file (TOML); bad input raises a one-line InputError."""
    try:
        site = load_toml(path, Site)
    except InputError as exc:
        raise _retell(exc, str(path)) from exc.__cause__
    if site.network is not None:  # the net file is taken from the site file's folder
        net_file = (Path(path).parent / Path(site.network.file).expanduser()).resolve()
        site = site.model_copy(
            update={"network": site.network.model_copy(update={"file": str(net_file)})}
        )
    # a relative unit-type file is taken from the site file's folder (as a study's site is)
    groups = tuple(
        g.model_copy(update={"unit_type": unit_type_beside(g.unit_type, path)})
        for g in site.storage
    )
    return site.model_copy(update={"storage": groups}) if groups != site.storage else site


def default_site() -> Site:
    """The shipped default park (``grid/data/park.toml``)."""
    try:
        return load_package_toml("grid", "park.toml", Site)
    except InputError as exc:
        raise _retell(exc, "grid/data/park.toml") from exc.__cause__


__all__ = [
    "CableType",
    "Enterprise",
    "Equipment",
    "Feeder",
    "Industry",
    "Reinforcements",
    "Site",
    "StorageGroup",
    "Substation",
    "TrafoType",
    "default_site",
    "equipment_catalogue",
    "load_site",
]
