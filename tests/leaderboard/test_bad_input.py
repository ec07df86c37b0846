"""Damaged and old run folders: skipped or read in part, each with a warning naming the file."""

from __future__ import annotations

import json

import pytest

from recbench.cli import main as cli
from recbench.leaderboard import build_leaderboard, collect_runs


def test_a_truncated_results_file_is_skipped_with_a_warning(main_runs):
    broken = main_runs / "pop" / "seed2" / "results.json"
    broken.write_text(broken.read_text()[:200])
    collection = collect_runs([main_runs])
    assert len(collection.runs) == 5
    assert any(str(broken) in w and "corrupt or truncated" in w for w in collection.warnings)
    board = build_leaderboard(collection)
    assert board.table.set_index("model").loc["pop", "seeds"] == [1, 3]


@pytest.mark.parametrize("content", ["[1, 2, 3]", "", "\x00\xff garbage", '{"schema_version": 1}'])
def test_files_that_are_not_results_are_skipped(main_runs, content):
    bad = main_runs / "pop" / "seed1" / "results.json"
    bad.write_text(content)
    collection = collect_runs([main_runs])
    assert len(collection.runs) == 5
    assert any(str(bad) in w for w in collection.warnings)


def test_an_older_schema_is_read_as_far_as_it_goes(main_runs):
    old = main_runs / "pop" / "seed1" / "results.json"
    payload = json.loads(old.read_text())
    del payload["schema_version"], payload["timing"], payload["artifacts"]
    payload["model"], payload["dataset"] = "pop", "synthetic"   # plain names, no objects
    old.write_text(json.dumps(payload))
    collection = collect_runs([main_runs])
    assert len(collection.runs) == 6
    assert any(str(old) in w and "no schema_version" in w for w in collection.warnings)
    board = build_leaderboard(collection)
    pop = board.table.set_index("model").loc["pop"]
    assert pop["n_seeds"] == 3 and pop["dataset"] == "synthetic"
    # Two seeds still have timings: their mean, not NaN.
    timings = [json.loads((main_runs / "pop" / f"seed{s}" / "results.json").read_text())["timing"]["train_seconds"]
               for s in (2, 3)]
    assert pop["train_seconds"] == pytest.approx(sum(timings) / 2)


def test_missing_or_corrupt_per_user_vectors_degrade_the_test(main_runs):
    (main_runs / "bad_mlp" / "seed1" / "per_user_test.parquet").unlink()
    (main_runs / "bad_mlp" / "seed2" / "per_user_test.parquet").write_bytes(b"PAR1 not really")
    collection = collect_runs([main_runs])
    assert any("seed1" in w and "no per-user test vectors" in w for w in collection.warnings)
    board = build_leaderboard(collection)
    assert any("seed2" in w and "unreadable" in w for w in board.warnings)
    mlp = board.table.set_index("model").loc["mlp"]
    assert mlp["n_seeds"] == 3 and bool(mlp["significant"])   # still tested, on the one good seed

    (main_runs / "bad_mlp" / "seed3" / "per_user_test.parquet").unlink()
    board = build_leaderboard(collect_runs([main_runs]))
    mlp = board.table.set_index("model").loc["mlp"]
    assert not bool(mlp["significant"]) and mlp["n_users"] == 0   # nothing left to test with


def test_cli_exports_and_survives_bad_files(main_runs, tmp_path, capsys):
    (main_runs / "pop" / "seed3" / "results.json").write_text("{\"metrics\": {\"test/ndcg@10\": 0.")
    outputs = [tmp_path / "out" / name for name in ("board.md", "board.csv", "board.tex", "board.html")]
    status = cli(["leaderboard", str(main_runs), "--test", "wilcoxon", "--alpha", "0.01",
                  *[arg for path in outputs for arg in ("-o", str(path))]])
    assert status == 0
    captured = capsys.readouterr()
    # The files hold the tables; the terminal gets one line naming them and the winner.
    assert captured.out.count("\n") == 1
    assert captured.out.startswith(f"wrote {', '.join(map(str, outputs))}: 2 groups from 5 runs; best on ")
    assert "Wilcoxon signed-rank test" in outputs[0].read_text() and "alpha=0.01" in outputs[0].read_text()
    assert "seed3" in captured.err and "corrupt or truncated" in captured.err
    assert all(path.is_file() for path in outputs)


def test_cli_html_goes_to_the_file_only(main_runs, tmp_path, capsys):
    report = tmp_path / "report"   # no suffix: --format names the format
    assert cli(["leaderboard", str(main_runs), "--format", "html", "-o", str(report)]) == 0
    out = capsys.readouterr().out
    board = build_leaderboard(collect_runs([main_runs]))
    best = board.table[board.table["rank"] == 1].iloc[0]
    assert out == (f"wrote {report}: 2 groups from 6 runs; best on synthetic/random: "
                   f"{best['label']} (test/ndcg@10 {best['test/ndcg@10']:.4f})\n")
    assert report.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize("argv, message", [
    (["--sort", "test/nope@10"], "cannot sort by 'test/nope@10'"),
    (["--model", "nothing"], "no runs to rank"),
    (["-o", "board.docx"], "cannot tell the format"),
])
def test_cli_errors_are_one_readable_line(main_runs, tmp_path, capsys, argv, message):
    argv = [a if a != "board.docx" else str(tmp_path / a) for a in argv]
    assert cli(["leaderboard", str(main_runs), *argv]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "board.docx").exists()


def test_cli_without_paths_says_what_to_pass(capsys):
    assert cli(["leaderboard"]) == 1
    assert "no runs given" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["NaN", "Infinity", "null"])
def test_a_run_with_non_finite_test_metrics_is_not_counted_as_a_seed(main_runs, value):
    bad = main_runs / "pop" / "seed2" / "results.json"
    text = bad.read_text()
    payload = json.loads(text)
    good = [json.loads((main_runs / "pop" / f"seed{s}" / "results.json").read_text())["metrics"]["test/ndcg@10"]
            for s in (1, 3)]
    bad.write_text(text.replace(f'"test/ndcg@10": {json.dumps(payload["metrics"]["test/ndcg@10"])}',
                                f'"test/ndcg@10": {value}'))
    collection = collect_runs([main_runs])
    assert any(str(bad) in w and "NaN, infinite or missing" in w for w in collection.warnings)
    row = build_leaderboard(collection).table.set_index("model").loc["pop"]
    assert row["seeds"] == [1, 3] and row["n_seeds"] == 2
    assert row["test/ndcg@10"] == pytest.approx(sum(good) / 2)
