"""The LLM re-ranker: backends, prompt templates, repair, deadline and fallback.

Importing this package sets OMP_WAIT_POLICY=PASSIVE (unless already set) before llama.cpp's OpenMP
runtime loads: with spinning waits, 2 llama.cpp threads on a busy 2-core machine ran prompt
evaluation 2x slower than 1 thread; passive waits removed that loss. It has no effect if llama_cpp
was imported before this package.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
