from cascade.rerank.title.lexicon import title_genres


def test_genre_and_mood_words_map_to_genres() -> None:
    assert title_genres("90s thrillers") == {"Thriller"}
    assert "Horror" in title_genres("Friday night frights")
    assert {"Children's", "Comedy"} <= title_genres("feel-good family afternoon")


def test_titles_without_lexicon_words_read_nothing() -> None:
    assert title_genres("things that go bump") == frozenset()
    assert title_genres(None) == frozenset()
    assert title_genres("") == frozenset()


def test_stems_match_word_starts_only() -> None:
    assert "War" not in title_genres("a warm evening")  # short words match whole
    assert "War" in title_genres("star wars") and "Sci-Fi" in title_genres("star wars")
    assert title_genres("award winners") == frozenset()  # nor inside a word
