"""TwoTowerRetriever: the Retriever protocol over a trained two-tower model and a FAISS index."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from cascade.data.dataset import Catalog, Dataset, Interactions, Users
from cascade.data.idrows import IdRows
from cascade.retrieval.encode import (
    ItemContent,
    Vocab,
    age_bucket,
    catalog_content,
    gender_index,
    genre_multi_hot,
    year_bucket,
)
from cascade.retrieval.index import IndexConfig, VectorIndex
from cascade.retrieval.serving import NumpyUserTower
from cascade.retrieval.text import embed_texts, item_text
from cascade.retrieval.training import build_demographics, build_examples, build_vocab, train_two_tower
from cascade.retrieval.two_tower import Sizes, TwoTower, TwoTowerConfig
from cascade.types import Candidates, UserView

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
SESSION_POOL_MAX = 20


def catalog_text(catalog: Catalog) -> FloatArray:
    """MiniLM embeddings of every catalog row's 'Title (year) — genres' text."""
    texts = [
        item_text(t, int(y), g) for t, y, g in zip(catalog.titles, catalog.years, catalog.genres, strict=True)
    ]
    return embed_texts(texts)


def item_tower_vectors(model: TwoTower, content: ItemContent) -> FloatArray:
    """Item-tower outputs (eval mode) for the given inputs."""
    tensors = (torch.from_numpy(a) for a in (content.id_index, content.genres, content.year, content.text))
    with torch.inference_mode():
        out: FloatArray = model.item(*tensors).numpy().astype(np.float32)
    return out


class TwoTowerRetriever:
    """User tower (numpy) -> FAISS inner-product search -> about n unseen items; run-time item adds."""

    def __init__(
        self,
        model: TwoTower,
        vocab: Vocab,
        catalog: Catalog,
        item_ids: IntArray,
        text: FloatArray,
        users: Users | None = None,
        index_config: IndexConfig | None = None,
        meta: dict[str, float | int | str] | None = None,
    ) -> None:
        self.model = model.eval()
        self.cfg: TwoTowerConfig = model.cfg
        self.vocab = vocab
        self.catalog = catalog
        self.users = users
        self.meta: dict[str, float | int | str] = dict(meta or {})
        self.user_tower = NumpyUserTower.from_torch(model.user)
        self._ids = np.asarray(item_ids, dtype=np.int64)
        self._text: FloatArray | None = np.asarray(text, dtype=np.float32)  # None: vectors given directly
        self._row = IdRows(self._ids)
        self._vecs = self._vectors_for(self._ids, self._text)
        self.index = VectorIndex(self.cfg.dim, index_config).build(self._ids, self._vecs)

    def _vectors_for(self, item_ids: IntArray, text: FloatArray) -> FloatArray:
        rows = self.catalog.rows(item_ids)
        years = np.fromiter((year_bucket(int(self.catalog.years[r])) for r in rows), np.int64, len(rows))
        genres = genre_multi_hot([self.catalog.genres[r] for r in rows], self.catalog.genre_names)
        return item_tower_vectors(
            self.model, ItemContent(self.vocab.item_index(item_ids), genres, years, text)
        )

    @staticmethod
    def train(
        ds: Dataset,
        train_interactions: Interactions,
        seed: int = 0,
        config: TwoTowerConfig | None = None,
        index_config: IndexConfig | None = None,
        text: FloatArray | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> TwoTowerRetriever:
        """Fit the two towers on (user, next item) pairs of `train_interactions` and index the catalog."""
        cfg = config or TwoTowerConfig()
        text = catalog_text(ds.catalog) if text is None else text
        vocab = build_vocab(ds.users, train_interactions)
        content = catalog_content(ds.catalog, text, vocab)
        examples = build_examples(train_interactions, ds.catalog, vocab, cfg.history_len)
        demo = build_demographics(ds.users, vocab)
        result = train_two_tower(content, examples, vocab, demo, cfg, seed, progress)
        meta: dict[str, float | int | str] = {"seed": seed, "train_seconds": round(result.seconds, 2)}
        meta["final_loss"] = round(result.losses[-1], 5) if result.losses else float("nan")
        return TwoTowerRetriever(
            result.model, vocab, ds.catalog, ds.catalog.item_ids.copy(), text, ds.users, index_config, meta
        )

    # --- item side -----------------------------------------------------------------------------
    def item_ids(self) -> IntArray:
        """Item ids in the row order of item_vectors()."""
        return self._ids

    def item_vectors(self) -> FloatArray:
        """(n_items, dim) unit item vectors, the same ones the index holds."""
        return self._vecs

    def embed_new_items(
        self, titles: Sequence[str], years: Sequence[int], genres: Sequence[Sequence[str]]
    ) -> FloatArray:
        """Content-only vectors (no id embedding) for items the model has never seen."""
        text = embed_texts([item_text(t, int(y), g) for t, y, g in zip(titles, years, genres, strict=True)])
        yb = np.fromiter((year_bucket(int(y)) for y in years), np.int64, len(years))
        multi_hot = genre_multi_hot(genres, self.catalog.genre_names)
        content = ItemContent(np.zeros(len(titles), dtype=np.int64), multi_hot, yb, text)
        return item_tower_vectors(self.model, content)

    def add_item(self, item_id: int, title: str, year: int, genres: Sequence[str]) -> None:
        """Add a brand-new item (to the catalog too, if absent); retrievable immediately."""
        if item_id in self._row:
            raise ValueError(f"item {item_id} is already indexed")
        if item_id not in self.catalog:
            self.catalog.add(item_id, title, year, tuple(genres))
        text = embed_texts([item_text(title, year, genres)])
        ids = np.array([item_id], dtype=np.int64)
        vec = self._vectors_for(ids, text)
        self.index.add(ids, vec)
        self._row.append(item_id)
        self._ids = np.concatenate([self._ids, ids])
        if self._text is not None:
            self._text = np.concatenate([self._text, text])
        self._vecs = np.concatenate([self._vecs, vec])

    def with_items(
        self, catalog: Catalog, item_ids: IntArray, vectors: FloatArray, index: VectorIndex
    ) -> TwoTowerRetriever:
        """The same towers over another item set given by its vectors and index (a synthetic catalog).

        The item tower is not run and no content text is kept, so the result cannot be saved.
        """
        out = copy.copy(self)
        out.catalog, out.index = catalog, index
        out._ids, out._vecs, out._text = np.asarray(item_ids, dtype=np.int64), vectors, None
        out._row = IdRows(out._ids)
        return out

    # --- user side -----------------------------------------------------------------------------
    def _pool(self, items: Sequence[int]) -> FloatArray:
        rows = self._row.known_rows(items)
        if not len(rows):
            return np.zeros(self.cfg.dim, dtype=np.float32)
        return np.asarray(self._vecs[rows].mean(axis=0), dtype=np.float32)

    def user_vector(self, user: UserView) -> FloatArray:
        """(dim,) unit user vector: a few small numpy matmuls, no torch on the request path."""
        uidx = self.vocab.user_index(user.user_id) if user.known else 0
        return self.user_tower(
            uidx,
            age_bucket(user.age),
            gender_index(user.gender),
            self.vocab.occupation_index(user.occupation),
            self._pool(user.history[-self.cfg.history_len :]),
            self._pool(user.session_items[:SESSION_POOL_MAX]),
        )

    def text_vectors(self) -> FloatArray | None:
        """(n_items, 384) MiniLM text vectors in the row order of item_ids(); None when built from vectors."""
        return self._text

    def rows(self, item_ids: IntArray) -> IntArray:
        """Row of each item in item_ids() order (-1 for ids the index lacks)."""
        return self._row.rows(item_ids)

    def vectors_of(self, item_ids: IntArray) -> FloatArray:
        """(n, dim) item vectors of indexed items (zeros for ids the index lacks)."""
        rows = self._row.rows(item_ids)
        out = self._vecs[np.maximum(rows, 0)]
        out[rows < 0] = 0.0
        return np.asarray(out, dtype=np.float32)

    def score(self, user: UserView, item_ids: Sequence[int] | IntArray) -> FloatArray:
        """Two-tower inner product of the user with each item (KeyError for unknown items)."""
        rows = self._row.all_rows(np.asarray(item_ids, dtype=np.int64))
        return (self._vecs[rows] @ self.user_vector(user)).astype(np.float32)

    def retrieve(self, user: UserView, n: int, title: FloatArray | None = None) -> Candidates:
        """About n best items by inner product, excluding seen, history and session items.

        The two-tower alone has no title source; `BlendedRetriever` adds one over `text_vectors`.
        """
        ids, scores = self.index.search_unseen(self.user_vector(user), n, user.excluded())
        return Candidates(ids, scores)

    # --- persistence ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Model weights, vocabularies, item rows, text embeddings and the FAISS index."""
        if self._text is None:
            raise ValueError("a retriever built from vectors alone (with_items) has no content to save")
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / "two_tower.pt")
        sizes = self.model.sizes
        meta = {"config": self.cfg.to_dict(), "sizes": sizes.__dict__, "meta": self.meta,
                "occupations": list(self.vocab.occupations)}  # fmt: skip
        (folder / "two_tower.json").write_text(json.dumps(meta, indent=2))
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "vocab_items": self.vocab.item_ids, "vocab_users": self.vocab.user_ids,
            "item_ids": self._ids, "text": self._text,
        }  # fmt: skip
        if self.users is not None:
            u = self.users
            arrays |= {"user_ids": u.user_ids, "age": u.age, "gender": np.array(u.gender),
                       "occupation": np.array(u.occupation)}  # fmt: skip
        np.savez(folder / "two_tower_arrays.npz", **arrays)  # type: ignore[arg-type]
        self.index.save(folder / "index")

    @staticmethod
    def load(folder: Path, catalog: Catalog) -> TwoTowerRetriever:
        """Inverse of save; catalog items the saved model lacks are added from their content."""
        meta = json.loads((folder / "two_tower.json").read_text())
        model = TwoTower(Sizes(**meta["sizes"]), TwoTowerConfig(**meta["config"]))
        model.load_state_dict(torch.load(folder / "two_tower.pt", weights_only=True))
        a = np.load(folder / "two_tower_arrays.npz")
        vocab = Vocab(a["vocab_items"], a["vocab_users"], tuple(meta["occupations"]))
        users = None
        if "user_ids" in a:
            users = Users(
                a["user_ids"], a["age"], [str(g) for g in a["gender"]], [str(o) for o in a["occupation"]]
            )
        index = VectorIndex.load(folder / "index")
        out = TwoTowerRetriever.__new__(TwoTowerRetriever)
        out.model, out.cfg, out.vocab, out.catalog, out.users = model.eval(), model.cfg, vocab, catalog, users
        out.meta = dict(meta["meta"])
        out.user_tower = NumpyUserTower.from_torch(model.user)
        out._ids, out._text = a["item_ids"].astype(np.int64), a["text"].astype(np.float32)
        out._row = IdRows(out._ids)
        out._vecs = out._vectors_for(out._ids, out._text)
        out.index = index
        for item_id in catalog.item_ids:
            if int(item_id) not in out._row:
                r = catalog.row(int(item_id))
                out.add_item(int(item_id), catalog.titles[r], int(catalog.years[r]), catalog.genres[r])
        return out
