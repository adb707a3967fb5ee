"""``llm.translate_subtitles`` (glossary, budget, context, languages, engines) and ``llm.extract_terms``, end to end.

The peer is the scripted OpenAI-compatible server of fake_llm.py: each test scripts exactly what the model answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from actors.subtitles.formats import Cue, parse_srt, to_srt
from tests.delivery.test_auth import ADMIN_KEY, USER_KEY, keyed_env
from tests.harness import Client, System
from tests.language.fake_llm import FakeLlm, Reply, Seen, completion

_LINE_ALONE = re.compile(r"Translate this one line into \w+:\n(.*)\n")


def write(share: Path, folder: str, cues: list[Cue]) -> str:
    (share / folder).mkdir(parents=True, exist_ok=True)
    (share / folder / "a.srt").write_text(to_srt(cues))
    return f"{folder}/a.srt"


def scripted(chunk: dict[str, str], alone: dict[str, str]) -> Callable[[Seen, int], Reply | None]:
    """Answer chunk requests line by line from ``chunk`` and one-line asks from ``alone`` (by source text)."""

    def reply(seen: Seen, _number: int) -> Reply | None:
        single = _LINE_ALONE.search(seen.first_user)
        if single:
            return 200, completion(alone.get(single.group(1), "")), {}
        lines = [f"{n}| {chunk[text]}" for n, text in seen.numbered() if text in chunk]
        return 200, completion("\n".join(lines)), {}

    return reply


GLOSSARY_CUES = [
    Cue(start_s=0.0, end_s=3.0, text="Press the pound key to continue."),
    Cue(start_s=3.5, end_s=6.5, text="The keys are on the table."),
    Cue(start_s=7.0, end_s=10.0, text="Enter your password now."),
    Cue(start_s=10.5, end_s=11.5, text="Thank you for calling."),  # 1 s on screen: 20 characters at 20 a second
]
CHUNK = {
    "Press the pound key to continue.": "Appuyez sur la touche dièse pour continuer.",  # misses "clé"
    "The keys are on the table.": "Les clés sont sur la table.",  # "clés" is "clé", inflected
    "Enter your password now.": "Entrez votre code maintenant.",  # misses "mot de passe", twice
    "Thank you for calling.": "Merci beaucoup de votre appel.",  # 30 characters: over its budget of 20
}
ALONE = {
    "Press the pound key to continue.": "Appuyez sur la clé dièse pour continuer.",
    "Enter your password now.": "Entrez votre code secret maintenant.",
    "Thank you for calling.": "Merci de votre appel.",  # 21: still one over
}


async def test_terms_go_in_the_prompt_are_checked_asked_once_more_and_misses_reported_with_the_budget(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    fake_llm.reset(scripted(CHUNK, ALONE))
    path = write(share, "gloss", GLOSSARY_CUES)
    glossary = {"key": "clé", "password": "mot de passe", "table": "table"}

    await lang_client.submit(
        "llm.translate_subtitles",
        {"subtitle_path": path, "target_language": "fr", "glossary": glossary, "source_language": "en"},
        task_id="gloss",
    )
    record = await lang_client.wait("gloss")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.translate_subtitles"]["output"]["outputs"]["fr"]
    assert out["glossary_misses"] == [{"cue": 3, "source_term": "password", "target_term": "mot de passe"}]
    assert out["glossary_terms"] == 4  # key, keys + table, password
    assert out["over_budget_cues"] == [4]
    assert out["within_budget_share"] == 0.75
    assert out["missing_cues"] == out["untranslated_cues"] == []
    assert out["qc"]["cue_count"] == 4
    assert out["qc"]["cues"][3]["broken"] == ["max_cps"]
    result = parse_srt((share / out["subtitle_path"]).read_text())
    assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in GLOSSARY_CUES]
    assert [" ".join(c.text.split()) for c in result] == [
        ALONE["Press the pound key to continue."],  # the re-ask fixed the term
        CHUNK["The keys are on the table."],
        CHUNK["Enter your password now."],  # the re-ask was no better: the first answer stays
        ALONE["Thank you for calling."],  # shorter, still over
    ]

    first = fake_llm.seen[0]
    assert "Required terms:\n1: key = clé\n2: key = clé; table = table\n3: password = mot de passe\n" in (
        first.first_user + "\n"
    )
    assert "Character limits (line: at most characters): 1:60 2:60 3:60 4:20" in first.first_user
    alone = {m.group(1): s.first_user for s in fake_llm.seen if (m := _LINE_ALONE.search(s.first_user))}
    assert set(alone) == {"Press the pound key to continue.", "Enter your password now.", "Thank you for calling."}
    assert "did not translate 'key' as 'clé'" in alone["Press the pound key to continue."]
    assert "use these terms: password = mot de passe" in alone["Enter your password now."]
    assert "was 10 characters too long: shorten it to 20 characters at most" in alone["Thank you for calling."]


async def test_several_languages_share_one_summary_and_carry_translated_context(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    summary = {"topic": "A phone menu", "register": "formal", "terms": ["pound key", "Atlantis"]}

    def reply(seen: Seen, number: int) -> Reply | None:
        if "answer with json only" in seen.system.lower():
            return 200, completion("Sure! ```json\n" + json.dumps(summary)[:-1] + ",\n```"), {}  # broken JSON
        return None

    fake_llm.reset(reply)
    source = [
        Cue(start_s=i * 3.0, end_s=i * 3.0 + 2.5, text=f"Press the pound key to hear your message {i}.")
        for i in range(6)
    ]
    path = write(share, "multi", source)

    await lang_client.submit(
        "llm.translate_subtitles",
        {
            "subtitle_path": path,
            "target_languages": ["fr", "es"],
            "summary": "auto",
            "context_before": 2,
            "context_after": 1,
            "glossaries": {"es": {"pound key": "tecla numeral"}},
        },
        task_id="multi",
    )
    record = await lang_client.wait("multi")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.translate_subtitles"]["output"]
    assert set(out["outputs"]) == {"fr", "es"}
    assert out["subtitle_path"] == out["outputs"]["fr"]["subtitle_path"]
    assert out["outputs"]["es"]["subtitle_path"].endswith("a.es.srt")
    assert out["summary"] == "Topic: A phone menu. Register: formal. Recurring names and terms: pound key."
    assert out["source_language"] == "English"
    summaries = [s for s in fake_llm.seen if "JSON only" in s.system]
    assert len(summaries) == 1  # shared by both languages
    chunks = [s for s in fake_llm.seen if s.numbered()]
    assert {("Spanish" in s.system) for s in chunks} == {True, False}
    for s in chunks:  # each language gets its own terms
        assert ("1: pound key = tecla numeral" in s.first_user) == ("Spanish" in s.system)
    assert all("About the video: Topic: A phone menu." in s.system for s in chunks)
    for language in ("fr", "es"):
        result = parse_srt((share / out["outputs"][language]["subtitle_path"]).read_text())
        assert [(c.start_s, c.end_s) for c in result] == [(c.start_s, c.end_s) for c in source]


async def test_later_chunks_see_the_lines_before_them_translated(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    # 60 cues of ~45 characters: llm.context_tokens=800 makes several chunks, sent in llm.max_concurrency (3)
    # runs; within a run each chunk is sent after the one before it and finds its translations as context.
    source = [
        Cue(start_s=i * 3.0, end_s=i * 3.0 + 2.8, text=f"Line {i} tells a longer story about the meeting")
        for i in range(60)
    ]
    path = write(share, "ctx", source)
    await lang_client.submit(
        "llm.translate_subtitles",
        {"subtitle_path": path, "target_language": "fr", "context_before": 2, "context_after": 0},
        task_id="ctx",
    )
    record = await lang_client.wait("ctx", timeout_s=120)

    assert record["status"] == "SUCCESS", record
    chunks = [s for s in fake_llm.seen if s.numbered()]
    assert len(chunks) > 3
    assert 1 < fake_llm.max_in_flight <= 3
    assert all("Context after" not in s.first_user for s in chunks)
    before = [s.first_user.split("Lines to translate")[0] for s in chunks if "Context before" in s.first_user]
    assert len(before) == len(chunks) - 1
    translated = [b for b in before if b.count("- [fr] ") == 2]
    assert len(translated) >= len(chunks) - 3  # all but the first chunk of each run


async def test_extract_terms_returns_an_editable_glossary_of_terms_the_text_holds(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    terms = {
        "topic": "Voicemail",
        "register": "formal",
        "terms": [
            {"source": "voicemail", "target": "messagerie vocale"},
            {"source": "pound key", "target": "touche dièse"},
            {"source": "Narnia", "target": "Narnia"},  # not in the text: dropped
        ],
    }
    fake_llm.reset(lambda s, n: (200, completion(json.dumps(terms)), {}))
    source = [
        Cue(start_s=0, end_s=2, text="Welcome to your voicemail."),
        Cue(start_s=2, end_s=4, text="Press the pound key."),
    ]
    path = write(share, "terms", source)

    await lang_client.submit("llm.extract_terms", {"subtitle_path": path, "target_language": "fr"}, task_id="terms")
    record = await lang_client.wait("terms")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.extract_terms"]["output"]
    assert out["glossary"] == {"voicemail": "messagerie vocale", "pound key": "touche dièse"}
    assert out["terms"] == ["voicemail", "pound key"]
    assert out["topic"] == "Voicemail"
    assert json.loads((share / out["glossary_path"]).read_text()) == {"terms": out["glossary"]}
    assert "touche dièse" not in fake_llm.seen[0].first_user
    assert "French translation" in fake_llm.seen[0].first_user

    fake_llm.reset()  # the file goes back in as the glossary of a translation
    await lang_client.submit(
        "llm.translate_subtitles",
        {"subtitle_path": path, "target_language": "fr", "glossary": out["glossary_path"]},
        task_id="terms2",
    )
    again = await lang_client.wait("terms2")
    assert again["status"] == "SUCCESS", again
    assert "1: voicemail = messagerie vocale" in fake_llm.seen[0].first_user


async def test_bad_glossaries_and_languages_fail_clearly(lang_client: Client, share: Path) -> None:
    path = write(share, "bad", GLOSSARY_CUES[:1])
    (share / "bad" / "terms.csv").write_text("source,target\nkey,clé\nmot de passe\n")
    (share / "bad" / "terms.json").write_text('{"key": "clé",\n "password": }\n')
    status, body, _ = await lang_client.request(
        "POST",
        "/v1/tasks",
        json={
            "task_name": "llm.translate_subtitles",
            "input_data": {"subtitle_path": path, "target_language": "fr", "glossary": {"key": " "}},
        },
    )
    assert status == 422
    assert "glossary" in body["errors"][0]["pointer"]

    cases = {
        "badcsv": ({"glossary": "bad/terms.csv"}, "glossary bad/terms.csv: line 3: expected 'source term,target"),
        "badjson": ({"glossary": "bad/terms.json"}, "glossary bad/terms.json: line 2: not valid JSON"),
        "badlang": ({"target_language": "Klingon"}, "language 'Klingon' is not known to the language detector"),
        "badname": ({"glossary_name": "nope"}, "no glossary named 'nope'; store it first with PUT"),
        "badboth": ({"target_languages": ["es"]}, "give one of target_language (a language) or target_languages"),
        "badkeys": ({"glossaries": {"de": {"a": "b"}}}, "glossaries names languages that are not targets: de"),
    }
    for task_id, (extra, _) in cases.items():
        data: dict[str, Any] = {"subtitle_path": path, "target_language": "fr", **extra}
        await lang_client.submit("llm.translate_subtitles", data, task_id=task_id)
    for task_id, (_, message) in cases.items():
        record = await lang_client.wait(task_id)
        assert record["status"] == "FAILED", record
        assert record["error"]["type"] in ("GlossaryError", "UnknownLanguage", "InputError"), record["error"]
        assert message in record["error"]["message"], record["error"]


async def test_named_glossaries_are_stored_and_used_by_name(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    body = {"terms": [{"source": "key", "target": "clé", "forms": ["keypad"]}], "target_language": "fr"}
    status, stored, _ = await lang_client.request("PUT", "/v1/glossaries/phone-fr", json=body)
    assert (status, stored["terms_count"]) == (201, 1)
    status, _again, _ = await lang_client.request("PUT", "/v1/glossaries/phone-fr", json=body)
    assert status == 200
    status, read, _ = await lang_client.request("GET", "/v1/glossaries/phone-fr")
    assert (status, read["terms"], read["name"]) == (200, body["terms"], "phone-fr")
    status, listed, _ = await lang_client.request("GET", "/v1/glossaries")
    assert "phone-fr" in listed["glossaries"]
    status, problem, headers = await lang_client.request("PUT", "/v1/glossaries/bad name!", json=body)
    assert status == 422
    assert headers["Content-Type"].startswith("application/problem+json")
    status, problem, _ = await lang_client.request("PUT", "/v1/glossaries/x", json={"terms": {"": "vide"}})
    assert status == 422, problem

    path = write(share, "named", [Cue(start_s=0, end_s=3, text="Use the keypad to dial.")])
    await lang_client.submit(
        "llm.translate_subtitles",
        {"subtitle_path": path, "target_language": "fr", "glossary_name": "phone-fr"},
        task_id="named",
    )
    record = await lang_client.wait("named")
    assert record["status"] == "SUCCESS", record
    assert "1: key = clé" in fake_llm.seen[0].first_user  # "keypad" is one of the term's forms

    status, _, _ = await lang_client.request("DELETE", "/v1/glossaries/phone-fr")
    assert status == 204
    status, audit, _ = await lang_client.request("GET", "/v1/audit")
    actions = [(e["action"], e["target"].get("name"), e["status"]) for e in audit["entries"]]
    assert ("glossary.delete", "phone-fr", 204) in actions
    assert ("glossary.put", "phone-fr", 201) in actions
    status, problem, _ = await lang_client.request("GET", "/v1/glossaries/phone-fr")
    assert (status, problem["detail"]) == (404, "no glossary named 'phone-fr'")


async def test_marian_stands_in_for_the_llm_and_its_output_gets_the_same_checks(
    lang_client: Client, share: Path, fake_llm: FakeLlm
) -> None:
    source = [
        Cue(start_s=0.0, end_s=3.0, text="The meeting is on Friday."),
        Cue(start_s=3.5, end_s=4.5, text="Please enter your password followed by the pound key."),
    ]
    path = write(share, "marian", source)
    data = {"subtitle_path": path, "target_language": "pt-BR", "engine": "marian", "glossary": {"meeting": "encontro"}}

    await lang_client.submit("llm.translate_subtitles", data, task_id="marian")
    record = await lang_client.wait("marian", timeout_s=120)

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["llm.translate_subtitles"]["output"]["outputs"]["pt-BR"]
    assert out["engine"] == "marian"
    result = parse_srt((share / out["subtitle_path"]).read_text())
    assert "sexta" in result[0].text.casefold()  # real Portuguese
    assert out["glossary_misses"] == [{"cue": 1, "source_term": "meeting", "target_term": "encontro"}]
    assert out["over_budget_cues"] == [2]  # 50-odd characters in 1 s
    assert out["untranslated_cues"] == []
    assert not fake_llm.seen  # no LLM involved
    await lang_client.submit("llm.translate_subtitles", {**data, "target_language": "fr"}, task_id="marian-fr")
    refused = await lang_client.wait("marian-fr")
    assert refused["status"] == "FAILED"
    assert "engine 'marian' translates en->pt, pt->en only, not en->fr" in refused["error"]["message"]


async def test_only_admin_keys_may_change_glossaries(make_system: Callable[..., System]) -> None:
    # last in the package: make_system flushes the shared Redis
    body = {"terms": {"key": "clé"}}
    keyed = make_system(keyed_env())
    keyed.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, keyed.base_url)
        for key, expected in ((USER_KEY, 403), (ADMIN_KEY, 201)):
            status, _, _ = await client.request(
                "PUT", "/v1/glossaries/scoped", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert status == expected
