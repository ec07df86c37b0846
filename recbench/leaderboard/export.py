"""Writing the leaderboard to files, the format chosen by the file's suffix."""

from __future__ import annotations

from pathlib import Path

from recbench.errors import RecbenchError
from recbench.leaderboard.formats import to_csv, to_latex, to_markdown
from recbench.leaderboard.report import to_html
from recbench.results import _atomic_write

EXPORTERS = {"markdown": to_markdown, "csv": to_csv, "latex": to_latex, "html": to_html}
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".tex": "latex",
            ".html": "html", ".htm": "html"}


def write_export(board, path: Path) -> Path:
    """Write ``board`` to ``path`` atomically in the format its suffix names."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise RecbenchError(f"cannot tell the format of {path} from its suffix: use one of "
                            f"{', '.join(sorted(SUFFIXES))}")
    text = EXPORTERS[kind](board)
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
