"""Import every service module so that each registers its tasks (the registry's single source)."""

from actors import ffmpeg, system

SERVICES = (ffmpeg, system)
