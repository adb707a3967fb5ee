"""The LLM adapters called directly: chunk plans, answers, endpoints, and the client against a real server."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest

from actors.errors import EngineUnavailable, InputError, TransientError
from actors.llm.client import ChatClient, resolve_endpoint, retry_after_s
from actors.llm.lines import CHARS_PER_TOKEN, estimate_tokens, parse_answer, plan_chunks, request_text
from config.engines import LlmProvider, LlmSettings
from tests.language.fake_llm import FakeLlm, Seen, completion

TEXTS = [f"line {i} says something about the meeting on Friday" for i in range(500)]


def test_chunks_cover_every_line_once_and_fit_the_context() -> None:
    settings = LlmSettings(context_tokens=1000, max_chunk_cues=40, chunk_overlap_cues=2)
    chunks = plan_chunks(TEXTS, settings, fixed_chars=600)

    assert [i for c in chunks for i in range(c.start, c.end)] == list(range(500))
    assert len(chunks) > 500 // 40
    for chunk in chunks:
        request = request_text(chunk, TEXTS, "translate")
        answer_chars = 1.5 * sum(len(t) + 6 for t in TEXTS[chunk.start : chunk.end])
        headings_chars = 120  # rewrite_lines adds these to fixed_chars
        assert estimate_tokens(request) + (600 + answer_chars - headings_chars) / CHARS_PER_TOKEN <= 1000
        assert chunk.before == TEXTS[max(0, chunk.start - 2) : chunk.start]
        assert chunk.after == TEXTS[chunk.end : chunk.end + 2]


def test_chunks_stop_at_max_chunk_cues_when_the_context_is_large() -> None:
    chunks = plan_chunks(TEXTS, LlmSettings(context_tokens=1_000_000, max_chunk_cues=40), fixed_chars=600)
    assert [c.size for c in chunks] == [40] * 12 + [20]


def test_a_line_too_long_for_the_context_still_gets_a_chunk_of_its_own() -> None:
    chunks = plan_chunks(["x" * 10_000, "short"], LlmSettings(context_tokens=500), fixed_chars=100)
    assert [(c.start, c.end) for c in chunks] == [(0, 1), (1, 2)]


def test_parse_answer_accepts_exactly_the_numbered_lines_and_ignores_chatter() -> None:
    lines, count = parse_answer("Sure, here you go:\n1| un\n2| deux\n\n3| trois", 3)
    assert (lines, count) == (["un", "deux", "trois"], 3)


@pytest.mark.parametrize("answer", ["1| un\n2| deux", "1| un\n2| deux\n3| trois\n4| quatre", "1| un\n1| un\n3| x"])
def test_parse_answer_refuses_a_wrong_line_count(answer: str) -> None:
    lines, _count = parse_answer(answer, 3)
    assert lines is None


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after_s({"retry-after": later}) or 0) <= 30
    assert retry_after_s({}) is None


def test_named_provider_reads_its_key_from_the_named_variable() -> None:
    settings = LlmSettings(
        providers={"local": LlmProvider(base_url="http://h/v1", model="m", api_key_env="MY_KEY")}, provider="local"
    )
    endpoint = resolve_endpoint(settings, None, None, {"MY_KEY": "sk-abcdefghijkl"})
    assert (endpoint.base_url, endpoint.model, endpoint.api_key) == ("http://h/v1", "m", "sk-abcdefghijkl")
    assert "sk-abcdefghijkl" not in repr(endpoint)
    assert resolve_endpoint(settings, None, "other", {"MY_KEY": "k"}).model == "other"


def test_default_provider_uses_openai_base_url_and_key() -> None:
    env = {"OPENAI_BASE_URL": "http://llm:8000/v1", "OPENAI_API_KEY": "sk-zyxwvutsrq"}
    endpoint = resolve_endpoint(LlmSettings(), None, None, env)
    assert (endpoint.base_url, endpoint.api_key) == ("http://llm:8000/v1", "sk-zyxwvutsrq")


def test_unknown_provider_is_an_input_error_and_a_missing_key_says_which_variable() -> None:
    with pytest.raises(InputError, match="unknown LLM provider 'nope'"):
        resolve_endpoint(LlmSettings(), "nope", None, {})
    with pytest.raises(EngineUnavailable, match="OPENAI_API_KEY"):
        resolve_endpoint(LlmSettings(), None, None, {})


def test_scrub_masks_the_key_and_key_like_strings() -> None:
    endpoint = resolve_endpoint(LlmSettings(), None, None, {"OPENAI_API_KEY": "plainsecretvalue"})
    assert endpoint.scrub("bad key plainsecretvalue and sk-0123456789abcdef") == "bad key *** and sk-***"


@pytest.fixture
def server() -> Iterator[FakeLlm]:
    fake = FakeLlm(latency_s=0.0)
    fake.start()
    yield fake
    fake.stop()


async def test_client_waits_as_long_as_retry_after_asks_then_succeeds(server: FakeLlm) -> None:
    server.reset(lambda seen, n: (429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}) if n == 1 else None)
    settings = LlmSettings(retry_backoff_s=0.01, max_attempts=3)
    endpoint = resolve_endpoint(settings, None, "m", {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "k" * 8})

    async with ChatClient(endpoint, settings) as client:
        answer = await client.complete([{"role": "system", "content": "x"}, {"role": "user", "content": "1| a"}])

    assert answer == "1| a"
    assert len(server.seen) == 2
    assert server.seen[1].at - server.seen[0].at >= 0.95


async def test_client_gives_up_on_5xx_after_max_attempts_with_a_transient_error(server: FakeLlm) -> None:
    server.reset(lambda seen, n: (503, {"error": {"message": "overloaded"}}, {}))
    settings = LlmSettings(retry_backoff_s=0.01, max_attempts=3)
    endpoint = resolve_endpoint(settings, None, "m", {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "k" * 8})

    async with ChatClient(endpoint, settings) as client:
        with pytest.raises(TransientError, match="failed 3 times"):
            await client.complete([{"role": "system", "content": "x"}, {"role": "user", "content": "1| a"}])
    assert len(server.seen) == 3


def test_seen_helper_reads_numbered_lines() -> None:
    seen = Seen(0.0, "", {"messages": [{"content": "s"}, {"content": "Context before:\n- a\n\nLines:\n1| b"}]})
    assert seen.numbered() == [(1, "b")]
    assert completion("x")["choices"][0]["message"]["content"] == "x"
