"""Feature matrices: alignment to dataset ids, the four kinds, masks, selection, the real catalogs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recbench.data.catalog import catalog_entry
from recbench.data.feature_loading import load_features
from recbench.data.features import FieldValues, build_feature_matrix
from recbench.data.loading import dataset_folder, load_dataset
from tests.features.conftest import needs_dataset


def field(name, kind, ids, values):
    return FieldValues(name, kind, np.asarray(ids), np.asarray(values), f"test {name}")


def test_fields_align_to_dataset_ids_with_missing_rows_zero_and_unknown_ids_dropped(caplog):
    dataset_ids = np.array([10, 20, 30, 40])  # index 0..3
    fields = [
        field("genre", "categorical", [30, 10, 10, 99], ["b", "a", "b", "a"]),  # 99 is not in the dataset
        field("year", "numeric", [20, 30], [1990.0, 2000.0]),
        field("vec", "vector", [40], [[1.5, -2.0]]),
    ]
    with caplog.at_level(logging.INFO):
        matrix = build_feature_matrix(fields, dataset_ids, "item")
    # columns: genre a, genre b | year (standardised over the two ids that have it) | vec (2)
    expected = np.array([
        [1, 1, 0, 0, 0],
        [0, 0, -1, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1.5, -2.0],
    ], dtype=np.float32)
    np.testing.assert_allclose(matrix.values, expected)
    assert matrix.mask.tolist() == [True, True, True, True]
    assert {name: (info.kind, info.dim, info.coverage) for name, info in matrix.fields.items()} == {
        "genre": ("categorical", 2, 0.5), "year": ("numeric", 1, 0.5), "vec": ("vector", 2, 0.25)}
    assert "dropped 1 row(s) of 4" in caplog.text


def test_an_id_without_any_feature_gets_a_zero_row_and_mask_false():
    matrix = build_feature_matrix([field("g", "categorical", ["u1", "u3"], ["x", "y"])],
                                  np.array(["u1", "u2", "u3"], dtype=object), "user")
    assert matrix.mask.tolist() == [True, False, True]
    np.testing.assert_array_equal(matrix.values, [[1, 0], [0, 0], [0, 1]])


def test_select_keeps_the_chosen_fields_in_order_and_recomputes_the_mask():
    fields = [field("a", "categorical", [1], ["x"]), field("b", "numeric", [2, 3], [1.0, 3.0])]
    matrix = build_feature_matrix(fields, np.array([1, 2, 3]), "item")
    only_b = matrix.select(["b"])
    np.testing.assert_allclose(only_b.values, [[0], [-1], [1]])
    assert only_b.mask.tolist() == [False, True, True]
    assert only_b.fields["b"].columns == slice(0, 1)
    swapped = matrix.select(["b", "a"])
    np.testing.assert_allclose(swapped.values, [[0, 1], [-1, 0], [1, 0]])
    assert matrix.select(None) is matrix


def test_text_fields_go_through_the_encoder_only_for_ids_in_the_dataset():
    seen = []

    def encode(texts):
        seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts])

    matrix = build_feature_matrix([field("t", "text", [2, 7, 1], ["bb", "zzzz", "a"])], np.array([1, 2, 3]),
                                  "item", encode)
    assert seen == ["bb", "a"]
    np.testing.assert_allclose(matrix.values, [[1, 1], [2, 1], [0, 0]])
    assert matrix.mask.tolist() == [True, True, False]


@needs_dataset("ml-100k")
def test_ml100k_item_and_user_features_match_the_files(tmp_path):
    entry = catalog_entry("ml-100k")
    data = load_dataset(entry)
    data, record = load_features(entry, data, dataset_folder(entry), encoder=None, cache_dir=None,
                                 sides=("user",))
    users = data.user_features
    assert users.values.shape == (943, 24) and users.mask.all()
    # u.user line 1: "1|24|M|technician|85711"
    row = users.values[np.flatnonzero(data.user_ids == 1)[0]]
    gender, occupation = users.fields["gender"].columns, users.fields["occupation"].columns
    assert users.fields["gender"].labels == ("F", "M")
    assert row[gender].tolist() == [0.0, 1.0]
    labels = users.fields["occupation"].labels
    assert row[occupation].sum() == 1 and labels[int(np.argmax(row[occupation]))] == "technician"
    ages = np.loadtxt(dataset_folder(entry) / "u.user", delimiter="|", usecols=1, dtype=float)
    assert users.values[0, users.fields["age"].columns][0] == pytest.approx((24 - ages.mean()) / ages.std(), rel=1e-5)
    assert record is None  # no text field on the user side


@needs_dataset("ml-100k")
def test_ml100k_genres_and_year_of_toy_story(tmp_path):
    entry = catalog_entry("ml-100k")
    data = load_dataset(entry)
    entry.features.item.pop("text")  # no encoder needed
    data, _ = load_features(entry, data, dataset_folder(entry), encoder=None, cache_dir=str(tmp_path), sides=("item",))
    items = data.item_features
    genres = items.values[0, items.fields["genres"].columns]  # item id 1: Toy Story (1995)
    labels = items.fields["genres"].labels
    assert len(labels) == 19 and list(labels) == sorted(labels)
    assert [labels[i] for i in np.flatnonzero(genres)] == ["Animation", "Children's", "Comedy"]
    assert items.fields["year"].coverage == pytest.approx(1681 / 1682)  # item 267 has no release date
    again, _ = load_features(entry, load_dataset(entry), dataset_folder(entry), None, str(tmp_path), ("item",))
    np.testing.assert_array_equal(again.item_features.values, items.values)  # from the cache
    assert again.item_features.fields["genres"].labels == labels
    assert list((tmp_path / "features").iterdir())


@needs_dataset("hin-amazon")
def test_custom_dataset_features_from_a_column_mapping(tmp_path):
    """hin-amazon: brand (one per item), category (several per item), also-viewed (a subset of items)."""
    entry = catalog_entry("custom", ["name=hin-amazon", "source.file=user_item.dat", "source.header=false",
                                     "source.columns=[user,item,rating,timestamp]"])
    entry.source.sep = "\t"
    entry.features = {"item": {  # what +dataset.features.item.brand={kind:categorical,...} sets on the command line
        "brand": {"kind": "categorical", "file": "item_brand.dat", "header": False},
        "category": {"kind": "categorical", "file": "item_category.dat", "header": False},
        "view": {"kind": "categorical", "file": "item_view.dat", "header": False, "min_count": 2},
    }}
    data = load_dataset(entry)
    data, _ = load_features(entry, data, dataset_folder(entry), None, str(tmp_path), ("item",))
    items = data.item_features
    folder = dataset_folder(entry)
    brand = np.loadtxt(folder / "item_brand.dat", delimiter=",", dtype=int)
    category = np.loadtxt(folder / "item_category.dat", delimiter=",", dtype=int)
    assert items.fields["brand"].dim == len(np.unique(brand[:, 1])) == 334
    assert items.fields["category"].dim == 22
    np.testing.assert_array_equal(items.values[:, items.fields["brand"].columns].sum(axis=1), 1)
    per_item = np.bincount(category[:, 0], minlength=data.n_items)
    np.testing.assert_array_equal(items.values[:, items.fields["category"].columns].sum(axis=1),
                                  per_item[data.item_ids])
    assert items.fields["view"].coverage < 1 and items.mask.all()


def _without_text(entry):
    for side in ("item", "user"):
        if side in entry.features and "text" in entry.features[side]:
            entry.features[side].pop("text")
    return entry


@needs_dataset("ml-latest-small")
def test_ml_latest_small_year_from_the_title_and_tags_aggregated_per_movie(tmp_path):
    entry = _without_text(catalog_entry("ml-latest-small"))
    data, _ = load_features(entry, load_dataset(entry), dataset_folder(entry), None, None, ("item",))
    items = data.item_features
    toy_story, star_wars = (int(np.flatnonzero(data.item_ids == i)[0]) for i in (1, 260))
    years = items.values[:, items.fields["year"].columns][:, 0]
    assert years[toy_story] > years[star_wars]  # 1995 after 1977, standardised
    tags = items.fields["tags"]
    assert [tags.labels[i] for i in np.flatnonzero(items.values[toy_story, tags.columns])] == ["fun", "pixar"]
    genres = items.fields["genres"]
    assert [genres.labels[i] for i in np.flatnonzero(items.values[star_wars, genres.columns])] == \
        ["Action", "Adventure", "Sci-Fi"]


@needs_dataset("lastfm-2k")
def test_lastfm_tags_are_named_through_tags_dat_and_friends_are_a_user_feature():
    entry = _without_text(catalog_entry("lastfm-2k"))
    data, _ = load_features(entry, load_dataset(entry), dataset_folder(entry), None, None)
    items, users = data.item_features, data.user_features
    morcheeba = int(np.flatnonzero(data.item_ids == 52)[0])
    tags = items.fields["tags"]
    names = {tags.labels[i] for i in np.flatnonzero(items.values[morcheeba, tags.columns])}
    assert {"chillout", "downtempo", "trip-hop"} <= names  # tag ids 13, 15 and 21 in user_taggedartists.dat
    friends = users.fields["friends"]
    user_2 = int(np.flatnonzero(data.user_ids == 2)[0])
    assert {"275", "428", "515", "761"} <= {friends.labels[i] for i in np.flatnonzero(users.values[user_2])}
