import numpy as np
import pytest

from cascade.data.idrows import IdRows, first_seen, position_table, positions, ranks_in


def test_rows_match_a_dict_lookup_in_insertion_order() -> None:
    ids = np.asarray([50, 3, 999, 7, 12], dtype=np.int64)
    m = IdRows(ids)
    q = np.asarray([7, 8, 50, 999, -1, 3, 3], dtype=np.int64)
    want = [{int(i): r for r, i in enumerate(ids)}.get(int(i), -1) for i in q]
    assert m.rows(q).tolist() == want
    assert m.known_rows([8, 12, 50]).tolist() == [4, 0]
    assert m[999] == 2 and m.get(8) == -1 and 12 in m and 8 not in m and len(m) == 5
    assert m.all_rows([12, 50]).tolist() == [4, 0]
    with pytest.raises(KeyError, match="8"):
        m.all_rows([12, 8, 9])


def test_append_and_extend_give_the_next_rows() -> None:
    m = IdRows([10, 20])
    assert m.append(5) == 2
    m.extend([30, 1])
    assert m.rows(np.asarray([1, 5, 10, 20, 30])).tolist() == [4, 2, 0, 1, 3]
    with pytest.raises(ValueError, match="already present"):
        m.append(20)
    with pytest.raises(ValueError, match="already present"):
        m.extend([40, 10])


def test_empty_map_and_duplicates() -> None:
    assert IdRows().rows(np.asarray([1, 2])).tolist() == [-1, -1]
    with pytest.raises(ValueError, match="duplicate"):
        IdRows([1, 2, 1])


def test_positions_agrees_with_index_lookup() -> None:
    rng = np.random.default_rng(0)
    keys = rng.permutation(1000)[:300].astype(np.int64)
    q = rng.integers(0, 1000, 200).astype(np.int64)
    where = {int(k): i for i, k in enumerate(keys)}
    assert positions(keys, q).tolist() == [where.get(int(i), -1) for i in q]


@pytest.mark.parametrize(
    "span", [1_700, 10**9]
)  # a dense catalog (table lookup) and sparse ids (binary search)
def test_rows_agree_with_a_dict_through_appends(span: int) -> None:
    rng = np.random.default_rng(span % 97)
    ids = rng.permutation(np.unique(rng.integers(0, span, 1_200)))[:1_000].astype(np.int64)
    m, want = IdRows(ids), {int(i): r for r, i in enumerate(ids)}
    assert (m._table is not None) == (span == 1_700)

    def check() -> None:
        q = np.concatenate([rng.integers(-5, span + 5, 300), ids[:50], [-(2**40), 2**40]]).astype(np.int64)
        assert m.rows(q).tolist() == [want.get(int(i), -1) for i in q]
        inside = q[(q >= 0) & (q < span)][:5]
        assert m.rows(inside).tolist() == [want.get(int(i), -1) for i in inside]

    check()
    absent = next(i for i in range(span) if i not in want)  # inside the table's range
    for new in (absent, span + 10, 3 * span + 7):
        want[new] = m.append(new)
        check()
    m.extend([span + 11, span + 12])
    want.update({span + 11: len(want), span + 12: len(want) + 1})
    check()
    assert m.all_rows([span + 12]).tolist() == [want[span + 12]]


def test_first_seen_keeps_each_row_where_it_first_appears_and_clears_the_table() -> None:
    rows = np.asarray([5, 3, 3, 9, 5, 1, 9, 7], dtype=np.int64)
    first = first_seen(rows, 10)
    assert rows[first].tolist() == list(dict.fromkeys(rows.tolist())) == [5, 3, 9, 1, 7]
    assert first.tolist() == [0, 1, 3, 5, 7]
    assert (position_table(10)[:10] == -1).all()  # the next caller finds it empty


def test_ranks_in_gives_each_rows_position_in_the_source_or_minus_one() -> None:
    source = np.asarray([8, 2, 6], dtype=np.int64)
    rows = np.asarray([6, 0, 8, 2, 6], dtype=np.int64)
    assert ranks_in(rows, source, 9).tolist() == [2, -1, 0, 1, 2] == positions(source, rows).tolist()
    assert (position_table(9)[:9] == -1).all()
