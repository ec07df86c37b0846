"""Exports: Markdown, CSV, LaTeX, and the HTML report opened in headless Chromium."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from recbench.leaderboard import build_leaderboard, collect_runs
from recbench.leaderboard.formats import latex_escape, to_csv, to_latex, to_markdown
from recbench.leaderboard.report import pareto_front, to_html
from recbench.leaderboard.table import STD


@pytest.fixture(scope="module")
def board(runs_root):
    """Three groups: pop, the bad MLP, and its rerun kept apart by folder."""
    return build_leaderboard(collect_runs([runs_root / "main", runs_root / "rerun"]), by_source=True)


def test_markdown_has_a_row_per_group_and_marks_the_worse_ones(board):
    lines = to_markdown(board).splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(board.table) == 5
    assert table[2].startswith("| 1 | pop @ ") and "**" in table[2]
    assert all(line.split("|")[2].strip().endswith(" *") for line in table[3:])   # both MLPs worse
    assert "paired t-test" in lines[-1] and "alpha=0.05" in lines[-1]


def test_csv_round_trips_the_numbers(board):
    frame = pd.read_csv(io.StringIO(to_csv(board)))
    assert len(frame) == 3
    for metric in board.columns:
        np.testing.assert_allclose(frame[metric], board.table[metric].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(frame[metric + STD], board.table[metric + STD].to_numpy(), rtol=1e-12)
    assert list(frame["significant"]) == [False, True, True]
    assert frame["seeds"].tolist() == ["1 2 3"] * 3


def test_latex_is_a_booktabs_tabular(board):
    text = to_latex(board)
    lines = text.splitlines()
    assert lines[0].startswith(r"\begin{tabular}{rlll") and lines[1] == r"\toprule"
    assert lines[3] == r"\midrule" and r"\bottomrule" in lines and r"\end{tabular}" in lines
    body = lines[4:4 + len(board.table)]
    assert all(line.endswith(r" \\") for line in body)
    assert r"$\pm$" in body[0] and r"\textbf{" in body[0] and body[1].count("$^*$") == 1
    # Every row has as many cells as the header.
    assert {line.count(" & ") for line in lines[2:3] + body} == {lines[2].count(" & ")}
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"


def test_pareto_front_by_hand():
    seconds = np.array([1.0, 2.0, 3.0, 0.5, 2.5])
    accuracy = np.array([0.30, 0.25, 0.40, 0.10, 0.40])
    # 0.5 s/0.10, then 1 s/0.30 beats it; 2 s/0.25 is dominated; 2.5 s/0.40 beats 3 s/0.40.
    assert pareto_front(seconds, accuracy).tolist() == [3, 0, 4]


class _Dom(HTMLParser):
    """Counts what the test needs in Chromium's serialised DOM."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.table_attrs, self._in_body = 0, [], {}, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "leaderboard":
            self.table_attrs = attrs
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body and "group" in attrs.get("class", "").split():
            self.rows += 1
        if tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False


def test_html_report_opens_in_headless_chromium(board, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (run .ci/chromium.sh as root to install it)")
    report = tmp_path / "report.html"
    report.write_text(to_html(board), encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = _Dom()
    parsed.feed(dom)
    assert parsed.rows == len(board.table) == 3
    # The page's script ran (it marks the table sortable) and the plots are embedded images.
    assert parsed.table_attrs.get("data-sortable") == "ready"
    plots = [img for img in parsed.images if img.get("class") == "plot"]
    assert [img["alt"].split(",")[0] for img in plots] == ["metric@K curves", "accuracy vs training time",
                                                           "accuracy vs novelty", "accuracy vs coverage"]
    for img in plots:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in dom and "https://" not in dom      # nothing fetched from the network
