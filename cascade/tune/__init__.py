"""`care tune`: LoRA fine-tuning of the embedded LLM re-ranker as a verbalizer (LlamaRec style)."""
