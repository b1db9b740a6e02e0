"""Candidates: one expansion option each, expanded from the study's grids, with a stable key.

The key is a hash of the candidate's fields only (not of its position in the file), so a
study resumed after edits to the candidate list still recognises what it already ran.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence

from pydantic import Field

from parktwin.config import Frozen
from parktwin.errors import InputError
from twin.study.model import CandidateGrid, Study

# IEC 60076 / GB/T 6451 preferred ratings of distribution transformers, kVA.
STANDARD_TRAFO_KVA = (630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0)


class Candidate(Frozen):
    """One option: `units` storage units of `unit_type` behind `enterprise`'s meter."""

    enterprise: str
    unit_type: str
    units: int = Field(ge=0)
    pcs_kva: float = Field(gt=0.0)
    trafo_kva: float = Field(gt=0.0)
    strategy: str

    @property
    def key(self) -> str:
        """Stable 16-hex-digit hash of the fields (sorted JSON, floats as repr)."""
        return stable_key(self.model_dump())

    @property
    def label(self) -> str:
        return (
            f"{self.enterprise} {self.units}x{self.unit_type} "
            f"PCS {self.pcs_kva:g} kVA TR {self.trafo_kva:g} kVA {self.strategy}"
        )


def stable_key(fields: dict) -> str:
    """sha256 of the sorted JSON of `fields`, first 16 hex digits."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def default_trafo_kva(pcs_kva: float, sizes: Sequence[float] = STANDARD_TRAFO_KVA) -> float:
    """The smallest rating of `sizes` that carries the PCS at full apparent power (the
    largest one if none does: the caller's limit check then names the problem)."""
    for rating in sorted(sizes):
        if rating >= pcs_kva - 1e-9:
            return float(rating)
    return float(max(sizes)) if len(sizes) else pcs_kva


def _values(value: tuple | None) -> tuple:
    return (None,) if value is None else value


def expand_grid(
    grid: CandidateGrid,
    where: str,
    enterprise_names: Sequence[str],
    pcs_kva_of: Callable[[str], float],
    trafo_sizes: Sequence[float] = STANDARD_TRAFO_KVA,
) -> list[Candidate]:
    """The cartesian product of one candidate grid; `where` names it in errors.

    `pcs_kva_of(unit_type)` gives a unit type's rated PCS kVA (and raises InputError for an
    unknown type); an omitted transformer is the smallest of `trafo_sizes` above the PCS.
    """
    if grid.enterprises == "all":
        enterprises = tuple(enterprise_names)
    else:
        for name in grid.enterprises:
            if name not in enterprise_names:
                raise InputError(
                    f"{where}.enterprises: unknown enterprise {name!r} "
                    f"(the site has {', '.join(enterprise_names)})"
                )
        enterprises = grid.enterprises
    out = []
    for ent, utype, units, pcs, trafo, strategy in itertools.product(
        enterprises,
        grid.unit_type,
        _values(grid.units),
        _values(grid.pcs_kva),
        _values(grid.trafo_kva),
        grid.strategy,
    ):
        try:
            rated = pcs_kva_of(utype)
        except InputError as exc:
            raise InputError(f"{where}.unit_type: {exc}") from exc
        pcs = float(pcs) if pcs is not None else float(rated)
        trafo = float(trafo) if trafo is not None else default_trafo_kva(pcs, trafo_sizes)
        out.append(
            Candidate(
                enterprise=ent,
                unit_type=utype,
                units=int(units),
                pcs_kva=pcs,
                trafo_kva=trafo,
                strategy=strategy,
            )
        )
    return out


def expand_candidates(
    study: Study,
    enterprise_names: Sequence[str],
    pcs_kva_of: Callable[[str], float],
    trafo_sizes: Sequence[float] = STANDARD_TRAFO_KVA,
) -> list[Candidate]:
    """Every candidate of the study, in file order, duplicates removed (first kept)."""
    seen: dict[str, Candidate] = {}
    for i, grid in enumerate(study.candidates):
        where = f"candidates[{i}]"
        for cand in expand_grid(grid, where, enterprise_names, pcs_kva_of, trafo_sizes):
            seen.setdefault(cand.key, cand)
    if len(seen) > 5000:
        raise InputError(f"candidates: {len(seen)} candidates; more than 5000 is not a study")
    return list(seen.values())
