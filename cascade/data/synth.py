"""Synthetic data sets in the RecBole atomic layout, for measuring cost and scale, never accuracy:
`synth` writes `synth.inter`, `synth.item` and `synth.user` that `cascade.data.loaders.load` reads like
MovieLens-100k, with Zipf-like item popularity, items in latent taste clusters that correlate with
genres, titles and release years, users with one to three clusters whose mix drifts over their history,
per-user increasing timestamps over four years, ratings 1-5 and ML-100k-like demographics. The structure
is there so that training and serving do realistic work (skewed popularity, clustered embeddings,
sequential signal); what a model scores on it says nothing about real data and is not to be quoted as
an accuracy result. Same arguments give byte-identical files; everything is vectorized numpy, written
in blocks of users (10M interactions: about 15 s and 0.5 GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cascade.data.dataset import GENRES

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NAME = "synth"
INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
ITEM_HEADER = b"item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
USER_HEADER = b"user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"

MIN_PER_USER = 5
_BLOCK_SLOTS = 1 << 21  # interactions generated (and written) per block of users
_T0 = 1_420_070_400  # 2015-01-01 UTC
_SPAN = 4 * 365 * 86_400  # four years
_GENRES = tuple(g for g in GENRES if g != "unknown")
_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip
# ML-100k's occupation counts (943 users), used as sampling weights
_OCCUPATION_W = (79, 28, 7, 95, 67, 18, 32, 16, 7, 12, 51, 26, 9, 105, 66, 14, 12, 31, 196, 27, 45)
_ADJECTIVES = (
    "Silent", "Broken", "Golden", "Last", "Hidden", "Crimson", "Endless", "Frozen", "Wild", "Dark",
    "Lonely", "Burning", "Lost", "Secret", "Final", "Distant", "Iron", "Midnight", "Restless", "Savage",
    "Quiet", "Electric", "Forgotten", "Sweet", "Bitter", "Eternal", "Little", "Hollow", "Velvet", "Wicked",
    "Blue", "Red", "Black", "White", "Silver", "Strange", "Dangerous", "Perfect", "Sudden", "Gentle",
    "Brave", "Shattered", "Invisible", "Crooked", "Northern", "Southern", "Royal", "Lucky", "Cold", "Fading",
    "Mad", "Rising", "Falling", "Sacred", "Stolen", "Twisted", "Hungry", "Gilded", "Wandering", "Bright",
    "Deadly", "Paper", "Glass", "Stone",
)  # fmt: skip
_NOUNS = (
    "River", "Night", "Heart", "City", "Road", "Storm", "Dream", "Garden", "Shadow", "Empire", "Island",
    "Mirror", "Promise", "Summer", "Winter", "Kingdom", "Stranger", "Witness", "Dragon", "Planet", "Ghost",
    "Circus", "Harbor", "Frontier", "Voyage", "Machine", "Detective", "Soldier", "Bride", "Wolf", "Angel",
    "Castle", "Desert", "Ocean", "Forest", "Train", "Hotel", "Station", "Letter", "Song", "Dance",
    "Game", "Hunter", "Rebel", "Prince", "Queen", "Thief", "Doctor", "Sister", "Brother", "Father",
    "Mother", "Child", "Horizon", "Signal", "Code", "Star", "Moon", "Sun", "Fire", "Rain", "Snow",
    "Mountain", "Valley", "Bridge", "Tower", "Crown", "Sword", "Secret", "Journey", "Legend", "Mystery",
    "Affair", "Escape", "Return", "Revenge", "Wedding", "Funeral", "Party", "Holiday", "Machine", "Killer",
    "Spy", "Pilot", "Captain", "Outlaw", "Sheriff", "Cowboy", "Robot", "Alien", "Zombie", "Vampire",
    "Monster", "Clown", "Lover", "Friend",
)  # fmt: skip
_PLACES = (
    "Paris", "the North", "the Sea", "Tomorrow", "Yesterday", "the Damned", "Mars", "the West", "Brooklyn",
    "Tokyo", "the Valley", "Glass", "Fire", "Dreams", "Shadows", "the Lost", "Rome", "Cairo", "the Moon",
    "Eden", "Avalon", "Berlin", "Memphis", "the Desert", "Thunder", "Silence", "the Night", "the Ring",
    "Texas", "Venice", "the Deep", "Steel",
)  # fmt: skip
_SUFFIXES = ("", " II", " III", " Returns", ": Part Two", " Forever")
_SUFFIX_W = (0.86, 0.06, 0.02, 0.02, 0.02, 0.02)


@dataclass(frozen=True)
class _Table:
    """A field given as indices into a table of byte strings."""

    entries: Sequence[bytes]
    index: IntArray


Field = IntArray | _Table


def _format(fields: Sequence[tuple[Field, bytes]], width: Sequence[int] | None = None) -> bytes:
    """Rows as bytes, vectorized: each field (non-negative ints, or table strings) then its separator.

    `width[j]` zero-pads integer field j to at least that many digits.
    """
    n = len(fields[0][0].index if isinstance(fields[0][0], _Table) else fields[0][0])
    lens: list[IntArray] = []
    for j, (f, _sep) in enumerate(fields):
        if isinstance(f, _Table):
            tlen = np.asarray([len(e) for e in f.entries], dtype=np.int64)
            ln = tlen[f.index]
        else:
            if n and int(f.min()) < 0:
                raise ValueError("only non-negative integers are formatted")
            ln = np.ones(n, dtype=np.int64)
            bound = np.int64(10)
            while n and bound <= int(f.max()):
                ln += f >= bound
                bound *= 10
            if width is not None and width[j] > 1:
                ln = np.maximum(ln, width[j])
        lens.append(ln)
    line = np.zeros(n, dtype=np.int64)
    for (_f, sep), ln in zip(fields, lens, strict=True):
        line += ln + len(sep)
    buf = np.empty(int(line.sum()), dtype=np.uint8)
    pos = np.cumsum(line) - line
    for (f, sep), ln in zip(fields, lens, strict=True):
        if isinstance(f, _Table):
            width_max = max((len(e) for e in f.entries), default=0)
            mat = np.zeros((len(f.entries), max(width_max, 1)), dtype=np.uint8)
            for r, e in enumerate(f.entries):
                mat[r, : len(e)] = np.frombuffer(e, dtype=np.uint8)
            for d in range(width_max):
                m = ln > d
                buf[pos[m] + d] = mat[f.index[m], d]
        else:
            v = f.copy()
            last = pos + ln - 1
            for d in range(int(ln.max()) if n else 0):
                m = ln > d
                buf[last[m] - d] = (v[m] % 10 + 48).astype(np.uint8)
                v //= 10
        pos += ln
        for k, ch in enumerate(sep):
            buf[pos + k] = ch
        pos += len(sep)
    return buf.tobytes()


def _counts(rng: np.random.Generator, users: int, items: int, interactions: int) -> IntArray:
    """Interactions per user: at least MIN_PER_USER, log-normal tail, at most half the catalog."""
    cap = (items + 1) // 2
    w = rng.lognormal(0.0, 1.1, size=users)
    n = MIN_PER_USER + rng.multinomial(interactions - MIN_PER_USER * users, w / w.sum()).astype(np.int64)
    for _ in range(3):
        over = int(np.maximum(n - cap, 0).sum())
        if not over:
            break
        n = np.minimum(n, cap)
        room = cap - n
        wr = w * (room > 0)
        n += rng.multinomial(over, wr / wr.sum())
    over = int(np.maximum(n - cap, 0).sum())
    if over:  # deterministic fill of what is left, in user order
        n = np.minimum(n, cap)
        room = cap - n
        n += np.clip(over - (np.cumsum(room) - room), 0, room)
    return n


@dataclass(frozen=True)
class _World:
    """Latent structure shared by every block: clusters, item popularity, per-cluster sampling tables."""

    n_clusters: int
    item_cluster: IntArray  # per item row
    cluster_p: FloatArray  # share of interest per cluster
    order: IntArray  # item rows grouped by cluster
    cum: FloatArray  # cumulative popularity along `order`
    c_lo: FloatArray  # cumulative popularity where each cluster starts
    c_mass: FloatArray  # popularity mass per cluster
    c_start: IntArray  # index into `order` where each cluster starts
    c_size: IntArray
    quality: FloatArray  # per item row, rating offset


def _world(rng: np.random.Generator, items: int) -> _World:
    k = int(np.clip(round(np.sqrt(items) / 4), 4, 64))
    # cluster sizes vary (Dirichlet), every cluster has at least one item
    share = rng.dirichlet(np.full(k, 2.0))
    item_cluster = np.minimum(
        np.searchsorted(np.cumsum(share), rng.random(items), side="right"), k - 1
    ).astype(np.int64)
    item_cluster[rng.permutation(items)[:k]] = np.arange(k)
    # Zipf-like popularity over a random ranking of the items
    rank = rng.permutation(items)
    # the offset flattens a big catalog's very head: top 1% of 200k items hold 39% of interactions, not 57%
    pop = 1.0 / (rank + 3.0 + items / 1000) ** 1.1
    order = np.argsort(item_cluster, kind="stable").astype(np.int64)
    cum = np.cumsum(pop[order])
    c_size = np.bincount(item_cluster, minlength=k).astype(np.int64)
    c_start = np.cumsum(c_size) - c_size
    c_mass = np.bincount(item_cluster, weights=pop, minlength=k).astype(np.float64)
    c_lo = np.cumsum(c_mass) - c_mass
    cluster_p = c_mass / c_mass.sum()  # popular clusters attract more users
    quality = rng.normal(0.0, 0.45, size=items)
    return _World(
        n_clusters=k,
        item_cluster=item_cluster,
        cluster_p=cluster_p,
        order=order,
        cum=cum,
        c_lo=c_lo,
        c_mass=c_mass,
        c_start=c_start,
        c_size=c_size,
        quality=quality,
    )


def _pick(rng: np.random.Generator, w: _World, cluster: IntArray, explore: npt.NDArray[np.bool_]) -> IntArray:
    """Item rows: popularity-weighted within `cluster`, or over the whole catalog where `explore`."""
    r = rng.random(len(cluster))
    target = np.where(explore, r * w.cum[-1], w.c_lo[cluster] + r * w.c_mass[cluster])
    idx = np.searchsorted(w.cum, target, side="right")
    lo = np.where(explore, 0, w.c_start[cluster])
    hi = np.where(explore, len(w.order) - 1, w.c_start[cluster] + w.c_size[cluster] - 1)
    return w.order[np.clip(idx, lo, hi)]


def _pick_uniform(rng: np.random.Generator, w: _World, cluster: IntArray, anywhere: bool) -> IntArray:
    if anywhere:
        return rng.integers(0, len(w.order), size=len(cluster))
    return w.order[w.c_start[cluster] + (rng.random(len(cluster)) * w.c_size[cluster]).astype(np.int64)]


def _dups(local_user: IntArray, item: IntArray, items: int) -> IntArray:
    """Slots repeating an earlier slot's (user, item)."""
    key = local_user * items + item
    order = np.argsort(key, kind="stable")
    ks = key[order]
    return np.sort(order[1:][ks[1:] == ks[:-1]])


def _block(
    rng: np.random.Generator, w: _World, items: int, first_user: int, n: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Interactions of users first_user.. (counts `n`), in user then time order: user ids, item rows,
    ratings, timestamps."""
    nu, total = len(n), int(n.sum())
    local = np.repeat(np.arange(nu, dtype=np.int64), n)
    start = np.cumsum(n) - n
    pos = np.arange(total, dtype=np.int64) - start[local]
    frac = pos / np.maximum(n[local] - 1, 1)
    # tastes: up to three clusters (repeats collapse), a start mix and an end mix; the mix drifts
    n_taste = rng.choice(3, size=nu, p=[0.35, 0.4, 0.25]) + 1
    clusters = rng.choice(w.n_clusters, size=(nu, 3), p=w.cluster_p)
    a = rng.gamma(1.0, size=(nu, 3)) * (np.arange(3) < n_taste[:, None])
    b = rng.gamma(1.0, size=(nu, 3)) * (np.arange(3) < n_taste[:, None])
    a[:, 0] += 2.0
    b[np.arange(nu), n_taste - 1] += 2.0
    a /= a.sum(axis=1, keepdims=True)
    b /= b.sum(axis=1, keepdims=True)
    explore_rate = rng.beta(2.0, 8.0, size=nu)
    bias = rng.normal(0.0, 0.45, size=nu)

    def draw(slots: IntArray, mode: int) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        lu, f = local[slots], frac[slots]
        mix = (1.0 - f)[:, None] * a[lu] + f[:, None] * b[lu]
        j = (rng.random(len(slots))[:, None] > np.cumsum(mix, axis=1)[:, :2]).sum(axis=1)
        c = clusters[lu, j]
        explore = rng.random(len(slots)) < explore_rate[lu]
        if mode == 0:
            return _pick(rng, w, c, explore), explore
        return _pick_uniform(rng, w, c, mode == 2), explore | (mode == 2)

    slots = np.arange(total, dtype=np.int64)
    item, explore = draw(slots, 0)
    for round_ in range(12):
        dup = _dups(local, item, items)
        if not len(dup):
            break
        item[dup], explore[dup] = draw(dup, 0 if round_ < 5 else 1 if round_ < 9 else 2)
    dup = _dups(local, item, items)
    if len(dup):  # a few heavy users on a small catalog: fill from the items each has not seen
        for lu in np.unique(local[dup]):
            mine = dup[local[dup] == lu]
            seen = item[start[lu] : start[lu] + n[lu]]
            free = np.setdiff1d(np.arange(items), seen)
            item[mine] = rng.choice(free, size=len(mine), replace=False)
            explore[mine] = True
    # timestamps: a start, an active span, bursty gaps; strictly increasing within a user
    t_start = rng.random(nu) * _SPAN * 0.85
    span = np.minimum(rng.random(nu) ** 2 * _SPAN, _SPAN - t_start) - n
    gaps = rng.lognormal(0.0, 2.0, size=total)
    cs = np.cumsum(gaps)
    cs_user = cs - (cs[start] - gaps[start])[local]
    rel = cs_user / cs_user[start + n - 1][local]
    ts = _T0 + (t_start[local] + rel * np.maximum(span[local], 0)).astype(np.int64) + pos
    # ratings: user bias, item quality, a bonus inside the user's tastes, noise
    score = 3.55 + bias[local] + w.quality[item] + np.where(explore, -0.35, 0.1) + rng.normal(0, 0.85, total)
    rating = np.clip(np.rint(score), 1, 5).astype(np.int64)
    return local + first_user, item, rating, ts


def _items(rng: np.random.Generator, w: _World, items: int) -> bytes:
    k = w.n_clusters
    c = w.item_cluster
    # genres: each cluster has two signature genres; 1-3 genres per item, listed in GENRES order
    sig = np.stack([rng.permutation(len(_GENRES))[:2] for _ in range(k)]).astype(np.int64)
    n_g = rng.choice(3, size=items, p=[0.5, 0.35, 0.15]) + 1
    r = rng.random(items)
    g1 = np.where(r < 0.6, sig[c, 0], np.where(r < 0.9, sig[c, 1], rng.integers(0, len(_GENRES), items)))
    g2 = np.where(rng.random(items) < 0.5, sig[c, 1], rng.integers(0, len(_GENRES), items))
    g3 = rng.integers(0, len(_GENRES), items)
    none = len(_GENRES)
    g = np.stack([g1, np.where(n_g >= 2, g2, none), np.where(n_g >= 3, g3, none)], axis=1)
    g.sort(axis=1)
    g[:, 1:][g[:, 1:] == g[:, :-1]] = none
    g.sort(axis=1)
    first = _Table([s.encode() for s in _GENRES], g[:, 0])
    rest = [b" " + s.encode() for s in _GENRES] + [b""]
    # release years: each cluster has an era; most films are recent
    era = 2025 - rng.exponential(22.0, size=k)
    year = np.clip(np.rint(era[c] + rng.normal(0.0, 10.0, items)), 1920, 2025).astype(np.int64)
    # titles: "[The ]Adjective Noun[ of Place][suffix]", nouns drawn near a per-cluster offset
    noun_off = rng.integers(0, len(_NOUNS), k)
    noun = (noun_off[c] + rng.integers(0, 24, items)) % len(_NOUNS)
    place = np.where(rng.random(items) < 0.3, rng.integers(0, len(_PLACES), items), len(_PLACES))
    fields: list[tuple[Field, bytes]] = [
        (np.arange(1, items + 1, dtype=np.int64), b"\t"),
        (_Table([b"", b"The "], rng.integers(0, 2, items)), b""),
        (_Table([s.encode() for s in _ADJECTIVES], rng.integers(0, len(_ADJECTIVES), items)), b" "),
        (_Table([s.encode() for s in _NOUNS], noun), b""),
        (_Table([f" of {p}".encode() for p in _PLACES] + [b""], place), b""),
        (_Table([s.encode() for s in _SUFFIXES], rng.choice(len(_SUFFIXES), items, p=_SUFFIX_W)), b"\t"),
        (year, b"\t"),
        (first, b""),
        (_Table(rest, g[:, 1]), b""),
        (_Table(rest, g[:, 2]), b"\n"),
    ]
    return ITEM_HEADER + _format(fields)


def _users(rng: np.random.Generator, users: int) -> bytes:
    age = np.clip(np.rint(rng.gamma(7.0, 4.8, users) + 3), 7, 73).astype(np.int64)
    male = rng.random(users) < 0.71
    occ_p = np.asarray(_OCCUPATION_W, dtype=np.float64)
    occ = rng.choice(len(_OCCUPATIONS), size=users, p=occ_p / occ_p.sum())
    zipc = rng.integers(0, 100_000, users)
    fields: list[tuple[Field, bytes]] = [
        (np.arange(1, users + 1, dtype=np.int64), b"\t"),
        (age, b"\t"),
        (_Table([b"F", b"M"], male.astype(np.int64)), b"\t"),
        (_Table([s.encode() for s in _OCCUPATIONS], occ), b"\t"),
        (zipc, b"\n"),
    ]
    return USER_HEADER + _format(fields, width=[0, 0, 0, 0, 5])


def check_args(users: int, items: int, interactions: int) -> tuple[str, str] | None:
    """(option, why) when these sizes cannot be generated, else None."""
    for name, v in (("--users", users), ("--items", items), ("--interactions", interactions)):
        if v <= 0:
            return name, f"must be a positive integer, got {v}"
    least, most = MIN_PER_USER * users, users * items // 2
    if interactions < least:
        return "--interactions", f"must be at least {MIN_PER_USER} x --users = {least}, got {interactions}"
    if 2 * interactions > users * items:
        return "--interactions", f"must be at most --users x --items / 2 = {most}, got {interactions}"
    return None


def synth(users: int, items: int, interactions: int, seed: int, out: Path) -> Path:
    """Write synth.inter/.item/.user into `out` (created); returns `out`. Same arguments, same bytes."""
    problem = check_args(users, items, interactions)
    if problem:
        raise ValueError(" ".join(problem))
    out.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    s_world, s_counts, s_items, s_users, s_blocks = root.spawn(5)
    w = _world(np.random.default_rng(s_world), items)
    n = _counts(np.random.default_rng(s_counts), users, items, interactions)
    (out / f"{NAME}.item").write_bytes(_items(np.random.default_rng(s_items), w, items))
    (out / f"{NAME}.user").write_bytes(_users(np.random.default_rng(s_users), users))
    # blocks of whole users, about _BLOCK_SLOTS interactions each; boundaries depend only on the counts
    cut = np.searchsorted(np.cumsum(n), np.arange(_BLOCK_SLOTS, interactions, _BLOCK_SLOTS), side="left")
    bounds = np.unique(np.r_[0, cut + 1, users].clip(0, users))
    with (out / f"{NAME}.inter").open("wb") as f:
        f.write(INTER_HEADER)
        for lo, hi, s in zip(bounds[:-1], bounds[1:], s_blocks.spawn(len(bounds) - 1), strict=True):
            rng = np.random.default_rng(s)
            u, item, rating, ts = _block(rng, w, items, int(lo) + 1, n[lo:hi])
            f.write(_format([(u, b"\t"), (item + 1, b"\t"), (rating, b"\t"), (ts, b"\n")]))
    return out
