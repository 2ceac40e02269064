"""Rollout scheduling: in which quarter each new store opens, limited by managers, money and command.

The rooms: :mod:`.types` (the data: :class:`RolloutInstance`, :class:`RolloutParams`,
:class:`RolloutResult`, quarter labels, table columns), :mod:`.model` (the value model
and manager pool), :mod:`.chain` (the chain-of-command rule), :mod:`.greedy` (the
quarter greedy), :mod:`.linearise` and :mod:`.mip` (the time-indexed MIP),
:mod:`.feasibility` (caps and upfront explanations) and :mod:`.solve` (the entry
points :func:`schedule`, :func:`plan_joint`, :func:`plan_rollout`). Every result is
verified by the independent :func:`planner.optimise.rollout_check.check_rollout`.

Attributes are imported lazily, as in :mod:`planner.optimise`, so that reading
``planner.optimise.rollout.types`` or ``.chain`` (as ``planner.instance`` does)
never loads OR-Tools. (The entry points live in ``solve.py``, as the site selection's
do in ``planner.optimise.solve``: a submodule named ``schedule`` would shadow the
function :func:`schedule` once imported.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from planner.optimise.rollout.solve import plan_joint, plan_rollout, schedule
    from planner.optimise.rollout.types import (
        TABLE_COLUMNS,
        RolloutInstance,
        RolloutParams,
        RolloutResult,
        quarter_labels,
    )
    from planner.optimise.rollout_check import check_rollout

__all__ = [
    "RolloutInstance",
    "RolloutParams",
    "RolloutResult",
    "schedule",
    "plan_joint",
    "plan_rollout",
    "check_rollout",
    "quarter_labels",
    "TABLE_COLUMNS",
]

_WHERE = {
    "RolloutInstance": "planner.optimise.rollout.types",
    "RolloutParams": "planner.optimise.rollout.types",
    "RolloutResult": "planner.optimise.rollout.types",
    "quarter_labels": "planner.optimise.rollout.types",
    "TABLE_COLUMNS": "planner.optimise.rollout.types",
    "schedule": "planner.optimise.rollout.solve",
    "plan_joint": "planner.optimise.rollout.solve",
    "plan_rollout": "planner.optimise.rollout.solve",
    "check_rollout": "planner.optimise.rollout_check",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'planner.optimise.rollout' has no attribute {name!r}")
