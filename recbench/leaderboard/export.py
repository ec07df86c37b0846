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


def write_export(board, path: Path, fallback: str | None = None) -> Path:
    """Write ``board`` to ``path`` atomically in the format its suffix names (else ``fallback``)."""
    kind = SUFFIXES.get(path.suffix.lower(), fallback)
    if kind is None:
        raise RecbenchError(f"cannot tell the format of {path} from its suffix: use one of "
                            f"{', '.join(sorted(SUFFIXES))}, or name the format with --format")
    text = EXPORTERS[kind](board)
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
