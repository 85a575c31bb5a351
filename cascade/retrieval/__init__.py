"""Two-tower retrieval over a FAISS index: text embeddings, model, index, retriever, evaluation."""
