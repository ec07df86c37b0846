"""``recbench datasets list | info | download`` through the real command-line entry point."""

from __future__ import annotations

import hashlib
import zipfile

from recbench.cli import main


def test_list_shows_the_catalog(capsys, tmp_path):
    assert main(["datasets", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small", "lastfm-2k",
                 "amazon-musical-instruments", "custom", "synthetic"):
        assert f"\n{name} " in f"\n{out}"
    assert "-> generated" in out


def test_info_prints_statistics_after_preprocessing(capsys, tmp_path):
    file = tmp_path / "r.csv"
    file.write_text("user,item,rating\n1,a,5\n1,b,2\n2,a,4\n2,c,5\n3,a,1\n")
    assert main(["datasets", "info", "custom", f"source.file={file}", "preprocess.min_rating=4"]) == 0
    out = capsys.readouterr().out
    assert "n_users                2\n" in out and "n_items                2\n" in out
    assert "n_interactions         3\n" in out and "density                0.75\n" in out


def test_download_verifies_and_extracts_into_the_cache(capsys, http_server, tmp_path):
    base, served = http_server
    with zipfile.ZipFile(served / "toy.zip", "w") as zipped:
        zipped.writestr("toy/ratings.csv", "user,item\n1,a\n")
    digest = hashlib.sha256((served / "toy.zip").read_bytes()).hexdigest()
    args = ["datasets", "download", "custom", "name=toy", f"url={base}/toy.zip", f"sha256={digest}",
            "archive_root=toy", "source.file=ratings.csv", "--cache-dir", str(tmp_path / "c")]
    assert main(args) == 0
    assert (tmp_path / "c" / "toy" / "ratings.csv").read_text() == "user,item\n1,a\n"
    assert str(tmp_path / "c" / "toy") in capsys.readouterr().out


def test_unknown_dataset_is_one_readable_error(capsys):
    assert main(["datasets", "info", "ml-9m"]) == 1
    err = capsys.readouterr().err
    assert "unknown dataset 'ml-9m'" in err and "ml-1m" in err and "Traceback" not in err


def test_outside_a_checkout_the_catalog_error_says_how_to_install(capsys, monkeypatch, tmp_path):
    import recbench.data.catalog as catalog

    monkeypatch.setattr(catalog, "CATALOG_DIR", tmp_path / "site-packages" / "conf" / "dataset")
    assert main(["datasets", "list"]) == 1
    err = capsys.readouterr().err
    assert "dataset catalog" in err and "pip install -e ." in err and "Traceback" not in err
