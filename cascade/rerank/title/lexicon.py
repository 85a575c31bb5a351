"""A keyword lexicon from playlist-title words to MovieLens genres (the non-LLM reading of a title).

Each entry maps a lower-case word stem to genres; a title's genres are the union over the stems it
contains. A stem matches the start of a word ("scary" matches "scar", "laughs" "laugh"), except the
short words in WHOLE_WORDS, which match only as a word or its plural ("war", "wars", not "warm").
"""

from __future__ import annotations

import re

LEXICON: dict[str, tuple[str, ...]] = {
    # genre words
    "action": ("Action",), "adventur": ("Adventure",), "animat": ("Animation",), "cartoon": ("Animation",),
    "anime": ("Animation",), "pixar": ("Animation", "Children's"), "disney": ("Animation", "Children's"),
    "kid": ("Children's",), "child": ("Children's",), "family": ("Children's",), "famil": ("Children's",),
    "comed": ("Comedy",), "funny": ("Comedy",), "laugh": ("Comedy",), "humo": ("Comedy",),
    "silly": ("Comedy",), "goofy": ("Comedy",), "feel-good": ("Comedy",), "feelgood": ("Comedy",),
    "crime": ("Crime",), "gangster": ("Crime",), "mob": ("Crime",), "heist": ("Crime", "Thriller"),
    "detective": ("Mystery", "Crime"), "cop": ("Crime", "Action"), "documentar": ("Documentary",),
    "true stor": ("Documentary",), "real-life": ("Documentary",), "drama": ("Drama",),
    "tearjerk": ("Drama", "Romance"), "cry": ("Drama",), "tears": ("Drama",), "weepie": ("Drama",),
    "fantas": ("Fantasy",), "magic": ("Fantasy",), "wizard": ("Fantasy",), "dragon": ("Fantasy",),
    "fairy": ("Fantasy", "Children's"), "noir": ("Film-Noir",), "hardboiled": ("Film-Noir",),
    "horror": ("Horror",), "scar": ("Horror",), "fright": ("Horror",), "creep": ("Horror",),
    "monster": ("Horror",), "zombie": ("Horror",), "slasher": ("Horror",), "haunt": ("Horror",),
    "halloween": ("Horror",), "nightmare": ("Horror",), "ghost": ("Horror",), "vampire": ("Horror",),
    "musical": ("Musical",), "sing": ("Musical",), "song": ("Musical",), "danc": ("Musical",),
    "broadway": ("Musical",), "mystery": ("Mystery",), "myster": ("Mystery",), "whodunit": ("Mystery",),
    "puzzle": ("Mystery",), "clue": ("Mystery",), "romance": ("Romance",), "romant": ("Romance",),
    "love": ("Romance",), "date": ("Romance",), "valentine": ("Romance",), "heart": ("Romance",),
    "kiss": ("Romance",), "sci-fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science fiction": ("Sci-Fi",),
    "space": ("Sci-Fi",), "alien": ("Sci-Fi",), "robot": ("Sci-Fi",), "future": ("Sci-Fi",),
    "galax": ("Sci-Fi",), "star": ("Sci-Fi",), "time travel": ("Sci-Fi",), "cyber": ("Sci-Fi",),
    "thrill": ("Thriller",), "suspens": ("Thriller",), "tense": ("Thriller",), "edge of": ("Thriller",),
    "breath": ("Thriller",), "nail": ("Thriller",), "pulse": ("Thriller",), "paranoi": ("Thriller",),
    "spy": ("Thriller", "Action"), "war": ("War",), "battle": ("War",), "soldier": ("War",),
    "militar": ("War",), "combat": ("War",), "western": ("Western",), "cowboy": ("Western",),
    "frontier": ("Western",), "outlaw": ("Western",), "gunfight": ("Western", "Action"),
    # mood words
    "explos": ("Action",), "adrenalin": ("Action", "Thriller"), "fight": ("Action",),
    "chase": ("Action", "Thriller"), "quest": ("Adventure",), "journey": ("Adventure",),
    "epic": ("Adventure", "War"), "treasure": ("Adventure",), "jungle": ("Adventure",),
    "dark": ("Thriller", "Crime"), "gritty": ("Crime", "Drama"), "murder": ("Crime", "Thriller"),
    "killer": ("Thriller", "Horror"), "serial": ("Thriller", "Crime"), "courtroom": ("Drama", "Crime"),
    "slow burn": ("Drama", "Thriller"), "slow-burn": ("Drama", "Thriller"), "brood": ("Drama",),
    "moving": ("Drama",), "heartwarm": ("Drama", "Comedy"), "cozy": ("Comedy", "Romance"),
    "cosy": ("Comedy", "Romance"), "lighthearted": ("Comedy",), "light-hearted": ("Comedy",),
    "rainy": ("Drama", "Romance"), "holiday": ("Comedy", "Children's"),
    "christmas": ("Comedy", "Children's"), "sunday": ("Comedy", "Drama"),
    "afternoon": ("Comedy", "Children's"), "wholesome": ("Children's", "Comedy"),
    "bedtime": ("Children's", "Animation"), "wonder": ("Fantasy", "Adventure"),
    "escap": ("Fantasy", "Adventure"),
    "mind-bend": ("Sci-Fi", "Mystery"), "mindbend": ("Sci-Fi", "Mystery"), "twist": ("Mystery", "Thriller"),
    "whodun": ("Mystery",), "sleuth": ("Mystery",), "jazz": ("Musical",), "rock": ("Musical",),
    "music": ("Musical",), "frontline": ("War",), "trench": ("War",), "hero": ("Action", "Adventure"),
    "superhero": ("Action", "Sci-Fi"), "dystop": ("Sci-Fi",), "apocaly": ("Sci-Fi", "Action"),
    "satire": ("Comedy",), "parod": ("Comedy",), "spoof": ("Comedy",), "shadow": ("Film-Noir", "Thriller"),
    "femme fatale": ("Film-Noir",), "smoky": ("Film-Noir",), "rain-soaked": ("Film-Noir",),
    "history": ("War", "Drama"), "histor": ("Drama", "War"), "biograph": ("Drama", "Documentary"),
    "ranch": ("Western",), "desert": ("Western", "Adventure"), "saloon": ("Western",),
    "scream": ("Horror",), "gore": ("Horror",), "spooky": ("Horror",), "goosebump": ("Horror",),
    "wedding": ("Romance", "Comedy"), "crush": ("Romance",), "first date": ("Romance",),
}  # fmt: skip

WHOLE_WORDS = frozenset(
    {
        "war",
        "mob",
        "cop",
        "cry",
        "date",
        "kid",
        "star",
        "rock",
        "sing",
        "nail",
        "heart",
        "space",
        "love",
        "dark",
        "tense",
        "spy",
        "hero",
        "gore",
        "clue",
        "kiss",
        "song",
    }
)
_WORDS = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_PATTERNS = {
    stem: re.compile(rf"(?<![a-z0-9]){re.escape(stem)}" + (r"s?(?![a-z0-9])" if stem in WHOLE_WORDS else ""))
    for stem in LEXICON
}


def title_genres(title: str | None) -> frozenset[str]:
    """The genres a title's words map to; empty when no word is in the lexicon."""
    if not title:
        return frozenset()
    text = " ".join(_WORDS.findall(title.lower()))
    out: set[str] = set()
    for stem, genres in LEXICON.items():
        if _PATTERNS[stem].search(text):
            out.update(genres)
    return frozenset(out)
