"""`recbench recommend` and `recbench explain` on real (tiny) runs: exactness and bad input."""

import json
import shutil

import pytest
import torch

from recbench.cli import main
from recbench.experiment import train
from recbench.serve.explain import exact_contributions, explain, recommend
from recbench.serve.inputs import user_history
from recbench.serve.loading import load_run
from tests.helpers import compose_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, overrides in (("ease", ["model=ease", "model.l2=10"]), ("mf", ["model=mf", "trainer.max_epochs=2"]),
                            ("itemknn", ["model=itemknn", "model.k=10"]), ("puresvd", ["model=puresvd"])):
        train(compose_config(overrides + ["paths.cache_dir=" + str(root / "cache")], root / name))
        out[name] = root / name
    return out


def test_ease_contributions_sum_to_its_score_and_equal_its_weights(runs):
    loaded = load_run(runs["ease"])
    user, history = user_history(loaded, "u3")
    items, scores = recommend(loaded.model, user, history, 5)
    known, contributions = exact_contributions(loaded.model, user, history, items)
    assert torch.allclose(contributions.sum(dim=0), scores, atol=1e-5)
    # The contribution of history item j to item i is EASE's weight B[j, i].
    assert torch.allclose(contributions, loaded.model.weights[known][:, items], atol=1e-6)
    # The list is the model's own ranking with known items removed.
    full = history[None] @ loaded.model.weights
    full[0, history > 0] = -float("inf")
    assert items.tolist() == full[0].topk(5).indices.tolist()
    answer = explain(loaded.model, user, history, 5, top_n=2)
    assert answer["method"] == "exact"
    first = answer["items"][0]["because"][0]
    column = contributions[:, 0]
    assert first["contribution"] == pytest.approx(float(column[column.abs().argmax()]), abs=1e-6)


@pytest.mark.parametrize("name", ["itemknn", "puresvd"])
def test_other_linear_models_contributions_sum_to_their_scores(runs, name):
    loaded = load_run(runs[name])
    user, history = user_history(loaded, "u5")
    items, scores = recommend(loaded.model, user, history, 5)
    _, contributions = exact_contributions(loaded.model, user, history, items)
    assert torch.allclose(contributions.sum(dim=0), scores, atol=1e-4)
    assert explain(loaded.model, user, history, 5)["method"] == "exact"


def test_mf_explanations_are_labelled_approximate(runs, capsys):
    assert main(["explain", str(runs["mf"]), "--user", "u3", "--k", "3", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "approximate" and len(payload["items"]) == 3
    loaded = load_run(runs["mf"])
    vectors = torch.nn.functional.normalize(loaded.model.item_embedding.weight.detach(), dim=1)
    item = {str(i): n for n, i in enumerate(loaded.item_ids)}
    top = payload["items"][0]
    reason = top["because"][0]
    expected = float(vectors[item[top["item_id"]]] @ vectors[item[reason["item_id"]]])
    assert reason["similarity"] == pytest.approx(expected, abs=1e-5)
    assert main(["explain", str(runs["mf"]), "--user", "u3", "--k", "3"]) == 0
    assert "Approximation" in capsys.readouterr().out


def test_recommend_prints_titles_and_folds_in_a_history(runs, capsys):
    assert main(["recommend", str(runs["ease"]), "--user", "u3", "--k", "4", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["items"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4] and all(r["title"] for r in rows)
    assert main(["recommend", str(runs["ease"]), "--history", "i1,i2,i5", "--k", "4", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["items"]
    assert not {"i1", "i2", "i5"} & {r["item_id"] for r in rows}
    loaded = load_run(runs["ease"])
    index = {str(i): n for n, i in enumerate(loaded.item_ids)}
    history = torch.zeros(len(loaded.item_ids))
    history[[index["i1"], index["i2"], index["i5"]]] = 1
    scores = history @ loaded.model.weights
    assert rows[0]["score"] == pytest.approx(float(scores[history == 0].max()), abs=1e-5)


@pytest.mark.parametrize("args, message", [
    (["--user", "nobody"], "user 'nobody' is not in the run's dataset"),
    (["--history", "i1,not-an-item"], r"item\(s\) \['not-an-item'\] are not in the run's catalogue"),
])
def test_bad_user_or_item_is_one_message(runs, capsys, args, message):
    assert main(["recommend", str(runs["ease"]), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert __import__("re").search(message, err)


def test_models_that_cannot_fold_in_say_so(runs, capsys):
    assert main(["recommend", str(runs["mf"]), "--history", "i1,i2"]) == 1
    assert "mf cannot score a user it has not seen" in capsys.readouterr().err


def test_missing_checkpoint_or_incompatible_run(runs, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(runs["ease"], copy)
    (copy / "checkpoints" / "model.pt").unlink()
    assert main(["recommend", str(copy), "--user", "u3"]) == 1
    assert "has no checkpoint" in capsys.readouterr().err
    torch.save({"weights": torch.zeros(2, 2)}, copy / "checkpoints" / "model.pt")
    assert main(["recommend", str(copy), "--user", "u3"]) == 1
    assert "incompatible version" in capsys.readouterr().err
    results = json.loads((copy / "results.json").read_text())
    results["schema_version"] = 99
    (copy / "results.json").write_text(json.dumps(results))
    assert main(["explain", str(copy), "--user", "u3"]) == 1
    assert "schema version 99" in capsys.readouterr().err
    assert main(["recommend", str(tmp_path / "nothing"), "--user", "u3"]) == 1
    assert "does not exist" in capsys.readouterr().err
