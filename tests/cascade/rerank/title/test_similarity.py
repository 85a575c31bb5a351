from cascade.rerank.title.similarity import TitleSimilarity
from cascade.types import ItemText


def test_minilm_similarity_prefers_on_theme_items() -> None:
    sim = TitleSimilarity()
    items = (
        ItemText(1, "Star Wars", 1977, ("Action", "Adventure", "Sci-Fi")),
        ItemText(2, "Sleepless in Seattle", 1993, ("Comedy", "Romance")),
    )
    space = sim("adventures among the stars", items)
    love = sim("a romantic evening", items)
    assert space[0] > space[1] and love[1] > love[0]
    assert sim("adventures among the stars", items[:1])[0] == space[0]  # cached vectors, same answer
