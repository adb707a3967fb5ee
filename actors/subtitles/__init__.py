"""``subtitles.*`` service: subtitle files from transcription segments (and speaker turns)."""
