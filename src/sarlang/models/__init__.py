"""Models: one interface for the built-in baseline, Hugging Face VLMs and OpenAI-compatible APIs."""
