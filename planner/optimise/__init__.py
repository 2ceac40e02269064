"""Site selection on an ``Instance``: ``solve`` and the solver-independent ``check_solution``.

Attributes are imported lazily so that reading ``planner.optimise.types`` (as
``planner.instance`` does) never loads OR-Tools.
"""

from __future__ import annotations

from typing import Any

__all__ = ["solve", "check_solution", "CheckFailed", "CheckReport", "objective_value", "per_site_explain", "precheck"]

_WHERE = {
    "solve": "planner.optimise.solve",
    "check_solution": "planner.optimise.check",
    "CheckFailed": "planner.optimise.check",
    "CheckReport": "planner.optimise.check",
    "objective_value": "planner.optimise.check",
    "per_site_explain": "planner.optimise.check",
    "precheck": "planner.optimise.feasibility",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'planner.optimise' has no attribute {name!r}")
