"""Beyond-accuracy columns, per-group tables and the accuracy-vs-novelty/coverage Pareto fronts."""

import json

import numpy as np
import pytest

from recbench.cli import main
from recbench.experiment import train
from recbench.leaderboard.collect import collect_runs
from recbench.leaderboard.formats import to_markdown
from recbench.leaderboard.report import accuracy_vs, pareto_front, to_html
from recbench.leaderboard.table import build_leaderboard
from tests.helpers import compose_config


@pytest.fixture(scope="module")
def grouped_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("grouped")
    for model in ("pop", "itemknn"):
        train(compose_config([f"model={model}", "evaluation.user_groups=[activity]", "seed=1"], root / model))
    return root


def test_beyond_columns_and_lower_is_better_bold(grouped_runs, capsys):
    assert main(["leaderboard", str(grouped_runs), "--beyond", "--test", "none"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| #"))
    for column in ("test/novelty@10", "test/arp@10", "test/aplt@10", "test/gini@10", "test/coverage@10"):
        assert column in header
    board = build_leaderboard(collect_runs([grouped_runs]), columns=["test/arp@10"], test=None)
    arp = {row["model"]: row["test/arp@10"] for _, row in board.table.iterrows()}
    lower = min(arp, key=arp.get)  # the lower ARP is the better one: bold
    line = next(line for line in to_markdown(board).splitlines() if f"| {lower} |" in line)
    assert f"**{arp[lower]:.4f}**" in line


def test_group_tables_show_each_group_gap_and_item_exposure(grouped_runs, capsys):
    assert main(["leaderboard", str(grouped_runs), "--groups", "--test", "none"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((grouped_runs / "pop" / "results.json").read_text())
    entry = saved["fairness"]["test"]["activity"]["ndcg@10"]
    row = next(line for line in out.splitlines() if line.startswith("| pop |") and "activity" in line)
    assert f"{entry['gap']:.4f}" in row
    for name, group in entry["groups"].items():
        assert f"{name} {group['mean']:.4f} ({group['n']})" in row
    head = saved["metrics"]["test/head_exposure@10"]
    assert any(line.startswith("| pop |") and f"{head:.3f}" in line for line in out.splitlines())


def test_pareto_front_when_higher_is_better_on_both_axes():
    novelty = np.array([2.0, 3.0, 1.0, 3.0])
    accuracy = np.array([0.30, 0.20, 0.40, 0.10])
    # (3.0, 0.20) beats (3.0, 0.10); (2.0, 0.30) and (1.0, 0.40) trade novelty for accuracy.
    assert sorted(pareto_front(-novelty, accuracy).tolist()) == [0, 1, 2]


def test_html_report_has_novelty_and_coverage_plots(grouped_runs):
    board = build_leaderboard(collect_runs([grouped_runs]), test=None)
    page = to_html(board)
    assert 'alt="accuracy vs novelty' in page and 'alt="accuracy vs coverage' in page
    block = board.table
    assert accuracy_vs(block, "test/ndcg@10", "test/no_such@10", "x", True) is None


def test_parser_formats_match_the_exporters():
    # The command lists the formats without importing the exporters (so `recbench` starts fast).
    from recbench.leaderboard.command import FORMATS
    from recbench.leaderboard.export import EXPORTERS

    assert sorted(FORMATS) == sorted(EXPORTERS)
