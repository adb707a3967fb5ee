"""``paddleocr.*`` service: find the subtitle area, OCR cropped frames, write SRT/WebVTT/JSON subtitles."""
