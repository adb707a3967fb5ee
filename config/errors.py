"""Errors raised while loading settings."""


class ConfigError(Exception):
    """Raised when a setting is unknown or has a bad value; the message names the key."""
