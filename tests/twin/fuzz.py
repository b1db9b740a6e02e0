"""Hypothesis strategies that turn a valid input file into valid and broken variants.

A document (the parsed TOML of a shipped file) gets a few edits: a value replaced by a value
of any type and size, a key dropped, an unknown key added, an item of a list dropped. The
TOML text may then be damaged (cut short, a character inserted). Most variants are broken;
some stay valid; both kinds must end in a result or one line naming the file.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path

import tomli_w
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

# Values of every TOML type, including the awkward ones (NaN, huge, empty, far dates).
values = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2, 7, 366, 367, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.1, 1e-9, 900.0, 3600.1, 1e300]),
    st.text(max_size=20),
    st.sampled_from(["", "tou", "lp", "xinsheng", "a:B", "x" * 300, "../../etc/passwd"]),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    st.lists(st.integers(-5, 5), max_size=3),
    st.lists(st.text(max_size=5), max_size=3),
    st.just({}),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2),
)


def _paths(doc, prefix=()) -> list[tuple]:
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _parent(doc, path):
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def edited_toml(draw, base: dict, max_edits: int = 3) -> str:
    """TOML text of `base` after 0..max_edits edits, sometimes damaged as text."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, max_edits))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        op = draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
        if op == "set":
            parent[path[-1]] = draw(values)
        elif op == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    text = tomli_w.dumps(doc)
    damage = draw(st.sampled_from(["none"] * 8 + ["cut", "insert"]))
    if damage == "cut" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif damage == "insert":
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from(['"', "[", "]", "=", "\n[[x]]\n", "\x00", "é"]))
            + text[at:]
        )
    return text


def shipped(path: str) -> dict:
    """A shipped TOML file, parsed (the valid starting point)."""
    return tomllib.loads((ROOT / path).read_text(encoding="utf-8"))


SCENARIO = {
    "start": dt.date(2025, 4, 7),
    "days": 2,
    "step_s": 900.0,
    "control_s": 900.0,
    "strategy": "tou",
    "strategy_params": {},
    "seed": 3,
    "soc0": 0.5,
    "storage_groups": ["xinsheng-ess"],
    "guards": {"anti_backflow": True, "backflow_margin_kw": 100.0, "soc_min": 0.1},
    "faults": [{"kind": "pcs_trip", "unit": 0, "at_s": 3600.0, "duration_s": 600.0}],
    "network": "copper_plate",
}
