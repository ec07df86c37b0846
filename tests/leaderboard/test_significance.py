"""Holm's correction and the paired tests on hand-made vectors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recbench.leaderboard.significance import compare_block, holm, paired_p_value


def test_holm_by_hand():
    # m = 3 finite p-values: 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> raised to 0.06 (monotone).
    adjusted = holm([0.01, 0.04, 0.03, math.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])     # capped at 1


def test_paired_t_test_matches_the_closed_form():
    best = np.array([0.5, 0.7, 0.2, 0.9, 0.4, 0.6])
    other = np.array([0.4, 0.5, 0.3, 0.6, 0.4, 0.3])
    d = best - other
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert paired_p_value(best, other, "ttest") == pytest.approx(2 * stats.t.sf(abs(t), len(d) - 1))


def test_degenerate_differences():
    x = np.array([0.1, 0.2, 0.3])
    assert paired_p_value(x, x, "ttest") == 1.0 and paired_p_value(x, x, "wilcoxon") == 1.0
    assert paired_p_value(x + 0.1, x, "ttest") == 0.0        # the same gain for every user
    assert math.isnan(paired_p_value(x[:1], x[:1] - 1, "ttest"))


def test_compare_block_pairs_on_user_ids_not_positions():
    best = pd.Series([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2], index=list("abcdefgh"))
    # The same values in another order, indexed by the same users: identical per user.
    shuffled = best.sample(frac=1.0, random_state=0)
    worse = best - 0.1 + np.linspace(0, 0.01, 8)
    result = compare_block(best, {"same": shuffled, "worse": worse, "none": None}, {1, 2},
                           {"same": {1, 2}, "worse": {1, 2}, "none": {3}}, "ttest", 0.05)
    assert result["same"].p_value == 1.0 and not result["same"].significant
    assert result["worse"].significant and result["worse"].n_users == 8
    assert result["none"].n_users == 0 and not result["none"].same_seeds
    # Holm over the two finite comparisons.
    assert result["worse"].p_holm == pytest.approx(min(1.0, 2 * result["worse"].p_value))
