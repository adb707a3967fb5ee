"""``llm.*`` tasks through the gateway and a real worker, against a real fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from actors.llm.cues import as_line
from actors.subtitles.formats import Cue, parse_srt, parse_vtt, to_srt, to_vtt
from tests.harness import Client, System
from tests.language.conftest import FAKE_KEY, OPENAI_KEY
from tests.language.fake_llm import FakeLlm, Seen, answer, completion, fake_french

CONTEXT_TOKENS = 800  # as configured for the shared system
MAX_CONCURRENCY = 3


def cues(count: int) -> list[Cue]:
    return [
        Cue(
            start_s=i * 2.0,
            end_s=i * 2.0 + 1.5,
            text=f"cue {i} about the meeting\non Friday" if i % 3 == 0 else f"cue {i} short",
        )
        for i in range(count)
    ]


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path.relative_to(path.parents[1]))


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_translating_500_cues_sends_context_sized_chunks_and_keeps_every_cue_and_time(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    source = cues(500)
    path = write(share / "tr500" / "talk.srt", to_srt(source))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "French"}, task_id="tr500"
    )
    record = await lang_client.wait("tr500", timeout_s=120)

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.translate_subtitles"]["output"]
    assert out["subtitle_path"] == "workflows/tr500/llm.translate_subtitles/talk.French.srt"
    result = parse_srt((share / out["subtitle_path"]).read_text())
    assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in source]
    assert [flat(c.text) for c in result] == [fake_french(as_line(c.text)) for c in source]
    assert all(len(line) <= 42 for c in result for line in c.text.split("\n"))

    seen = fake_llm.seen
    assert max(len(s.numbered()) for s in seen) < 40  # the context, not max_chunk_cues (40), sets the size
    assert sum(len(s.numbered()) for s in seen) == 500
    for s in seen:
        request_chars = sum(len(m["content"]) for m in s.body["messages"])
        answer_chars = 1.5 * sum(len(t) + 6 for _, t in s.numbered())
        assert (request_chars + answer_chars) / 3 <= CONTEXT_TOKENS
        assert s.body["model"] == "fake-model"
        assert s.authorization == f"Bearer {FAKE_KEY}"
    later = [s for s in seen if "Context before" in s.first_user]
    assert len(later) == len(seen) - 1  # every chunk but the first carries the cues before it
    assert 1 < fake_llm.max_in_flight <= MAX_CONCURRENCY


async def test_a_429_is_retried_after_the_wait_retry_after_asks(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(lambda s, n: (429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"}) if n == 1 else None)
    path = write(share / "tr429" / "a.srt", to_srt(cues(3)))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "fr"}, task_id="tr429"
    )
    record = await lang_client.wait("tr429")

    assert record["status"] == "SUCCESS", record
    assert record["stages"]["llm.translate_subtitles"]["attempts"] == 1
    assert len(fake_llm.seen) == 2
    assert fake_llm.seen[1].at - fake_llm.seen[0].at >= 0.95  # backoff alone would be 0.05 s


async def test_an_answer_with_a_missing_line_is_asked_again(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(lambda s, n: answer(s, drop_last=True) if n == 1 else None)
    path = write(share / "trshort" / "a.vtt", to_vtt(cues(4)))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "fr"}, task_id="trshort"
    )
    record = await lang_client.wait("trshort")

    assert record["status"] == "SUCCESS", record
    assert len(fake_llm.seen) == 2
    reask = fake_llm.seen[1].body["messages"]
    assert reask[-1]["role"] == "user"
    assert "exactly 4" in reask[-1]["content"]
    assert reask[-2]["role"] == "assistant"
    out = record["stages"]["llm.translate_subtitles"]["output"]["subtitle_path"]
    assert out.endswith("a.fr.vtt")
    assert len(parse_vtt((share / out).read_text())) == 4


async def test_a_line_the_model_keeps_dropping_is_asked_alone_then_kept_in_the_source_and_reported(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(lambda s, n: answer(s, drop_last=True))
    source = cues(4)
    path = write(share / "trbad" / "a.srt", to_srt(source))
    data = {"subtitle_path": path, "target_language": "fr"}

    await lang_client.submit("llm.translate_subtitles", data, task_id="trbad")
    record = await lang_client.wait("trbad")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.translate_subtitles"]["output"]
    assert out["unchanged_cues"] == [4]
    assert out["outputs"]["fr"]["missing_cues"] == [4]
    result = parse_srt((share / out["subtitle_path"]).read_text())
    assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in source]
    assert flat(result[3].text) == flat(source[3].text)  # kept in the source language
    assert [flat(c.text) for c in result[:3]] == [fake_french(as_line(c.text)) for c in source[:3]]
    # one ask, llm.reask_attempts=1 re-ask of the chunk, then the missing line alone
    assert len(fake_llm.seen) == 3
    alone = fake_llm.seen[2].first_user
    assert f"Translate this one line into French:\n{as_line(source[3].text)}\n" in alone
    assert "was missing" in alone


async def test_a_model_that_answers_garbage_every_time_fails_with_the_share_it_could_not_translate(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(lambda s, n: (200, completion("I am sorry, as a language model I cannot help."), {}))
    path = write(share / "trgarbage" / "a.srt", to_srt(cues(4)))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "fr"}, task_id="trgarbage"
    )
    record = await lang_client.wait("trgarbage")

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "EngineFailed"
    assert record["error"]["message"] == (
        "4 of 4 cues (100%) could not be translated into fr after re-asks (missing: 4, still in the source "
        "language: 0; cues 1, 2, 3, 4), more than max_unchanged_ratio (0.5) allows; try a stronger model, or pass "
        "a higher max_unchanged_ratio"
    )
    assert len(fake_llm.seen) == 2 + 4  # the chunk twice, then each line alone once


async def test_proofreading_fixes_words_counts_changed_cues_and_keeps_speakers_and_times(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    source = [
        Cue(start_s=0.0, end_s=1.0, text="teh meeting is\non Friday", speaker="SPEAKER_00"),
        Cue(start_s=1.5, end_s=2.5, text="fine by me", speaker="SPEAKER_01"),
        Cue(start_s=3.0, end_s=4.0, text="see you at teh office"),
    ]
    path = write(share / "proof" / "a.srt", to_srt(source))

    await lang_client.submit(
        "llm.proofread_subtitles",
        {
            "subtitle_path": path,
            "language": "English",
            "model": "proof-model",
            "instructions": "Keep it British.",
        },
        task_id="proof",
    )
    record = await lang_client.wait("proof")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.proofread_subtitles"]["output"]
    assert out["changed_cues"] == 2
    text = (share / out["subtitle_path"]).read_text()
    result = parse_srt(text)
    assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in source]
    assert result[0].text == "SPEAKER_00: the meeting is\non Friday"
    assert result[2].text == "see you at the office"
    request: Seen = fake_llm.seen[0]
    assert request.body["model"] == "proof-model"
    assert "Keep it British." in request.system
    assert "in English" in request.system
    assert "SPEAKER_00" not in request.first_user  # speakers are not the model's to change


async def test_the_default_provider_uses_openai_base_url_and_api_key(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    path = write(share / "trdefault" / "a.srt", to_srt(cues(2)))
    await lang_client.submit(
        "llm.translate_subtitles",
        {
            "subtitle_path": path,
            "target_language": "fr",
            "provider": "default",
        },
        task_id="trdefault",
    )
    record = await lang_client.wait("trdefault")

    assert record["status"] == "SUCCESS", record
    assert fake_llm.seen[0].authorization == f"Bearer {OPENAI_KEY}"
    assert fake_llm.seen[0].body["model"] == "gpt-4o-mini"


async def test_a_refused_key_fails_without_the_key_in_the_record_or_the_logs(
    lang_client: Client, share: Path, fake_llm: FakeLlm, lang_system: System
) -> None:
    fake_llm.reset(lambda s, n: (401, {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}, {}))
    path = write(share / "trkey" / "a.srt", to_srt(cues(2)))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "fr"}, task_id="trkey"
    )
    record = await lang_client.wait("trkey")

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "EngineUnavailable"
    assert "FAKE_LLM_KEY" in record["error"]["message"]
    assert "HTTP 401" in record["error"]["message"]
    assert FAKE_KEY not in json.dumps(record)
    assert FAKE_KEY[6:] not in json.dumps(record)
    for process in ("worker", "gateway"):
        assert FAKE_KEY not in lang_system.logs(process)


async def test_an_unreachable_endpoint_is_a_transient_error_and_the_stage_is_retried(
    lang_client: Client, share: Path
) -> None:
    path = write(share / "trdown" / "a.srt", to_srt(cues(2)))
    await lang_client.submit(
        "llm.translate_subtitles",
        {
            "subtitle_path": path,
            "target_language": "fr",
            "provider": "down",
        },
        task_id="trdown",
    )
    record = await lang_client.wait("trdown")

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "TransientError"
    assert "failed 3 times" in record["error"]["message"]
    stage = record["stages"]["llm.translate_subtitles"]
    assert stage["attempts"] == 2  # TASKGATE_MAX_RETRIES=1


async def test_generate_files_then_translate_under_one_task_id_through_references(
    lang_client: Client, share: Path
) -> None:
    segments = {
        "segments": [
            {"start": 0.0, "end": 2.0, "text": " Hello everyone."},
            {"start": 2.5, "end": 5.0, "text": " The meeting is on Friday."},
        ]
    }
    (share / "chain").mkdir()
    (share / "chain" / "segments.json").write_text(json.dumps(segments))

    await lang_client.submit("subtitles.generate_files", {"segments_file": "chain/segments.json"}, task_id="chain")
    await lang_client.submit(
        "llm.translate_subtitles",
        {
            "subtitle_path": "${{ stages.subtitles.generate_files.output.srt_path }}",
            "target_language": "de",
        },
        task_id="chain",
    )
    record = await lang_client.wait("chain", stage="llm.translate_subtitles")

    assert record["status"] == "SUCCESS", record
    assert record["stages"]["subtitles.generate_files"]["status"] == "SUCCESS"
    out = record["stages"]["llm.translate_subtitles"]["output"]["subtitle_path"]
    assert out == "workflows/chain/llm.translate_subtitles/subtitles.de.srt"
    # cues linger 0.5 s after their speech, up to 2 frames (at 25 fps) before the next cue
    assert [(c.start_s, c.end_s, c.text) for c in parse_srt((share / out).read_text())] == [
        (0.0, 2.42, fake_french("Hello everyone.")),
        (2.5, 5.5, fake_french("The meeting is on Friday.")),
    ]


def echo(seen: Seen, _number: int) -> tuple[int, dict, dict]:
    """Answer every line with its source text, as a model that did not translate."""
    return 200, completion("\n".join(f"{n}| {text}" for n, text in seen.numbered())), {}


async def test_an_untranslated_answer_is_asked_again_and_the_better_answer_kept(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(lambda s, n: echo(s, n) if n == 1 else None)
    path = write(share / "trsame1" / "a.srt", to_srt(cues(3)))

    await lang_client.submit(
        "llm.translate_subtitles", {"subtitle_path": path, "target_language": "fr"}, task_id="trsame1"
    )
    record = await lang_client.wait("trsame1")

    assert record["status"] == "SUCCESS", record
    assert record["stages"]["llm.translate_subtitles"]["output"]["unchanged_cues"] == []
    reask = fake_llm.seen[1].body["messages"][-1]["content"]
    assert reask == (
        "Lines 1, 2, 3 are not translated; translate every line into fr. "
        "Answer again with all 3 lines, numbered 1 to 3."
    )


async def test_a_translation_that_stays_unchanged_fails_past_the_ratio_and_is_reported_below_it(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(echo)
    path = write(share / "trsame2" / "a.srt", to_srt(cues(3)))
    data = {"subtitle_path": path, "target_language": "fr"}

    await lang_client.submit("llm.translate_subtitles", data, task_id="trsame2")
    await lang_client.submit("llm.translate_subtitles", {**data, "max_unchanged_ratio": 1.0}, task_id="trsame3")
    failed, reported = await lang_client.wait("trsame2"), await lang_client.wait("trsame3")

    assert failed["status"] == "FAILED"
    assert failed["error"]["type"] == "EngineFailed"
    assert failed["error"]["message"] == (
        "3 of 3 cues (100%) could not be translated into fr after re-asks (missing: 0, still in the source "
        "language: 3; cues 1, 2, 3), more than max_unchanged_ratio (0.5) allows; try a stronger model, or pass "
        "a higher max_unchanged_ratio"
    )
    assert reported["status"] == "SUCCESS", reported
    assert reported["stages"]["llm.translate_subtitles"]["output"]["unchanged_cues"] == [1, 2, 3]
    assert reported["stages"]["llm.translate_subtitles"]["output"]["outputs"]["fr"]["untranslated_cues"] == [1, 2, 3]


async def test_a_proofread_line_unlike_its_cue_keeps_the_cue_and_is_reported(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    def one_off(seen: Seen, _number: int) -> tuple[int, dict, dict]:
        lines = [f"{n}| {'Bonjour à tous, la réunion' if n == 2 else text}" for n, text in seen.numbered()]
        return 200, completion("\n".join(lines)), {}

    fake_llm.reset(one_off)
    source = cues(5)
    path = write(share / "proofoff" / "a.srt", to_srt(source))
    data = {"subtitle_path": path}

    await lang_client.submit("llm.proofread_subtitles", data, task_id="proofoff")
    await lang_client.submit("llm.proofread_subtitles", {**data, "max_unrelated_ratio": 0.0}, task_id="proofoff0")
    kept, failed = await lang_client.wait("proofoff"), await lang_client.wait("proofoff0")

    assert kept["status"] == "SUCCESS", kept
    out = kept["stages"]["llm.proofread_subtitles"]["output"]
    assert out["unrelated_cues"] == [2]
    assert out["changed_cues"] == 0
    assert [c.text for c in parse_srt((share / out["subtitle_path"]).read_text())] == [c.text for c in source]
    assert failed["status"] == "FAILED"
    assert "1 of 5 cues came back unrelated to their cue (cues 2)" in failed["error"]["message"]
