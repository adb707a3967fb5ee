"""The HTTP gateway (aiohttp)."""
