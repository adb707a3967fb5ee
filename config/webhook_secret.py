"""The webhook signing secret: a setting, or a file generated on first start under the data directory."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from config.errors import ConfigError
from config.settings import Settings

PREFIX = "whsec_"
FILE_NAME = "webhook_secret"
_RANDOM_BYTES = 32


def secret_path(settings: Settings) -> Path:
    """Return the file that holds the generated secret."""
    configured = settings.webhooks.secret_file
    return Path(configured).expanduser().resolve() if configured else settings.data_root / FILE_NAME


def new_secret() -> str:
    """Return a fresh ``whsec_`` secret (base64 of 32 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(_RANDOM_BYTES)).decode()


def _create(path: Path) -> None:
    """Write a new secret to ``path`` (mode 0600) unless another process just did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(new_secret() + "\n")


def webhook_secret(settings: Settings, create: bool = False) -> str | None:
    """Return the secret that signs webhook events, or None when ``webhooks.unsigned`` says to send them unsigned.

    ``webhooks.secret`` wins; else the secret file, created first when ``create`` (every process of one
    system reads the same file, so they all sign alike).

    Raises:
        ConfigError: no secret is set and the file is missing (without ``create``) or unreadable.
    """
    if settings.webhooks.secret:
        return settings.webhooks.secret
    if settings.webhooks.unsigned:
        return None
    path = secret_path(settings)
    if create:
        _create(path)
    try:
        value = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(
            f"no webhook secret: {path} cannot be read ({exc.strerror}); start `taskgate run` once to create it, "
            "set webhooks.secret, or set webhooks.unsigned: true to send unsigned events"
        ) from None
    if not value.startswith(PREFIX):
        raise ConfigError(f"{path}: not a webhook secret (expected {PREFIX}<base64>)")
    return value
