"""``ffmpeg.*`` service: audio extraction, probing, keyframes, subtitle crops and audio segments."""
