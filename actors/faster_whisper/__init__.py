"""``faster_whisper.*`` service: speech to text with word timestamps."""
