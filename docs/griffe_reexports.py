"""Griffe extension for the API pages: document each object once, where it is defined.

A package's ``__init__`` re-exports its public names (``from devices.fleet import Fleet``);
mkdocstrings would render them there and again in their module. This drops the aliases
that point inside the same package, so the package shows its docstring and its modules.
"""

from __future__ import annotations

from typing import Any

import griffe


class HideReexports(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack = [pkg]
        while stack:
            module = stack.pop()
            for name, member in list(module.members.items()):
                if member.is_alias:
                    if member.target_path.startswith(f"{pkg.name}."):
                        del module.members[name]
                elif member.is_module:
                    stack.append(member)
