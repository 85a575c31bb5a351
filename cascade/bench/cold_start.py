"""`care bench cold-start`: a simulated day of requests after new items arrive through POST /items' path."""

from __future__ import annotations

from cascade.bench.timing import print_table
from cascade.features.online import MemoryStoreConfig, create_store
from cascade.runtime import load_runtime
from cascade.types import Context

NEW_ITEMS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Starfall: The Orbit of Echoes", 1998, ("Sci-Fi", "Action")),
    ("A Quiet Harbour", 1998, ("Drama", "Romance")),
    ("The Midnight Ledger", 1998, ("Crime", "Thriller")),
    ("Paws on the Prairie", 1998, ("Children's", "Comedy")),
    ("Hollow Creek", 1998, ("Horror",)),
    ("Laugh Track", 1998, ("Comedy",)),
    ("Iron Coast", 1998, ("Action", "War")),
    ("Dust and Silver", 1998, ("Western",)),
    ("The Clockmaker's Riddle", 1998, ("Mystery", "Thriller")),
    ("Song of the Lantern", 1998, ("Animation", "Musical")),
)
DAY = 86_400


def run(n_items: int = 10) -> None:
    """Add `n_items` new items, serve one request per user over a day, count new-item impressions."""
    rt = load_runtime()
    store = rt.feature_store(create_store(MemoryStoreConfig()))
    pipe = rt.online_pipeline(store)
    first = int(rt.dataset.catalog.item_ids.max()) + 1
    new = {}
    for j, (title, year, genres) in enumerate(NEW_ITEMS[:n_items]):
        rt.add_item(store, first + j, title, year, genres)
        new[first + j] = title
    users = rt.dataset.users.user_ids.tolist()
    start = float(rt.as_of_end)
    top10 = top50 = 0
    shown = dict.fromkeys(new, 0)
    for n, u in enumerate(users):
        ranked = pipe.rank(int(u), Context(timestamp=start + DAY * n / len(users)))
        ids = ranked.ranked.item_ids.tolist()
        top10 += any(i in new for i in ids[:10])
        top50 += any(i in new for i in ids)
        for i in ids[:10]:
            if i in shown:
                shown[i] += 1
    print_table(
        f"a simulated day: {len(users)} requests (one per user) after {len(new)} new items",
        ["measure", "value"],
        [
            ["requests with a new item in the top 10", f"{top10} ({top10 / len(users):.1%})"],
            ["requests with a new item in the top 50", f"{top50} ({top50 / len(users):.1%})"],
            ["new items shown at least once (top 10)", f"{sum(v > 0 for v in shown.values())} / {len(new)}"],
        ],
    )
    print_table(
        "impressions (top 10) per new item", ["item", "genres", "impressions"],
        [[new[i], ", ".join(NEW_ITEMS[i - first][2]), shown[i]] for i in new],
    )  # fmt: skip
    genre = rt.dataset.catalog.genre_matrix()
    sci = rt.dataset.catalog.genre_names.index("Sci-Fi")
    hist = rt.split.history_before("test").by_user()
    share = {u: float(genre[rt.dataset.catalog.rows(h), sci].mean()) for u, h in hist.items()}
    fan = max(share, key=lambda u: (share[u], len(hist[u])))
    ids = pipe.rank(fan, Context(timestamp=start)).ranked.item_ids.tolist()
    where = ids.index(first) + 1 if first in ids else None
    print(f"sci-fi fan (user {fan}, {share[fan]:.0%} sci-fi): new sci-fi item at rank {where} of the top 50")
