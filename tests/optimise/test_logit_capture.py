"""Maximum-capture (logit) instances: the market-share solve proves the enumerated optimum.

Instances come from ``planner.synthetic.logit_utilities`` (generated in the style of
the literature's HM14 sets): dense pairs, strengths over hundreds of orders of
magnitude, ``pair_km`` nothing like a distance. The optimum is found here by scoring
every plan with the logit formula directly (no encoding), so the test does not grade
the solver with its own objective.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.optimise.solve import solve
from planner.synthetic import encode_logit, logit_capture, logit_utilities


def _enumerated(q: np.ndarray, v: np.ndarray, log_u: np.ndarray, r: int) -> float:
    top = np.maximum(v.max(axis=1), log_u)
    e = np.exp(v - top[:, None])
    u = np.exp(log_u - top)
    best = -np.inf
    for plan in itertools.combinations(range(v.shape[1]), r):
        s = e[:, plan].sum(axis=1)
        best = max(best, float(q @ (s / (s + u))))
    return best


@pytest.mark.parametrize(
    ("n", "r", "beta_util", "alpha", "seed"),
    [(24, 3, 0.2, 0.1, 0), (24, 4, 1.0, 0.01, 1), (20, 3, 5.0, 0.1, 2), (22, 3, 0.05, 1.0, 3)],
)
def test_solve_reaches_and_proves_the_enumerated_optimum(
    n: int, r: int, beta_util: float, alpha: float, seed: int
) -> None:
    q, v, log_u = logit_utilities(n, seed=seed, beta_util=beta_util, alpha=alpha)
    opt = _enumerated(q, v, log_u, r)
    inst = encode_logit(q, v, log_u, r)
    sol = solve(inst, "market_share", time_limit_s=30, gap_target=0.0, max_enumerated=0)
    assert logit_capture(q, v, log_u, sol.open_sites) == pytest.approx(sol.objective, rel=1e-9)
    assert sol.objective == pytest.approx(opt, rel=1e-9)
    assert sol.bound is not None and sol.bound >= opt * (1 - 1e-9)
    assert sol.gap is not None and sol.gap <= 0.01


@pytest.mark.parametrize(("n", "r", "beta_util"), [(60, 5, 0.2), (60, 8, 0.05)])
def test_solve_gap_within_one_percent_on_larger_logit_instances(n: int, r: int, beta_util: float) -> None:
    q, v, log_u = logit_utilities(n, seed=7, beta_util=beta_util, alpha=0.1)
    sol = solve(encode_logit(q, v, log_u, r), "market_share", time_limit_s=10, max_enumerated=0)
    assert sol.gap is not None and sol.gap <= 0.01
    assert sol.bound is not None and sol.bound >= sol.objective
