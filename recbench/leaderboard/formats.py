"""The leaderboard as Markdown, CSV and LaTeX (booktabs)."""

from __future__ import annotations

import math

import pandas as pd

from recbench.leaderboard.table import STD, Leaderboard, lower_is_better

MARK = "*"  # after a label: significantly worse than the best group of its block


def _cell(mean: float, std: float, digits: int = 4) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _params(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value):,}"


def _epsilon(row: pd.Series) -> str:
    """``4.00 (user)`` for a DP-trained group, ``–`` for the others."""
    value = row["epsilon"]
    return "–" if math.isnan(value) else f"{value:.2f} ({row['privacy_unit']})"


def _p(row: pd.Series) -> str:
    value = row.get("p_holm", math.nan)
    return "" if value is None or math.isnan(value) else f"{value:.2g}"


def _best_in_block(board: Leaderboard) -> set[tuple[str, str]]:
    """(group, metric) pairs holding the best mean of their block: shown in bold."""
    best = set()
    table = board.table
    for _, block in table.groupby(["dataset", "split"], sort=False):
        for metric in board.columns:
            values = block[metric]
            if values.notna().any():
                best.add((values.idxmin() if lower_is_better(metric) else values.idxmax(), metric))
    return best


def rows(board: Leaderboard, bold=lambda text: f"**{text}**") -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells shared by the text formats."""
    has_test = board.test is not None
    header = ["#", "model", "dataset", "split", "seeds", *board.columns, "train s", "eval s", "params"]
    header += ["epsilon"] if board.has_privacy else []
    header += ["p (Holm)"] if has_test else []
    best = _best_in_block(board)
    body = []
    for key, row in board.table.iterrows():
        label = row["label"] + (f" {MARK}" if has_test and row["significant"] else "")
        cells = [str(row["rank"]), label, row["dataset"], row["split"], str(row["n_seeds"])]
        for metric in board.columns:
            text = _cell(row[metric], row[metric + STD])
            cells.append(bold(text) if (key, metric) in best else text)
        cells += [_seconds(row["train_seconds"]), _seconds(row["eval_seconds"]), _params(row["n_params"])]
        cells += [_epsilon(row)] if board.has_privacy else []
        cells += [_p(row)] if has_test else []
        body.append(cells)
    return header, body


def to_markdown(board: Leaderboard) -> str:
    """A GitHub-flavoured Markdown table, best values in bold, then the significance note."""
    header, body = rows(board)

    def line(cells):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    align = ["---:" if i == 0 or i >= 4 else ":---" for i in range(len(header))]
    lines = [line(header), "| " + " | ".join(align) + " |", *map(line, body)]
    return "\n".join(lines) + f"\n\nmean ± std over seeds; {board.significance_note}\n"


def to_summary(board: Leaderboard) -> str:
    """One line: how many groups and runs, and the best group of each dataset/split block."""
    table = board.table
    best = table[table["rank"] == 1]
    leaders = "; ".join(f"{row.dataset}/{row.split}: {row.label} ({board.sort} {_number(row[board.sort])})"
                        for _, row in best.iterrows())
    return (f"{len(table)} group{'s' if len(table) != 1 else ''} from {int(table['n_seeds'].sum())} runs; "
            f"best on {leaders}")


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}" if abs(value) >= 1 else f"{value:.4f}"


def to_csv(board: Leaderboard) -> str:
    """Raw numbers, one row per group: each chosen metric's mean and ``:std`` column."""
    table = board.table
    columns = ["rank", "label", "dataset", "split", "model", "n_seeds", "seeds"]
    for metric in board.columns:
        columns += [metric, metric + STD]
    columns += ["train_seconds", "eval_seconds", "n_params"]
    columns += ["epsilon", "privacy_unit"] if board.has_privacy else []
    columns += [c for c in ("p_value", "p_holm", "n_users", "significant") if board.test and c in table]
    out = table[columns].copy()
    out["seeds"] = [" ".join(map(str, seeds)) for seeds in out["seeds"]]
    return out.to_csv(index=False)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


def to_latex(board: Leaderboard) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``); best values in bold, ``$^*$``
    after groups significantly worse than the best."""
    header, body = rows(board, bold=lambda text: f"\x00{text}\x01")

    def cell(text: str) -> str:
        text = latex_escape(text).replace("±", r"$\pm$").replace("–", "--")
        text = text.replace(f" {MARK}", r"$^*$")
        return text.replace("\x00", r"\textbf{").replace("\x01", "}")

    spec = "r" + "l" * 3 + "r" * (len(header) - 4)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(c) for c in cells) + r" \\" for cells in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n" + "% mean ± std over seeds; " + board.significance_note + "\n"
