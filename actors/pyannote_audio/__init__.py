"""``pyannote_audio.*`` service: who speaks when, and reading diarization files back."""
