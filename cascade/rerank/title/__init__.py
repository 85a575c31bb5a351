"""Reading a playlist title: a keyword lexicon to genres, and MiniLM similarity to item text."""
