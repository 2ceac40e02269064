"""The pipeline's chain-of-command repair asks the rule's one home (planner.optimise.rollout.chain)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from planner.pipeline import chain_of_command_violations


def _prep(need: int, enabled: bool = True) -> SimpleNamespace:
    sites = pd.DataFrame({
        "province_code": ["440000", "440000", "450000", "450000", "450000", "460000", "460000"],
        "is_county": [False, True, False, True, True, True, False],
        "existing": [True, False, False, False, True, False, True],
    })
    rollout = SimpleNamespace(enabled=enabled, city_stores_before_county=need)
    return SimpleNamespace(scenario=SimpleNamespace(rollout=rollout), built=SimpleNamespace(sites=sites))


def test_provinces_with_new_county_stores_short_of_city_stores() -> None:
    every = np.arange(7)
    # 440000: 1 city store + a new county store; 450000: 1 city + a new county; 460000: 1 city + a new county
    assert chain_of_command_violations(_prep(2), every) == ["440000", "450000", "460000"]
    assert chain_of_command_violations(_prep(1), every) == []
    # an existing county store needs no unlocking; a province without new county stores is fine
    assert chain_of_command_violations(_prep(2), np.array([0, 2, 4, 6])) == []
    assert chain_of_command_violations(_prep(2), np.array([0, 1, 2, 3])) == ["440000", "450000"]
    assert chain_of_command_violations(_prep(2, enabled=False), every) == []
    assert chain_of_command_violations(_prep(0), every) == []
