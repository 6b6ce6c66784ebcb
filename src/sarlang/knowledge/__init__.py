"""The knowledge base of retrieval-augmented answers (RS-RAG, Wen et al. 2025): passages, their
embeddings and the vector index retrieval reads.

- :mod:`~sarlang.knowledge.passages`: passages from a folder of documents (Markdown, text,
  JSONL) and from a build's captions with their metadata;
- :mod:`~sarlang.knowledge.index`: the index on disk (FAISS), built once, loaded fast, updated
  incrementally, refusing another embedding model;
- :mod:`~sarlang.knowledge.retrieve`: the top passages of a prompt, by its image, its question
  or both (``sarlang predict --retrieve``), and their recall where the relevant passages are known.
"""
