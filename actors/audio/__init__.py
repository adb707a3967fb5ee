"""Audio work for dubbing: vocal separation (the film's music and effects without its voices)."""
