"""Mean ± std over split seeds of the rows that bench_hybrid.py and compare_lightfm.py write.

    python scripts/summarize_hybrid.py results/cold.jsonl results/lightfm.json

Each argument is a JSON-lines file of ``bench_hybrid.py --out`` (rows with a ``label``) or the JSON
list of ``compare_lightfm.py --out`` (labelled "LightFM 1.17"). Prints a Markdown table: one row
per label, the number of seeds, each reported metric as mean ± sample std, and the tuning seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

METRICS = ("test/ndcg@10", "test/recall@20", "test/all/ndcg@10", "test/all/recall@20")


def read_rows(path: Path) -> list[dict]:
    text = path.read_text()
    if text.lstrip().startswith("["):  # compare_lightfm.py: one JSON list
        return [{**row, "label": "LightFM 1.17"} for row in json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    args = parser.parse_args()
    groups: dict[str, dict[int, dict]] = {}
    for path in args.files:
        for row in read_rows(path):
            groups.setdefault(row["label"], {})[row["seed"]] = row  # a rerun of a seed replaces it
    print("| model | seeds | " + " | ".join(args.metrics) + " | tuning s per seed |")
    print("|---|---|" + "---|" * (len(args.metrics) + 1))
    for label, by_seed in groups.items():
        rows = [by_seed[seed] for seed in sorted(by_seed)]
        cells = [spread([float(row[m]) for row in rows if row.get(m) is not None]) for m in args.metrics]
        seconds = statistics.median(float(row["tuning_seconds"]) for row in rows)
        print(f"| {label} | {','.join(str(r['seed']) for r in rows)} | " + " | ".join(cells) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
