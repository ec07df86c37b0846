"""A self-contained HTML report: sortable table and matplotlib plots embedded as base64 PNG.

Nothing is fetched from the network: styles, script and images are all inside the file.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re

import numpy as np
import pandas as pd

from recbench.leaderboard.formats import rows
from recbench.leaderboard.table import STD, Leaderboard

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
tr.worse td { color: #a33; }
img.plot { max-width: 100%; margin: 1em 0; border: 1px solid #eee; }
p.note { color: #555; max-width: 70em; }
"""

# Click a header to sort by it (numbers by their data-value, text by its content); click again
# to reverse. Marks the table ready, so a headless browser can tell that the script ran.
_SCRIPT = """
(function () {
  var table = document.getElementById("leaderboard");
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  function value(row, i) {
    var cell = row.cells[i], v = cell.getAttribute("data-value");
    if (v === null) return cell.textContent;
    var n = parseFloat(v);
    return isNaN(n) ? -Infinity : n;
  }
  Array.prototype.forEach.call(headers, function (th, i) {
    th.addEventListener("click", function () {
      var desc = !th.classList.contains("sorted-desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = value(a, i), y = value(b, i);
        var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return desc ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      Array.prototype.forEach.call(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(desc ? "sorted-desc" : "sorted-asc");
    });
  });
  table.setAttribute("data-sortable", "ready");
})();
"""


def _figure(figsize):
    # A bare Figure, not pyplot: no global state, no GUI backend, nothing to close.
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _families(columns: list[str]) -> dict[str, list[tuple[int, str]]]:
    """``test/ndcg@10, test/ndcg@20`` -> ``{"test/ndcg": [(10, "test/ndcg@10"), (20, ...)]}``."""
    out: dict[str, list[tuple[int, str]]] = {}
    for column in columns:
        match = re.fullmatch(r"(.+)@(\d+)", column)
        if match:
            out.setdefault(match.group(1), []).append((int(match.group(2)), column))
    return {family: sorted(points) for family, points in out.items()}


def metric_curves(board: Leaderboard, block: pd.DataFrame, metrics: list[str]):
    """One panel per metric family: mean (± std) against K, one line per group."""
    families = _families(metrics)
    if not families:
        return None
    figure = _figure(figsize=(4.5 * len(families), 3.6))
    axes = figure.subplots(1, len(families), squeeze=False)
    for axis, (family, points) in zip(axes[0], families.items()):
        ks = [k for k, _ in points]
        for _, row in block.iterrows():
            means = [row[column] for _, column in points]
            stds = [0.0 if math.isnan(row[column + STD]) else row[column + STD] for _, column in points]
            axis.errorbar(ks, means, yerr=stds, marker="o", capsize=3, label=row["label"])
        axis.set_xlabel("K")
        axis.set_ylabel(f"{family}@K")
        axis.set_xticks(ks)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small", loc="best")
    figure.tight_layout()
    return figure


def pareto_front(seconds: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (less time, higher accuracy), by time."""
    order = np.lexsort((-accuracy, seconds))
    front, best = [], -np.inf
    for index in order:
        if accuracy[index] > best:
            front.append(index)
            best = accuracy[index]
    return np.array(front, dtype=int)


def accuracy_vs_time(block: pd.DataFrame, metric: str):
    """Each group's mean metric against its mean training time, with the Pareto front."""
    return accuracy_vs(block, metric, "train_seconds", "training time (s)", higher_is_better=False)


def accuracy_vs(block: pd.DataFrame, metric: str, other: str, other_label: str, higher_is_better: bool):
    """Each group's mean ``metric`` against its mean ``other`` column, with the Pareto front.

    ``higher_is_better`` says which way ``other`` improves (time: lower; novelty, coverage: higher).
    """
    if other not in block:
        return None
    data = block[["label", other, metric]].dropna()
    if data.empty:
        return None
    seconds, accuracy = data[other].to_numpy(float), data[metric].to_numpy(float)
    figure = _figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.scatter(seconds, accuracy, color="#4477aa", zorder=3)
    for x, y, label in zip(seconds, accuracy, data["label"]):
        axis.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    # The front minimises x; an x where higher is better is negated, then the front reversed.
    front = pareto_front(-seconds if higher_is_better else seconds, accuracy)
    axis.plot(seconds[front], accuracy[front], drawstyle="steps-pre" if higher_is_better else "steps-post",
              color="#cc6677", marker="o", markersize=11, markerfacecolor="none", label="Pareto front", zorder=2)
    if not higher_is_better and seconds.min() > 0 and seconds.max() / seconds.min() > 20:
        axis.set_xscale("log")
    axis.set_xlabel(other_label)
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _table_html(board: Leaderboard) -> str:
    header, body = rows(board, bold=lambda text: f"<b>{html.escape(text)}</b>")
    text_columns = {1, 2, 3}
    # Sort values: the raw numbers behind each cell, in the order of ``rows``' header.
    keys = ["rank", None, None, None, "n_seeds", *board.columns, "train_seconds", "eval_seconds", "n_params"]
    keys += ["p_holm"] if board.test else []
    out = ['<table id="leaderboard"><thead><tr>']
    out += [f'<th class="{"text" if i in text_columns else "num"}">{html.escape(h)}</th>'
            for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for (_, row), cells in zip(board.table.iterrows(), body):
        worse = board.test is not None and bool(row["significant"])
        out.append(f'<tr class="group{" worse" if worse else ""}">')
        for i, (key, cell) in enumerate(zip(keys, cells)):
            content = cell if cell.startswith("<b>") else html.escape(cell)
            if key is None:
                out.append(f'<td class="text">{content}</td>')
            else:
                value = row[key]
                number = "" if value is None or (isinstance(value, float) and math.isnan(value)) else value
                out.append(f'<td data-value="{number}">{content}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def to_html(board: Leaderboard, title: str = "recbench leaderboard") -> str:
    """The whole report as one HTML document."""
    accuracy = board.sort if board.sort in board.metrics else board.columns[0]
    sections = []
    for (dataset, split), block in board.table.groupby(["dataset", "split"], sort=False):
        images = []
        k = accuracy.rsplit("@", 1)[1] if "@" in accuracy else None
        plots = [("metric@K curves", metric_curves(board, block, board.columns)),
                 ("accuracy vs training time", accuracy_vs_time(block, accuracy))]
        for family, label in (("novelty", "novelty (mean self-information, bits)"), ("coverage", "catalogue coverage")):
            column = f"test/{family}@{k}"
            if k and column in block and block[column].notna().any():
                plots.append((f"accuracy vs {family}", accuracy_vs(block, accuracy, column, f"{label}@{k}", True)))
        for name, figure in plots:
            if figure is not None:
                images.append(f'<img class="plot" alt="{html.escape(name)}, {html.escape(dataset)}" '
                              f'src="data:image/png;base64,{_png(figure)}">')
        sections.append(f"<h2>{html.escape(dataset)} / {html.escape(split)}</h2>" + "".join(images))
    notes = "".join(f"<li>{html.escape(w)}</li>" for w in board.warnings)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{_table_html(board)}"
            f'<p class="note">mean ± std over seeds (sample std); click a header to sort. '
            f'{html.escape(board.significance_note)}.</p>'
            + "".join(sections)
            + (f'<h2>Warnings</h2><ul class="warnings">{notes}</ul>' if notes else "")
            + f"<script>{_SCRIPT}</script></body></html>\n")
