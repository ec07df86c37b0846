"""One reader per format, the custom dataset, and readable messages for bad input."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from recbench.data.loading import load_dataset
from recbench.data.readers import read_delimited, read_first, read_interactions, read_json_lines, read_parquet
from recbench.errors import RecbenchError

EXPECTED = pd.DataFrame({"user": [1, 1, 2], "item": [10, 11, 10], "rating": [5.0, 3.0, 4.0],
                         "timestamp": [100, 200, 150]})


def assert_expected(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), EXPECTED, check_dtype=False)
    assert frame["rating"].dtype == np.float32 and frame["timestamp"].dtype == np.int64


def test_csv_with_header_and_renamed_columns(tmp_path):
    (tmp_path / "r.csv").write_text("rid,movie,stars,who,when\n0,10,5,1,100\n1,11,3,1,200\n2,10,4,2,150\n")
    assert_expected(read_delimited("r.csv", folder=tmp_path,
                         columns={"user": "who", "item": "movie", "rating": "stars", "timestamp": "when"}))


def test_tsv_without_header_by_position_and_millisecond_timestamps(tmp_path):
    (tmp_path / "r.tsv").write_text("x\t1\t10\t5\t100000\nx\t1\t11\t3\t200000\nx\t2\t10\t4\t150999\n")
    assert_expected(read_delimited("r.tsv", folder=tmp_path, sep="\t", header=False,
                         columns=[None, "user", "item", "rating", "timestamp"], timestamp_unit="ms"))


def test_movielens_double_colon(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::100\n1::11::3::200\n2::10::4::150\n")
    assert_expected(read_delimited("ratings.dat", folder=tmp_path, sep="::", header=False,
                         columns=["user", "item", "rating", "timestamp"]))


def test_amazon_csv_with_spaces_after_commas(tmp_path):
    (tmp_path / "a.csv").write_text("asin, reviewerID, overall, unixReviewTime\n10, 1, 5.0, 100\n11, 1, 3.0, 200\n"
                                    "10, 2, 4.0, 150\n")
    columns = {"user": "reviewerID", "item": "asin", "rating": "overall", "timestamp": "unixReviewTime"}
    assert_expected(read_delimited("a.csv", folder=tmp_path, skipinitialspace=True, columns=columns))


def test_parquet_json_lines_and_first_present_layout(tmp_path):
    EXPECTED.rename(columns={"user": "u"}).to_parquet(tmp_path / "r.parquet")
    assert_expected(read_parquet("r.parquet", folder=tmp_path, columns={"user": "u", "item": "item", "rating": "rating",
                                                             "timestamp": "timestamp"}))
    rows = [{"reviewerID": u, "asin": i, "overall": r, "unixReviewTime": t, "summary": "ok"}
            for u, i, r, t in EXPECTED.itertuples(index=False)]
    with gzip.open(tmp_path / "reviews.json.gz", "wt") as out:
        out.write("\n".join(json.dumps(row) for row in rows))
    columns = {"user": "reviewerID", "item": "asin", "rating": "overall", "timestamp": "unixReviewTime"}
    assert_expected(read_json_lines("reviews.json.gz", folder=tmp_path, columns=columns))
    assert_expected(read_first([{"file": "missing.csv"}, {"file": "reviews.json.gz", "columns": columns}], folder=tmp_path))
    assert_expected(read_interactions("reviews.json.gz", folder=tmp_path, columns=columns))  # format from the name


def test_datetime_timestamps(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating,timestamp\n1,10,5,1970-01-01T00:01:40Z\n"
                                    "1,11,3,1970-01-01 00:03:20\n2,10,4,1970-01-01T00:02:30+00:00\n")
    assert_expected(read_delimited("r.csv", folder=tmp_path, timestamp_unit="datetime"))


def test_custom_dataset_from_an_absolute_file(tmp_path):
    file = tmp_path / "mine.csv"
    file.write_text("user,item\na,x\na,y\nb,x\n")
    cfg = OmegaConf.load("conf/dataset/custom.yaml")
    cfg.source.file = str(file)
    data = load_dataset(cfg, cache_dir=str(tmp_path / "cache"))
    assert (len(data), data.n_users, data.n_items) == (3, 2, 2)
    assert data.ratings is None and data.timestamps is None


def test_missing_column_names_file_columns_and_fix(tmp_path):
    (tmp_path / "r.csv").write_text("user,movie,rating\n1,10,5\n")
    with pytest.raises(RecbenchError) as error:
        read_delimited("r.csv", folder=tmp_path)
    message = str(error.value)
    assert "r.csv" in message and "item='item'" in message and "['user', 'movie', 'rating']" in message
    assert "dataset.source.columns" in message


def test_non_numeric_rating_names_the_line(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,10,5\n1,11,4\n2,10,five\n")
    with pytest.raises(RecbenchError, match=r"r.csv, line 4: column 'rating' \(rating\) holds 'five'"):
        read_delimited("r.csv", folder=tmp_path)
    (tmp_path / "r.tsv").write_text("1\t10\t5\n2\t\t4\n")
    with pytest.raises(RecbenchError, match="r.tsv, line 2: the user or item is empty"):
        read_delimited("r.tsv", folder=tmp_path, sep="\t", header=False, columns=["user", "item", "rating"])


def test_empty_after_filtering_names_the_setting(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,10,5\n1,11,4\n2,10,3\n")
    cfg = OmegaConf.load("conf/dataset/custom.yaml")
    cfg.source.file = str(tmp_path / "r.csv")
    cfg.preprocess.min_user_interactions = 5
    with pytest.raises(RecbenchError, match="no interactions left after k-core.*min_user_interactions=5"):
        load_dataset(cfg, cache_dir=str(tmp_path / "cache"))
    cfg.preprocess.min_user_interactions = 0
    cfg.preprocess.min_rating = 6
    with pytest.raises(RecbenchError, match="no interactions left after dataset.preprocess.min_rating=6"):
        load_dataset(cfg, cache_dir=str(tmp_path / "cache"))


def test_list_of_columns_renames_a_header_file_by_position(tmp_path):
    (tmp_path / "r.csv").write_text("a,b,c,d\n1,10,5,100\n1,11,3,200\n2,10,4,150\n")
    assert_expected(read_delimited("r.csv", folder=tmp_path, columns=["user", "item", "rating", "timestamp"]))


def test_ids_are_kept_as_written(tmp_path):
    # '007', '07' and '7' are three users; a file whose ids are plain integers keeps int64 ids.
    (tmp_path / "r.csv").write_text("user,item\n007,1\n07,1\n7,2\n")
    frame = read_delimited("r.csv", folder=tmp_path)
    assert frame["user"].tolist() == ["007", "07", "7"]
    assert frame["item"].dtype == np.int64 and frame["item"].tolist() == [1, 1, 2]
    assert read_delimited("r.csv", folder=tmp_path, ids="string")["item"].tolist() == ["1", "1", "2"]
    # Told they are integers, the three are one user.
    assert read_delimited("r.csv", folder=tmp_path, ids="integer")["user"].tolist() == [7, 7, 7]


def test_custom_dataset_counts_leading_zero_ids_apart(tmp_path):
    (tmp_path / "r.csv").write_text("user,item\n007,a\n07,a\n7,b\n7,a\n")
    entry = OmegaConf.create({"name": "toy", "path": str(tmp_path), "source": {
        "_target_": "recbench.data.readers.read_interactions", "file": "r.csv"}, "preprocess": {}})
    data = load_dataset(entry)
    assert (data.n_users, data.n_items, len(data)) == (3, 2, 4)


def test_ids_beyond_int64_work_as_text_or_are_refused_when_told_integer(tmp_path):
    big = str(2**63)  # one past int64's maximum
    (tmp_path / "r.csv").write_text(f"user,item\n{big},1\n{2**63 - 1},1\n")
    assert read_delimited("r.csv", folder=tmp_path)["user"].tolist() == [big, str(2**63 - 1)]
    with pytest.raises(RecbenchError, match=f"user id '{big}' is not an integer that fits int64"):
        read_delimited("r.csv", folder=tmp_path, ids="integer")
    (tmp_path / "s.csv").write_text(f"user,item\n{2**63 - 1},1\n-5,1\n")
    assert read_delimited("s.csv", folder=tmp_path)["user"].tolist() == [2**63 - 1, -5]


@pytest.mark.parametrize("value, shown", [("", "nan"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_empty_nan_and_infinite_ratings_are_refused(tmp_path, value, shown):
    (tmp_path / "r.csv").write_text(f"user,item,rating\n1,10,5\n1,11,{value}\n")
    with pytest.raises(RecbenchError) as error:
        read_delimited("r.csv", folder=tmp_path)
    assert "line 3: 1 rating(s) are empty, NaN or infinite" in str(error.value)
    assert "dataset.source.columns.rating" in str(error.value)


def test_nan_rating_in_parquet_is_refused(tmp_path):
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [4.0, np.nan]}).to_parquet(tmp_path / "r.parquet")
    with pytest.raises(RecbenchError, match="rating\\(s\\) are empty, NaN or infinite"):
        read_parquet("r.parquet", folder=tmp_path)


@pytest.mark.parametrize("sep", ["\\t", "tab"])
def test_tab_separator_spellings(tmp_path, sep):
    (tmp_path / "r.tsv").write_text("user\titem\trating\ttimestamp\n1\t10\t5\t100\n1\t11\t3\t200\n2\t10\t4\t150\n")
    assert_expected(read_delimited("r.tsv", folder=tmp_path, sep=sep))


def test_messages_name_the_key_of_the_caller(tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RecbenchError, match="Set split.columns \\(and split.sep / header\\)"):
        read_interactions("r.csv", folder=tmp_path, setting="split")
    with pytest.raises(RecbenchError, match="check split.folder and split.train"):
        read_interactions("nope.csv", folder=tmp_path, setting="split")
