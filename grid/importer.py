"""`twin grid import`: an engineer's own pandapower net (or MATPOWER case) becomes the park.

The engineer's net is kept whole (every element as `runpp` models it); a small mapping file
says which loads are which enterprises, where storage connects, which branches are meters:

    [site]
    name = "CIGRE MV industrial ring"
    latitude = 30.9
    longitude = 119.9
    pcc = { trafo = "Trafo 0-1" }          # the park's exchange point; default: the ext_grids

    [limits]                               # optional; default: ParkTwin's (GB/T 12325)
    v_min_pu = 0.95

    [[enterprises]]
    name = "dyeing"
    industry = "textiles"
    loads = ["Load CI9"]                   # net.load names or indices
    annual_mwh = 3000                      # and/or peak_kw; neither: peak = the loads' p_mw
    pv = ["PV 9"]                          # sgens that are its PV (they follow the PV profile)
    meter = { line = "Line 8-9" }          # default: the enterprise's own elements
    storage_bus = "Bus 9"                  # default: behind the meter / its first load's bus

    [[storage]]                            # existing storage, as in a site file
    name = "dyeing-ess"
    enterprise = "dyeing"
    ...

`import_network` checks the map against the net (each mistake one line naming the file, the
element and the field) and writes a site (a site TOML whose ``[network]`` is a copy of the
net as pandapower JSON) that `twin run --site`, `twin grid show` and `twin expand` take.
`site_net` rebuilds the net of such a site for `grid.netpark.NetParkGrid`: the engineer's
net plus one bus, step-up transformer and storage element per unit (and a PV sgen for an
enterprise whose PV the net does not hold).
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import tomli_w
from pydantic import Field, ValidationError

from grid.describe import storage_rows
from grid.errors import UnsupportedNetError
from grid.netmap import BranchMeter, ElementRef, EnterpriseNet, SiteNetwork
from grid.network import _pandapower, add_storage_units
from grid.site import Site, StorageGroup, _describe
from parktwin.billing import BillingBasis
from parktwin.config import Frozen, load_toml
from parktwin.errors import InputError
from parktwin.files import atomic_path, staged_dir, unit_type_beside
from parktwin.industries import Industry
from parktwin.limits import GridLimits, grid_limits

#: Net formats `read_net` takes, by file suffix.
NET_SUFFIXES = (".json", ".m", ".mat")


# --- the mapping file ----------------------------------------------------------------------


class MapSite(Frozen):
    """``[site]``: the park's name, location (for PV) and exchange point."""

    name: str = Field(min_length=1)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    pcc: Literal["ext_grid"] | BranchMeter = "ext_grid"
    unit_trafo_kv: float = Field(default=10.0, gt=0)
    source: str = ""
    note: str = ""


class MapLimits(Frozen):
    """``[limits]``: any of ParkTwin's grid limits, overridden for this net."""

    v_min_pu: float | None = Field(default=None, gt=0.5, lt=1.0)
    v_max_pu: float | None = Field(default=None, gt=1.0, lt=1.5)
    loading_max_pct: float | None = Field(default=None, gt=0)
    source: str = ""


class MapEnterprise(Frozen):
    """``[[enterprises]]``: an enterprise, its industry and consumption, and its elements."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str | None = None
    industry: Industry
    loads: tuple[ElementRef, ...] = Field(min_length=1)
    annual_mwh: float | None = Field(default=None, gt=0)
    peak_kw: float | None = Field(default=None, gt=0)
    power_factor: float | None = Field(default=None, gt=0.5, le=1.0)
    pv: tuple[ElementRef, ...] = ()
    pv_kwp: float | None = Field(default=None, ge=0)
    pv_tilt_deg: float = Field(default=20.0, ge=0, le=90)
    pv_azimuth_deg: float = Field(default=180.0, ge=0, lt=360)
    meter: BranchMeter | None = None
    storage_bus: ElementRef | None = None
    transformer_kva: float = Field(default=0.0, ge=0)
    transformer_count: int = Field(default=0, ge=0, le=12)
    billing: BillingBasis | None = None
    contract_demand_kw: float | None = Field(default=None, gt=0)
    source: str = ""
    note: str = ""


class ImportMap(Frozen):
    """The mapping file of `twin grid import`."""

    site: MapSite
    limits: MapLimits | None = None
    enterprises: tuple[MapEnterprise, ...] = Field(min_length=1)
    storage: tuple[StorageGroup, ...] = ()


# --- reading the net -----------------------------------------------------------------------


def read_net(path: str | Path):
    """The pandapower net in `path`: pandapower JSON (``pandapower.from_json``) or a MATPOWER
    case (``.m`` or ``.mat``, pandapower's ``from_mpc``); one-line `InputError` if not."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in NET_SUFFIXES:
        raise InputError(
            f"{path}: expected a pandapower JSON (.json) or a MATPOWER case (.m, .mat),"
            f" got {suffix or 'no suffix'}"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    pp = _pandapower()
    from pandapower.converter.matpower import from_mpc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".json":
                net = pp.from_json(str(path))
            else:  # MATPOWER has no frequency; the park's grid runs at 50 Hz
                net = from_mpc(str(path), f_hz=50)
    except Exception as exc:  # pandapower and its readers raise many types; all mean "unreadable"
        what = "pandapower JSON" if suffix == ".json" else "MATPOWER case"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable {what}: {detail[:160]}") from exc
    if not isinstance(net, pp.pandapowerNet) or "bus" not in net or net.bus.empty:
        raise InputError(f"{path}: holds no pandapower net with buses")
    return net


# --- references into the net ---------------------------------------------------------------

_TABLE_WORD = {"load": "load", "sgen": "sgen", "bus": "bus", "line": "line", "trafo": "trafo"}


def _ref_text(ref: ElementRef) -> str:
    return repr(ref) if isinstance(ref, str) else str(ref)


class _Net:
    """The net with its topology, answering the mapping's questions in one-line errors.

    `where` prefixes every message (``map.toml``); `net_name` names the net (``net.json``).
    """

    def __init__(self, net, where: str, net_name: str) -> None:
        import pandapower.topology as top

        self.net, self.where, self.net_name = net, where, net_name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.graph = top.create_nxgraph(
                net, respect_switches=True, include_out_of_service=False
            )
        eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
        slack = set(eg.bus.tolist())
        if len(net.gen) and "slack" in net.gen:
            g = net.gen[net.gen.in_service.astype(bool) & net.gen.slack.astype(bool)]
            slack |= set(g.bus.tolist())
        self.slack = slack

    def fail(self, who: str, what: str) -> InputError:
        return InputError(f"{self.where}: {who}: {what}")

    def index(self, table: str, ref: ElementRef, who: str) -> int:
        """The pandapower index of the element `ref` (a name or an index) of `table`."""
        tab = self.net[table]
        word = _TABLE_WORD[table]
        if isinstance(ref, int):
            if ref not in tab.index:
                raise self.fail(who, f"{word} {ref}: no such {word} in {self.net_name}")
            return int(ref)
        hits = tab.index[tab.name.astype(object) == ref] if "name" in tab else []
        if len(hits) == 0:
            raise self.fail(who, f"{word} {ref!r}: no such {word} in {self.net_name}")
        if len(hits) > 1:
            raise self.fail(
                who,
                f"{word} {ref!r}: {len(hits)} {word}s of {self.net_name} have that name"
                f" (give the index: one of {', '.join(str(int(i)) for i in hits)})",
            )
        return int(hits[0])

    def label(self, table: str, idx: int) -> str:
        """An element's name, else ``table idx`` (for messages and tables)."""
        name = self.net[table].name.get(idx) if "name" in self.net[table] else None
        if isinstance(name, str) and name.strip():
            return name
        return f"{table} {idx}"

    def in_service(self, table: str, idx: int, ref: ElementRef, who: str) -> None:
        if not bool(self.net[table].at[idx, "in_service"]):
            raise self.fail(who, f"{table} {_ref_text(ref)}: is out of service in {self.net_name}")

    def energised(self, bus: int) -> bool:
        """Whether `bus` is connected to a slack over in-service, closed elements."""
        import networkx as nx

        if bus not in self.graph:
            return False
        return any(s in self.graph and nx.has_path(self.graph, bus, s) for s in self.slack)

    def ends(self, table: str, idx: int) -> tuple[int, int, str, str]:
        """A branch's (end bus a, end bus b, name of a, name of b) as pandapower's results
        name them (line from/to, trafo hv/lv)."""
        row = self.net[table].loc[idx]
        if table == "line":
            return int(row.from_bus), int(row.to_bus), "from", "to"
        return int(row.hv_bus), int(row.lv_bus), "hv", "lv"

    def inside_end(
        self, table: str, idx: int, inside: list[int], who: str, ref: ElementRef
    ) -> tuple[str, set]:
        """Which end of the branch faces the `inside` buses (the metered side), and the
        buses on that side: that side must hold every inside bus, the other a slack, and
        the branch must be a cut (nothing connects its two ends around it)."""
        import networkx as nx

        a, b, name_a, name_b = self.ends(table, idx)
        word = f"{table} {_ref_text(ref)}"
        g = self.graph
        edges = (
            [(u, v, k) for u, v, k in g.edges(a, keys=True) if k[0] == table and int(k[1]) == idx]
            if a in g
            else []
        )
        if not edges:
            raise self.fail(who, f"{word}: is out of service or switched open in {self.net_name}")
        cut = g.copy()
        cut.remove_edges_from(edges)
        side_a = nx.node_connected_component(cut, a)
        if b in side_a:
            raise self.fail(
                who,
                f"{word}: does not separate its side from the grid: the net connects its two"
                f" ends around it",
            )
        side_b = nx.node_connected_component(cut, b)
        for side, other, name in ((side_a, side_b, name_a), (side_b, side_a, name_b)):
            if all(x in side for x in inside):
                if not any(s in other for s in self.slack):
                    raise self.fail(
                        who,
                        f"{word}: does not feed the metered elements (no ext_grid on its"
                        f" side away from them)",
                    )
                return name, side
        raise self.fail(
            who,
            f"{word}: the metered elements are not all on one side of it"
            f" (buses {', '.join(self.label('bus', x) for x in sorted(set(inside)))})",
        )

    def feeder_of(self, bus: int) -> str:
        """The enterprise's feeder, for tables: on the shortest path from a slack to `bus`,
        the first line after the last transformer (the line leaving the busbar of its
        voltage level), else that transformer, else the first line, or ""."""
        import networkx as nx

        best = None
        for s in self.slack:
            if s in self.graph and bus in self.graph and nx.has_path(self.graph, s, bus):
                path = nx.shortest_path(self.graph, s, bus)
                if best is None or len(path) < len(best):
                    best = path
        if best is None or len(best) < 2:
            return ""
        keys = [min(self.graph.get_edge_data(u, v), key=str) for u, v in itertools.pairwise(best)]
        trafos = [k for k, key in enumerate(keys) if key[0] in ("trafo", "trafo3w")]
        after = keys[trafos[-1] + 1 :] if trafos else keys
        lines = [key for key in after if key[0] == "line"]
        table, idx = lines[0] if lines else (keys[trafos[-1]] if trafos else keys[0])
        return self.label(table, int(idx))


@dataclass(frozen=True)
class MeterAt:
    """A resolved branch meter: import = sign x the power into the branch at `end`."""

    table: str  # "line" or "trafo"
    position: int  # position in net.<table> (result column)
    end: str  # "from", "to", "hv" or "lv"
    sign: float  # -1 at the metered side's end, +1 at the far end
    inside: frozenset  # the buses on the metered side
    inside_bus: int  # the branch's end bus on the metered side


@dataclass(frozen=True)
class EnterpriseAt:
    """Where an enterprise sits in the net (positions = result columns of its tables)."""

    load_positions: np.ndarray  # in net.load
    load_share: np.ndarray  # the enterprise's load split over them (sums to 1)
    pv_positions: np.ndarray  # in net.sgen (the mapped PV sgens)
    pv_share: np.ndarray
    meter: MeterAt | None  # None: the sum of its own elements
    storage_bus: int  # pandapower bus index
    feeder: str


def _shares(weights: np.ndarray) -> np.ndarray:
    w = np.where(np.isfinite(weights) & (weights > 0), weights, 0.0)
    return w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))


def _resolve_meter(nt: _Net, meter: BranchMeter, inside: list[int], who: str) -> MeterAt:
    table = meter.table
    idx = nt.index(table, meter.ref, f"{who}: meter")
    inside_end, side = nt.inside_end(table, idx, inside, f"{who}: meter", meter.ref)
    end = meter.side or (inside_end if table == "line" else "hv")
    a, b, name_a, _ = nt.ends(table, idx)
    return MeterAt(
        table=table,
        position=int(nt.net[table].index.get_loc(idx)),
        end=end,
        sign=-1.0 if end == inside_end else 1.0,
        inside=frozenset(int(x) for x in side),
        inside_bus=a if inside_end == name_a else b,
    )


def resolve_enterprise(nt: _Net, name: str, m: EnterpriseNet) -> EnterpriseAt:
    """Check an enterprise's references against the net and resolve them."""
    who = f"enterprise {name!r}"
    net = nt.net
    loads = []
    for ref in m.loads:
        i = nt.index("load", ref, who)
        nt.in_service("load", i, ref, who)
        if float(net.load.at[i, "scaling"]) <= 0:
            raise nt.fail(who, f"load {_ref_text(ref)}: scaling is 0 in {nt.net_name}")
        if not nt.energised(int(net.load.at[i, "bus"])):
            raise nt.fail(who, f"load {_ref_text(ref)}: its bus is not connected to the grid")
        loads.append(i)
    pv = []
    for ref in m.pv:
        i = nt.index("sgen", ref, f"{who}: pv")
        nt.in_service("sgen", i, ref, f"{who}: pv")
        if float(net.sgen.at[i, "scaling"]) <= 0:
            raise nt.fail(f"{who}: pv", f"sgen {_ref_text(ref)}: scaling is 0 in {nt.net_name}")
        pv.append(i)
    load_bus = [int(net.load.at[i, "bus"]) for i in loads]
    inside = load_bus + [int(net.sgen.at[i, "bus"]) for i in pv]
    meter = None if m.meter is None else _resolve_meter(nt, m.meter, inside, who)
    if m.storage_bus is not None:
        bus = nt.index("bus", m.storage_bus, f"{who}: storage_bus")
        ref = _ref_text(m.storage_bus)
        if not nt.energised(bus):
            raise nt.fail(f"{who}: storage_bus", f"bus {ref}: not connected to the grid")
        if meter is not None and bus not in meter.inside:
            branch = nt.label(meter.table, int(net[meter.table].index[meter.position]))
            raise nt.fail(
                f"{who}: storage_bus",
                f"bus {ref}: not behind the enterprise's meter ({meter.table} {branch!r})",
            )
    elif meter is not None:
        bus = meter.inside_bus
    else:
        bus = load_bus[0]
    p_load = net.load.p_mw.to_numpy(np.float64) * net.load.scaling.to_numpy(np.float64)
    pos = np.array([net.load.index.get_loc(i) for i in loads], dtype=np.int64)
    spos = np.array([net.sgen.index.get_loc(i) for i in pv], dtype=np.int64)
    kwp = np.array([_sgen_kwp(net, i) for i in pv], dtype=np.float64)
    return EnterpriseAt(
        load_positions=pos,
        load_share=_shares(p_load[pos]),
        pv_positions=spos,
        pv_share=_shares(kwp) if len(pv) else np.zeros(0),
        meter=meter,
        storage_bus=int(bus),
        feeder=nt.feeder_of(load_bus[0]),
    )


def _sgen_kwp(net, i: int) -> float:
    """An sgen's rating [kWp]: its sn_mva, else its p_mw."""
    sn = float(net.sgen.at[i, "sn_mva"]) if "sn_mva" in net.sgen else math.nan
    if not (math.isfinite(sn) and sn > 0):
        sn = float(net.sgen.at[i, "p_mw"])
    return max(sn, 0.0) * 1000.0


def _claimed_once(nt: _Net, enterprises, field: str, table: str) -> None:
    """No element is claimed by two enterprises (as loads, or as PV)."""
    owner: dict[int, str] = {}
    for name, m in enterprises:
        who = f"enterprise {name!r}" + ("" if field == "loads" else f": {field}")
        for ref in getattr(m, field):
            i = nt.index(table, ref, who)
            if i in owner and owner[i] != name:
                raise nt.fail(
                    who, f"{table} {_ref_text(ref)}: already claimed by enterprise {owner[i]!r}"
                )
            owner[i] = name


def resolve_pcc(nt: _Net, pcc, inside: list[int]) -> MeterAt | None:
    """The park's exchange point: None for the ext_grids, else the resolved branch."""
    if pcc == "ext_grid":
        if not nt.slack:
            raise nt.fail("site.pcc", f"'ext_grid': {nt.net_name} has no ext_grid in service")
        return None
    return _resolve_meter(nt, pcc, inside, "site.pcc")


# --- the site's net ------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteNet:
    """A site's net (the engineer's plus the storage units) and where the twin acts on it."""

    enterprises: tuple[EnterpriseAt, ...]
    pcc: MeterAt | None
    unit_storage: np.ndarray  # positions in net.storage, unit order
    unit_trafo: np.ndarray  # positions in net.trafo
    unit_enterprise: np.ndarray
    unit_names: tuple[str, ...]
    added_pv: dict[int, int]  # enterprise position -> position of the sgen added for its PV
    own_buses: int  # the first own_buses positions of net.bus are the engineer's


def _load_site_net(site: Site):
    assert site.network is not None
    path = Path(site.network.file)
    try:
        return read_net(path)
    except InputError as exc:
        raise InputError(f"network.file: {exc}") from exc


def site_net(site: Site, net=None) -> tuple[object, SiteNet]:
    """The net of a site on its own net (`grid.netmap`), ready for the power flow: the
    engineer's net (read from ``network.file`` unless given) with each storage unit on its
    own bus and step-up transformer at its enterprise's ``storage_bus``, and a PV sgen for an
    enterprise whose PV the net does not hold (``pv_kwp`` > 0, no ``pv``). Every reference
    is checked; a wrong one raises a one-line `InputError` naming the enterprise and field."""
    assert site.network is not None, "site_net: the site has no [network]"
    net = copy.deepcopy(net) if net is not None else _load_site_net(site)
    check_net(net, Path(site.network.file).name)
    nt = _Net(net, f"site {site.name!r}", Path(site.network.file).name)
    pairs = [(e.name, e.net) for e in site.enterprises]
    _claimed_once(nt, pairs, "loads", "load")
    _claimed_once(nt, pairs, "pv", "sgen")
    at = tuple(resolve_enterprise(nt, name, m) for name, m in pairs)
    inside = [int(net.load.bus.iloc[p]) for a in at for p in a.load_positions]
    pcc = resolve_pcc(nt, site.network.pcc, inside)
    own_buses = len(net.bus)
    pp = _pandapower()
    added_pv = {}
    for k, (e, a) in enumerate(zip(site.enterprises, at, strict=True)):
        if e.pv_kwp > 0 and not len(a.pv_positions):
            bus = int(net.load.bus.iloc[a.load_positions[0]])
            i = pp.create_sgen(
                net, bus, p_mw=0.0, q_mvar=0.0, sn_mva=e.pv_kwp / 1000.0,
                name=f"{e.name} PV", type="PV",
            )  # fmt: skip
            added_pv[k] = int(net.sgen.index.get_loc(i))
    u_storage, u_trafo, u_ent, u_names = add_storage_units(net, site, [a.storage_bus for a in at])
    out = SiteNet(
        enterprises=at,
        pcc=pcc,
        unit_storage=np.array([net.storage.index.get_loc(i) for i in u_storage], np.int64),
        unit_trafo=np.array([net.trafo.index.get_loc(i) for i in u_trafo], np.int64),
        unit_enterprise=np.array(u_ent, dtype=np.int64),
        unit_names=tuple(u_names),
        added_pv=added_pv,
        own_buses=own_buses,
    )
    return net, out


def check_net(net, name: str) -> None:
    """Refuse a net the fast path does not model, naming the table (one line)."""
    from grid.powerflow import check_supported

    try:
        check_supported(net)
    except UnsupportedNetError as exc:
        raise UnsupportedNetError(f"{name}: {exc}") from exc


# --- import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What `import_network` wrote."""

    site_file: Path
    net_file: Path
    site: Site
    buses: int
    lines: int
    trafos: int


def _enterprise_data(
    nt: _Net, m: MapEnterprise, at: EnterpriseAt, load_factor: Callable[[str], float]
) -> dict:
    """The site's enterprise entry: consumption and PV completed from the net."""
    net = nt.net
    pos = at.load_positions
    p = net.load.p_mw.to_numpy(np.float64)[pos] * net.load.scaling.to_numpy(np.float64)[pos]
    q = net.load.q_mvar.to_numpy(np.float64)[pos] * net.load.scaling.to_numpy(np.float64)[pos]
    p_sum, q_sum = float(np.nansum(p)), float(np.nansum(q))
    who = f"enterprise {m.name!r}"
    peak, annual = m.peak_kw, m.annual_mwh
    lf = load_factor(m.industry)
    if peak is None and annual is None:
        if p_sum <= 0:
            raise nt.fail(who, "peak_kw: its loads have p_mw 0 in the net: give peak_kw")
        peak = p_sum * 1000.0
    if annual is None:
        annual = peak * lf * 8.76  # kW x h/yr / 1000 -> MWh
    if peak is None:
        peak = annual / 8.76 / lf
    pf = m.power_factor
    if pf is None:
        s = math.hypot(p_sum, q_sum)
        pf = min(1.0, max(0.51, p_sum / s)) if s > 0 and p_sum > 0 else 0.95
    kwp = m.pv_kwp
    if kwp is None:
        kwp = sum(_sgen_kwp(net, int(net.sgen.index[i])) for i in at.pv_positions)
    data = m.model_dump(
        exclude={"loads", "pv", "meter", "storage_bus", "pv_kwp", "peak_kw", "annual_mwh"},
        exclude_none=True,
    )
    data.update(
        label=m.label or m.name,
        feeder=at.feeder,
        annual_mwh=round(float(annual), 3),
        peak_kw=round(float(peak), 3),
        power_factor=round(float(pf), 4),
        pv_kwp=round(float(kwp), 3),
        net=EnterpriseNet(
            loads=m.loads, pv=m.pv, meter=m.meter, storage_bus=m.storage_bus
        ).model_dump(exclude_none=True),
    )
    return data


def _limits(m: MapLimits | None) -> GridLimits | None:
    if m is None:
        return None
    base = grid_limits()
    src = m.source or "the import's map file"
    return base.model_copy(
        update={
            "v_min_pu": base.v_min_pu if m.v_min_pu is None else m.v_min_pu,
            "v_max_pu": base.v_max_pu if m.v_max_pu is None else m.v_max_pu,
            "loading_max_pct": base.loading_max_pct
            if m.loading_max_pct is None
            else m.loading_max_pct,
            "voltage_source": base.voltage_source if m.v_min_pu is m.v_max_pu is None else src,
            "loading_source": base.loading_source if m.loading_max_pct is None else src,
        }
    )


def plan_import(
    net_path: str | Path,
    map_path: str | Path,
    load_factor: Callable[[str], float],
    net_file_name: str = "net.json",
) -> tuple[object, Site, dict]:
    """Read the net and the map, check the map against the net; the net, the site and the
    site's TOML data (its ``network.file`` = `net_file_name`). Nothing is written."""
    mapping = load_toml(map_path, ImportMap)
    net = read_net(net_path)
    net_name = Path(net_path).name
    check_net(net, net_name)
    nt = _Net(net, str(map_path), net_name)
    pairs = [(e.name, e) for e in mapping.enterprises]
    names = [e.name for e in mapping.enterprises]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise InputError(f"{map_path}: enterprises[{i}].name: duplicate name {n!r}")
    _claimed_once(nt, pairs, "loads", "load")
    _claimed_once(nt, pairs, "pv", "sgen")
    at = []
    for e in mapping.enterprises:
        m = EnterpriseNet(loads=e.loads, pv=e.pv, meter=e.meter, storage_bus=e.storage_bus)
        at.append(resolve_enterprise(nt, e.name, m))
    inside = [int(net.load.bus.iloc[p]) for a in at for p in a.load_positions]
    resolve_pcc(nt, mapping.site.pcc, inside)
    s = mapping.site
    limits = _limits(mapping.limits)
    network = SiteNetwork(
        file=net_file_name, pcc=s.pcc, unit_trafo_kv=s.unit_trafo_kv, limits=limits
    )
    data = {
        "name": s.name,
        "latitude": s.latitude,
        "longitude": s.longitude,
        "source": s.source or f"twin grid import {net_name} --map {Path(map_path).name}",
        "note": s.note,
        "network": network.model_dump(exclude_none=True),
        "enterprises": [
            _enterprise_data(nt, e, a, load_factor)
            for e, a in zip(mapping.enterprises, at, strict=True)
        ],
        # a unit-type file is taken from the map's folder, written as an absolute path
        "storage": [
            {
                **g.model_dump(exclude_none=True),
                "unit_type": unit_type_beside(g.unit_type, map_path),
            }
            for g in mapping.storage
        ],
    }
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        raise InputError(_describe(str(map_path), exc)) from exc
    # the units' transformers and buses: built once here so a mistake shows at import
    site_net(site.model_copy(update={"network": network.model_copy(update={"file": net_name})}),
             net)  # fmt: skip
    return net, site, data


def import_network(
    net_path: str | Path,
    map_path: str | Path,
    out: str | Path,
    load_factor: Callable[[str], float],
) -> ImportResult:
    """Import `net_path` with the map `map_path` as a site at `out`.

    `out` ending in ``.toml``: that site file, with the net beside it (``<stem>.net.json``);
    otherwise a folder (written staged: whole or not at all) holding ``site.toml`` and
    ``net.json``. `load_factor(industry)` (mean / peak of the industry's profile) completes
    an enterprise given only its peak or only its annual energy.
    """
    out = Path(out)
    as_file = out.suffix.lower() == ".toml"
    net_name = f"{out.stem}.net.json" if as_file else "net.json"
    net, site, data = plan_import(net_path, map_path, load_factor, net_name)
    text = tomli_w.dumps(_drop_empty(data))
    pp = _pandapower()

    def write(folder: Path, site_name: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.to_json(net, str(folder / net_name))
        (folder / site_name).write_text(text, encoding="utf-8")

    if as_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out.parent / net_name) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.to_json(net, str(tmp))
        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
        site_file = out
    else:
        with staged_dir(out) as stage:
            write(stage, "site.toml")
        site_file = out / "site.toml"
    return ImportResult(
        site_file=site_file,
        net_file=site_file.parent / net_name,
        site=site,
        buses=len(net.bus),
        lines=len(net.line),
        trafos=len(net.trafo) + len(net.trafo3w),
    )


def _drop_empty(d):
    """TOML has no null: drop None values at every level."""
    if isinstance(d, dict):
        return {k: _drop_empty(v) for k, v in d.items() if v is not None}
    if isinstance(d, list | tuple):
        return [_drop_empty(v) for v in d]
    return d


# --- the site's net as pandapower JSON, and its description --------------------------------


def export_site_json(site: Site, path: str | Path) -> Path:
    """The site's net (units included) as pandapower JSON, a peak snapshot: every enterprise
    at its peak and power factor, its PV and storage at zero (other elements as the net
    has them), written atomically."""
    work, ix = site_net(site)
    for e, a in zip(site.enterprises, ix.enterprises, strict=True):
        tan_phi = math.tan(math.acos(e.power_factor))
        rows = work.load.index[a.load_positions]
        scale = work.load.scaling.to_numpy(np.float64)[a.load_positions]
        p = e.peak_kw / 1000.0 * a.load_share / scale
        work.load.loc[rows, "p_mw"] = p
        work.load.loc[rows, "q_mvar"] = p * tan_phi
        work.sgen.loc[work.sgen.index[a.pv_positions], ["p_mw", "q_mvar"]] = 0.0
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _pandapower().to_json(work, str(tmp))
    return path


@dataclass(frozen=True)
class NetSiteDescription:
    """Rows of plain values describing a site on its own net (for `twin grid show`)."""

    network: dict
    enterprises: list[dict]
    storage: list[dict]
    totals: dict


def describe_net_site(site: Site) -> NetSiteDescription:
    """The net's size and exchange point, each enterprise's elements, meter and storage."""
    assert site.network is not None
    net, ix = site_net(site)
    nt = _Net(net, "", Path(site.network.file).name)
    own = ix.own_buses
    vn = net.bus.vn_kv.to_numpy(np.float64)[:own]
    pcc = ix.pcc
    pcc_text = (
        "ext_grid" if pcc is None else f"{pcc.table} {nt.label(pcc.table, net[pcc.table].index[pcc.position])} ({pcc.end})"
    )  # fmt: skip
    counts = {
        t: len(net[t])
        for t in ("bus", "line", "trafo", "trafo3w", "switch", "load", "sgen", "gen", "ext_grid")
    }
    counts["bus"] = own
    counts["trafo"] -= len(ix.unit_trafo)
    counts["sgen"] -= len(ix.added_pv)
    network = {
        "file": site.network.file,
        "voltages_kv": sorted({round(float(v), 3) for v in vn}),
        "pcc": pcc_text,
        **counts,
    }
    pcs = {e.name: 0.0 for e in site.enterprises}
    for g in site.storage:
        pcs[g.enterprise] += (g.pcs_kva or g.trafo_kva) * g.count
    rows = []
    for e, a in zip(site.enterprises, ix.enterprises, strict=True):
        m = a.meter
        meter = (
            "own elements"
            if m is None
            else f"{nt.label(m.table, net[m.table].index[m.position])} ({m.end})"
        )
        rows.append(
            {
                "name": e.name,
                "industry": e.industry,
                "feeder": e.feeder,
                "loads": ", ".join(nt.label("load", net.load.index[p]) for p in a.load_positions),
                "meter": meter,
                "storage_bus": nt.label("bus", a.storage_bus),
                "peak_kw": e.peak_kw,
                "mean_kw": e.mean_kw,
                "pv_kwp": e.pv_kwp,
                "storage_kva": pcs[e.name],
            }
        )
    storage = storage_rows(site)
    totals = {
        "enterprises": len(site.enterprises),
        "storage_units": sum(g.count for g in site.storage),
        "storage_pcs_kva": sum(pcs.values()),
        "peak_kw_sum": sum(e.peak_kw for e in site.enterprises),
        "annual_mwh": sum(e.annual_mwh for e in site.enterprises),
        "pv_kwp": sum(e.pv_kwp for e in site.enterprises),
    }
    return NetSiteDescription(network, rows, storage, totals)


__all__ = [
    "ImportMap",
    "ImportResult",
    "SiteNet",
    "describe_net_site",
    "export_site_json",
    "import_network",
    "plan_import",
    "read_net",
    "site_net",
]
