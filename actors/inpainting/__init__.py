"""``inpainting.*`` service: remove burnt-in subtitles from a video, repairing only the text's pixels."""
