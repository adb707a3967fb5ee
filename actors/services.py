"""Import every service module so that each registers its tasks (the registry's single source)."""

from actors import faster_whisper, ffmpeg, llm, paddleocr, pyannote_audio, subtitles, system

SERVICES = (ffmpeg, system, llm, subtitles, paddleocr, faster_whisper, pyannote_audio)
