"""The translation's pieces called directly: glossaries, answers from weak models, checks, languages, prompts."""

from __future__ import annotations

import pytest

from actors.llm import langid
from actors.llm.answers import parse_lines, repair_json, single_line
from actors.llm.glossary import GlossaryError, Term, has_target, parse_glossary_file, terms_in
from actors.llm.lines import Chunk
from actors.llm.prompts import Brief, LineSpec, chunk_extras
from actors.llm.summary import read_summary
from actors.llm.translation import check_line, line_chars

KEY = Term(source="pound key", target="touche dièse", forms=["pound sign"])
MAILBOX = Term(source="mailbox", target="boîte vocale")


def test_terms_match_case_and_inflection_and_listed_forms_and_longer_terms_first() -> None:
    terms = [Term(source="key", target="clé"), KEY, MAILBOX]
    assert terms_in("Press the POUND KEYS now", terms) == [KEY]  # "key" alone does not claim the same words
    assert terms_in("Two mailboxes are full; use the pound sign", terms) == [KEY, MAILBOX]
    assert terms_in("A keyboard", terms) == []
    assert has_target("Appuyez sur les Touches Dièse", KEY)
    assert has_target("deux boites vocales", MAILBOX)  # accents and plural aside
    assert not has_target("la touche étoile", KEY)


def test_glossary_files_parse_or_name_the_line() -> None:
    csv = "source,target,forms\npound key,touche dièse,pound sign|pound\n\n# a comment\nmailbox,boîte vocale\n"
    assert parse_glossary_file(csv, "g.csv") == [
        Term(source="pound key", target="touche dièse", forms=["pound sign", "pound"]),
        MAILBOX,
    ]
    assert parse_glossary_file('{"terms": {"mailbox": "boîte vocale"}}', "g.json") == [MAILBOX]
    assert parse_glossary_file('[{"source": "mailbox", "target": "boîte vocale"}]', "g.json") == [MAILBOX]
    with pytest.raises(GlossaryError, match=r"g.csv: line 2: expected 'source term,target term'"):
        parse_glossary_file("mailbox,boîte vocale\npound key,\n", "g.csv")
    with pytest.raises(GlossaryError, match=r"g.json: line 3: not valid JSON"):
        parse_glossary_file('{\n"a": "b",\n}\n', "g.json")
    with pytest.raises(GlossaryError, match=r"g.json: .*\$\[0\]\.target"):
        parse_glossary_file('[{"source": "a", "target": " "}]', "g.json")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1| un\n2| deux\n3| trois", {1: "un", 2: "deux", 3: "trois"}),
        ("Voici :\n1. un\n2) deux\n3: trois\nJ'espère que cela aide !", {1: "un", 2: "deux", 3: "trois"}),
        ('```json\n["un", "deux", "trois",]\n```', {1: "un", 2: "deux", 3: "trois"}),
        ('{"1": "un", "2": "deux", "3": "trois"', {1: "un", 2: "deux", 3: "trois"}),
        ('{"lines": [{"n": 1, "text": "un"}, {"n": 3, "text": "trois"}]}', {1: "un", 3: "trois"}),
        ("un\ndeux\ntrois", {1: "un", 2: "deux", 3: "trois"}),
        ("1| un\n3| trois", {1: "un", 3: "trois"}),  # a dropped line: the others are kept
        ("1| un\n2| deux\n3| trois\n4| quatre", {}),  # a split line: nothing after it can be trusted
        ("I cannot help with that.", {}),
    ],
)
def test_answers_are_read_whatever_shape_a_weak_model_gives_them(answer: str, expected: dict[int, str]) -> None:
    assert parse_lines(answer, 3) == expected


def test_one_line_answers_and_broken_json_are_repaired() -> None:
    assert single_line('Translation: "Appuyez sur dièse."\nNote: ...') == "Appuyez sur dièse."
    assert single_line("1| Bonjour") == "Bonjour"
    assert single_line("5|Mot de passe incorrect.") == "Mot de passe incorrect."  # its number in the chunk
    assert single_line("  \n") is None
    assert repair_json('Sure! {"topic": "phones", "terms": ["pound key", "mail') == {
        "topic": "phones",
        "terms": ["pound key", "mail"],
    }


def test_a_summary_keeps_only_terms_the_text_holds() -> None:
    answer = (
        '{"topic": "Voicemail", "register": "formal", "terms": [{"source": "Mailboxes", "target": "boîtes"}, "Narnia"]}'
    )
    summary = read_summary(answer, ["Your mailbox is full."], 10)
    assert summary.terms == ["Mailboxes"]
    assert summary.glossary == {"Mailboxes": "boîtes"}
    assert summary.text() == "Topic: Voicemail. Register: formal. Recurring names and terms: Mailboxes."
    assert read_summary("no JSON at all", ["x"], 10).text() is None


def test_a_line_is_checked_for_presence_language_terms_and_budget() -> None:
    def english(_source: str, line: str) -> bool:
        return langid.in_source_language(line, langid.resolve("en"), langid.resolve("fr"))

    source = "Press the pound key to continue"
    assert check_line(source, None, [KEY], 40, english).missing
    assert check_line(source, "`<br>`", [KEY], 40, english).missing  # only marks: nothing translated
    assert check_line(source, source, [KEY], 40, english).untranslated
    assert check_line(source, "Please press the hash key to go on", [], 40, english).untranslated
    ok = check_line(source, "Appuyez sur la touche dièse pour continuer", [KEY], 50, english)
    assert (ok.score(), ok.problems(50, "French")) == (0, [])
    over = check_line(source, "Appuyez sur la touche étoile pour continuer", [KEY], 30, english)
    assert over.problems(30, "French") == [
        "did not translate 'pound key' as 'touche dièse'",
        "was 13 characters too long: shorten it to 30 characters at most",
    ]
    assert line_chars("Bonjour <br>  tout le monde") == len("Bonjour tout le monde")


def test_languages_resolve_from_codes_tags_and_names_or_fail_listing_what_works() -> None:
    assert {langid.resolve(n) for n in ("fr", "FRA", "French", "fr-CA")} == {langid.resolve("fr")}
    assert langid.name_of(langid.resolve("pt-BR")) == "Portuguese"
    with pytest.raises(langid.UnknownLanguage, match="'Elvish' is not known to the language detector"):
        langid.resolve("Elvish")


def test_a_chunk_states_its_terms_and_limits_by_line_number() -> None:
    brief = Brief(
        target="fr",
        target_name="French",
        source_name="English",
        summary=None,
        lines=[LineSpec(source="a", budget=30), LineSpec(source="b", budget=42, terms=[KEY, MAILBOX])],
        context_before=0,
        context_after=0,
    )
    assert chunk_extras(brief, Chunk(0, 2, [], [])) == (
        "Required terms:\n2: pound key = touche dièse; mailbox = boîte vocale\n\n"
        "Character limits (line: at most characters): 1:30 2:42"
    )
