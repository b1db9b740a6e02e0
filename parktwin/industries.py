"""The industries an enterprise of the park can belong to.

The site file names each enterprise's industry (`grid.site`); the load profiles draw a
shape per industry (`profiles.loads`, shapes in ``profiles/data/industries.toml``). Both
take the names from here.
"""

from __future__ import annotations

from typing import Literal, get_args

#: An enterprise's industry, as written in site files.
Industry = Literal[
    "magnets",
    "auto_parts",
    "auto_lamps",
    "bearings",
    "machining",
    "robotics",
    "textiles",
    "new_materials",
]

#: Every industry, in a fixed order (the order seeds the load profiles' random draws).
INDUSTRIES: tuple[str, ...] = get_args(Industry)
