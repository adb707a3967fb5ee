"""``llm.*`` service: proofread and translate subtitles through any OpenAI-compatible endpoint."""
