"""An OpenAI-compatible chat client: endpoint choice, retries that honour Retry-After, keys kept out of messages."""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog

from actors.errors import EngineFailed, EngineUnavailable, InputError, TransientError
from config.engines import LlmProvider, LlmSettings

if TYPE_CHECKING:
    import openai

log = structlog.get_logger(__name__)

DEFAULT_PROVIDER = "default"
# Sent when an endpoint needs no key (a local vLLM, Ollama or llama.cpp server): the client insists on one.
_NO_KEY = "no-key"
_KEY_LIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-]{8,}")


@dataclass(frozen=True)
class Endpoint:
    """Where chat requests go: base URL, model and key (never shown by ``repr`` or in messages)."""

    provider: str
    base_url: str | None
    model: str
    key_env: str
    api_key: str = field(repr=False)

    def scrub(self, text: str) -> str:
        """Return ``text`` with the key, and anything that looks like a key, masked."""
        if len(self.api_key) >= 4 and self.api_key != _NO_KEY:
            text = text.replace(self.api_key, "***")
        return _KEY_LIKE.sub(lambda m: f"{m.group(1)}-***", text)


def resolve_endpoint(
    settings: LlmSettings, provider: str | None, model: str | None, environ: Mapping[str, str] = os.environ
) -> Endpoint:
    """Pick the endpoint for a request: a named provider from settings, else ``OPENAI_BASE_URL``/``OPENAI_API_KEY``.

    Raises:
        InputError: the request names a provider that is not configured.
        EngineUnavailable: no API key is set for an endpoint that needs one.
    """
    name = provider or settings.provider
    chosen = settings.providers.get(name)
    if chosen is None:
        if name != DEFAULT_PROVIDER:
            known = ", ".join(sorted(settings.providers)) or "none"
            raise InputError(f"unknown LLM provider {name!r}; configured providers: {known} (llm.providers)")
        chosen = LlmProvider()
    base_url = chosen.base_url or environ.get("OPENAI_BASE_URL") or None
    key = environ.get(chosen.api_key_env, "")
    if not key:
        if base_url is None:
            raise EngineUnavailable(
                f"no API key for LLM provider {name!r}: set {chosen.api_key_env}, or point OPENAI_BASE_URL "
                "(or llm.providers.<name>.base_url) at an OpenAI-compatible server"
            )
        key = _NO_KEY
    return Endpoint(
        provider=name, base_url=base_url, model=model or chosen.model, key_env=chosen.api_key_env, api_key=key
    )


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Return the wait a response asks for (``retry-after-ms``, ``retry-after`` seconds or date), if any."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class ChatClient:
    """Chat completions against one endpoint, with retries; use as ``async with``."""

    def __init__(self, endpoint: Endpoint, settings: LlmSettings) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self._client: openai.AsyncOpenAI | None = None

    async def __aenter__(self) -> ChatClient:
        import openai  # noqa: PLC0415  (kept out of the gateway's imports)

        self._client = openai.AsyncOpenAI(
            api_key=self.endpoint.api_key,
            base_url=self.endpoint.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,  # retried here: our attempts, our cap on waits, our logs
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """Return the model's answer to ``messages``; 429, 5xx and connection errors are retried.

        Raises:
            TransientError: the endpoint stayed unreachable, busy or failing for every attempt.
            EngineUnavailable: the endpoint refused the key or does not know the model.
            EngineFailed: the endpoint rejected the request.
        """
        import openai  # noqa: PLC0415

        if self._client is None:
            raise RuntimeError("use ChatClient as `async with`")
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = await self._client.chat.completions.create(
                    model=self.endpoint.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=self.settings.temperature,
                )
            except openai.APIStatusError as exc:
                if not _retryable(exc.status_code):
                    raise self._refused(exc) from None
                wait_s, reason = self._wait_s(attempt, retry_after_s(exc.response.headers)), f"HTTP {exc.status_code}"
                last = self._message(exc)
            except openai.APIConnectionError as exc:
                wait_s, reason, last = self._wait_s(attempt, None), "connection", self._message(exc)
            except openai.APIError as exc:
                raise EngineFailed(f"the LLM endpoint answered something unusable: {self._message(exc)}") from None
            else:
                return _content(response)
            if attempt < attempts:
                log.warning("llm_request_retrying", reason=reason, attempt=attempt, wait_s=round(wait_s, 2))
                await asyncio.sleep(wait_s)
        where = self.endpoint.base_url or "the OpenAI API"
        raise TransientError(f"LLM request to {where} failed {attempts} times; last: {last}")

    def _wait_s(self, attempt: int, asked_s: float | None) -> float:
        if asked_s is None:
            asked_s = self.settings.retry_backoff_s * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
        return min(asked_s, self.settings.max_retry_wait_s)

    def _message(self, exc: Exception) -> str:
        return self.endpoint.scrub(str(exc) or type(exc).__name__)

    def _refused(self, exc: openai.APIStatusError) -> Exception:
        status, detail = exc.status_code, self._message(exc)
        if status in (401, 403):
            return EngineUnavailable(
                f"the LLM endpoint refused the API key from ${self.endpoint.key_env} (HTTP {status}): {detail}"
            )
        if status == 404:
            return EngineUnavailable(
                f"the LLM endpoint has no model {self.endpoint.model!r} (HTTP 404); pass `model` or set a "
                f"provider's model: {detail}"
            )
        return EngineFailed(f"the LLM endpoint rejected the request (HTTP {status}): {detail}")


def _content(response: Any) -> str:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return ""
    return str(choices[0].message.content or "")
