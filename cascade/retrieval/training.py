"""Point-in-time training examples and the in-batch sampled-softmax training loop with logQ correction."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from cascade.data.dataset import Catalog, Interactions, Users
from cascade.retrieval.encode import ItemContent, Vocab, age_bucket, gender_index
from cascade.retrieval.two_tower import Sizes, TwoTower, TwoTowerConfig, masked_mean

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
TORCH_THREADS = int(os.environ.get("CARE_TORCH_THREADS", "2"))  # 2 cores; 1 is faster on a busy machine


@dataclass(frozen=True)
class Demographics:
    """Per user-row (vocab row) demographic indices; row 0 is the unknown user."""

    age: IntArray
    gender: IntArray
    occupation: IntArray


@dataclass(frozen=True)
class Examples:
    """(user, next item) pairs with the user's strictly earlier items, right-aligned, newest last."""

    user: IntArray  # vocab user row
    target: IntArray  # catalog row of the next item
    history: npt.NDArray[np.int32]  # (N, L) catalog row + 1 of earlier items, 0 = padding (int32: 10M x 50)

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass
class TrainResult:
    """A trained model and everything needed to serve it."""

    model: TwoTower
    vocab: Vocab
    demographics: Demographics
    seconds: float
    losses: list[float] = field(default_factory=list)


def build_vocab(users: Users, train: Interactions) -> Vocab:
    """Id embeddings only for items and users present in the training interactions."""
    return Vocab(np.unique(train.item), np.unique(train.user), tuple(sorted(set(users.occupation))))


def build_demographics(users: Users, vocab: Vocab) -> Demographics:
    """Demographic indices aligned with the vocab's user rows (row 0: unknown)."""
    n = len(vocab.user_ids) + 1
    age, gender, occ = (np.zeros(n, dtype=np.int64) for _ in range(3))
    rows = {int(u): r for r, u in enumerate(users.user_ids)}
    for v, uid in enumerate(vocab.user_ids, start=1):
        r = rows.get(int(uid))
        if r is not None:
            age[v] = age_bucket(int(users.age[r]))
            gender[v] = gender_index(users.gender[r])
            occ[v] = vocab.occupation_index(users.occupation[r])
    return Demographics(age, gender, occ)


def build_examples(train: Interactions, catalog: Catalog, vocab: Vocab, history_len: int) -> Examples:
    """Every event of every user as a target, with only that user's earlier events as history."""
    users: list[IntArray] = []
    targets: list[IntArray] = []
    hists: list[npt.NDArray[np.int32]] = []
    for uid, items in train.by_user().items():
        rows = catalog.rows(items) + 1
        m = len(rows)
        padded = np.concatenate([np.zeros(history_len, dtype=np.int32), rows.astype(np.int32)])
        # example t: history = rows[t-L:t] (right-aligned), target = rows[t]
        windows = np.lib.stride_tricks.sliding_window_view(padded, history_len)[:m]
        users.append(np.full(m, vocab.user_index(uid), dtype=np.int64))
        targets.append(rows - 1)
        hists.append(windows.copy())
    return Examples(np.concatenate(users), np.concatenate(targets), np.concatenate(hists))


def log_q(targets: IntArray, n_items: int) -> FloatArray:
    """Log of each catalog row's sampling probability as an in-batch negative (add-one smoothed)."""
    counts = np.bincount(targets, minlength=n_items).astype(np.float64) + 1.0
    out: FloatArray = np.log(counts / counts.sum()).astype(np.float32)
    return out


def batch_items(
    targets: IntArray, hist: npt.NDArray[np.int32] | IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """The catalog rows a batch touches, and the targets' and history cells' positions among them.

    Only these items' vectors are computed per step, so a step costs the batch, not the catalog.
    `hist` holds row + 1 (0: padding); padding cells point at position 0 and must be masked out.
    """
    used = np.unique(np.concatenate([targets, hist[hist > 0] - 1]))
    return used, np.searchsorted(used, targets), np.searchsorted(used, np.maximum(hist - 1, 0))


@contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """Seeded, deterministic, 2-thread torch for the duration of the block (restored afterwards)."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(TORCH_THREADS)
    torch.use_deterministic_algorithms(True)
    torch.set_flush_denormal(True)  # Adam's tiny second moments are otherwise denormal and very slow
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)
        torch.set_flush_denormal(False)


def _session_split(
    hist: npt.NDArray[np.int32], cfg: TwoTowerConfig, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Mask of the newest history columns that act as the real-time session in this batch."""
    n, width = hist.shape
    length = (hist > 0).sum(axis=1)
    s = np.minimum(rng.integers(1, cfg.session_max + 1, size=n), length)
    s = np.where(rng.random(n) < cfg.session_prob, s, 0)
    out: npt.NDArray[np.bool_] = np.arange(width)[None, :] >= (width - s)[:, None]
    return out


def train_two_tower(
    content: ItemContent,
    examples: Examples,
    vocab: Vocab,
    demographics: Demographics,
    cfg: TwoTowerConfig,
    seed: int,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Adam over shuffled mini-batches; loss = softmax over in-batch targets with logQ correction."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    sizes = Sizes(len(vocab.item_ids), len(vocab.user_ids), content.genres.shape[1], len(vocab.occupations))
    losses: list[float] = []
    with deterministic_torch(seed):
        model = TwoTower(sizes, cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        item_idx, genres, year, text = (
            torch.from_numpy(a) for a in (content.id_index, content.genres, content.year, content.text)
        )
        lq = torch.from_numpy(log_q(examples.target, len(content))) * cfg.logq_weight
        demo = [torch.from_numpy(a) for a in (demographics.age, demographics.gender, demographics.occupation)]
        model.train()
        per_epoch = min(len(examples), -(-cfg.max_examples // cfg.epochs))
        for epoch in range(cfg.epochs):
            order = rng.permutation(len(examples))[:per_epoch]
            total, steps = 0.0, 0
            for b in range(0, len(order), cfg.batch_size):
                rows = order[b : b + cfg.batch_size]
                if len(rows) < 2:
                    continue
                hist = examples.history[rows]
                sess_mask = _session_split(hist, cfg, rng) & (hist > 0)
                hist_mask = (hist > 0) & ~sess_mask
                used, tgt_at, hist_at = (
                    torch.from_numpy(a) for a in batch_items(examples.target[rows], hist)
                )
                vecs = model.item(item_idx[used], genres[used], year[used], text[used])
                users = torch.from_numpy(examples.user[rows])
                u = model.user(
                    users,
                    *(d[users] for d in demo),
                    masked_mean(vecs, hist_at, torch.from_numpy(hist_mask)),
                    masked_mean(vecs, hist_at, torch.from_numpy(sess_mask)),
                )
                tgt = torch.from_numpy(examples.target[rows])
                logits = u @ vecs[tgt_at].T / cfg.temperature - lq[tgt][None, :]
                dup = (tgt[None, :] == tgt[:, None]) & ~torch.eye(len(rows), dtype=torch.bool)
                loss = F.cross_entropy(logits.masked_fill(dup, float("-inf")), torch.arange(len(rows)))
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                total, steps = total + float(loss.detach()), steps + 1
            losses.append(total / max(steps, 1))
            if progress is not None:
                progress(epoch, losses[-1])
        model.eval()
    return TrainResult(model, vocab, demographics, time.perf_counter() - start, losses)
