"""LLM backends: local Hugging Face models, OpenAI-compatible servers, the embedded model.

Nothing here is imported by ``import tdrl``; torch and transformers load only when a local
model is used.
"""
