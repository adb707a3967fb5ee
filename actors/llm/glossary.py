"""Glossaries: source term -> target term, read from a request, a CSV/JSON file or Redis; matched leniently."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec

from actors.errors import InputError, InputFileError

TermText = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S", description="A term: not empty nor only spaces")
]
GlossaryName = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z", description="Letters, digits, _ . -")
]
MAX_TERMS = 2000
# Suffixes stripped (repeatedly) before comparing words: plurals, -ing, -ed, feminine -e (a simple stemmer that
# treats "key"/"keys", "meeting"/"meetings", "vocale"/"vocales" as one word on either side).
_SUFFIXES = ("ies", "es", "s", "x", "ing", "ed", "e")
_MIN_STEM = 3
_WORD = re.compile(r"\w+", re.UNICODE)


class Term(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One glossary entry: the source term, its required translation, and other source forms it takes."""

    source: TermText
    target: TermText
    forms: Annotated[list[TermText], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


TermList = Annotated[list[Term], msgspec.Meta(max_length=MAX_TERMS)]
TermMap = Annotated[dict[TermText, TermText], msgspec.Meta(max_length=MAX_TERMS)]


class Glossary(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A named glossary as stored server-side (``PUT /v1/glossaries/{name}``): a map or a list of terms."""

    terms: TermMap | TermList
    source_language: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    target_language: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class GlossaryError(InputError):
    """Raised when a glossary cannot be used: a file that does not parse, an empty term, an unknown name."""


def as_terms(terms: Mapping[str, str] | Sequence[Term]) -> list[Term]:
    """Return a glossary's entries as terms, refusing empty ones.

    Raises:
        GlossaryError: a source or target term is empty (or only spaces).
    """
    entries = [Term(source=s, target=t) for s, t in terms.items()] if isinstance(terms, Mapping) else list(terms)
    for entry in entries:
        if not entry.source.strip() or not entry.target.strip():
            raise GlossaryError(f"glossary entry {entry.source!r} -> {entry.target!r} has an empty term")
    return entries


def parse_json_glossary(text: str, where: str) -> list[Term]:
    """Parse a JSON glossary: ``{"source": "target"}``, ``[{"source", "target", "forms"}]`` or ``{"terms": ...}``.

    Raises:
        GlossaryError: the text is not JSON, or an entry is malformed; the message names the line.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GlossaryError(f"glossary {where}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("terms"), dict | list):
        data = data["terms"]
    try:
        return as_terms(msgspec.convert(data, TermMap | TermList))  # type: ignore[arg-type]
    except msgspec.ValidationError as exc:
        raise GlossaryError(
            f"glossary {where}: {exc} (entries are 'source': 'target' or source/target/forms)"
        ) from None


def parse_csv_glossary(text: str, where: str) -> list[Term]:
    """Parse a CSV glossary: ``source,target[,form|form...]`` a row; a ``source,target`` header is skipped.

    Raises:
        GlossaryError: a row has fewer than two columns or an empty term; the message names the line.
    """
    terms: list[Term] = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        number = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and [c.casefold() for c in cells[:2]] == ["source", "target"]:
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise GlossaryError(
                f"glossary {where}: line {number}: expected 'source term,target term', got {','.join(row)[:80]!r}"
            )
        forms = [f.strip() for f in cells[2].split("|") if f.strip()] if len(cells) > 2 else []
        terms.append(Term(source=cells[0], target=cells[1], forms=forms))
    return terms


def parse_glossary_file(text: str, where: str) -> list[Term]:
    """Parse a glossary file by its name: ``.json`` as JSON, anything else as CSV.

    Raises:
        GlossaryError: the file does not parse; the message names the line.
    """
    terms = parse_json_glossary(text, where) if where.lower().endswith(".json") else parse_csv_glossary(text, where)
    if len(terms) > MAX_TERMS:
        raise GlossaryError(f"glossary {where} has {len(terms)} terms; at most {MAX_TERMS}")
    return terms


def read_glossary_file(path: Any, where: str) -> list[Term]:
    """Read and parse a glossary file from storage.

    Raises:
        InputFileError: the file cannot be read as UTF-8.
        GlossaryError: it does not parse.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"glossary {where} cannot be read: {exc}") from None
    return parse_glossary_file(text, where)


def stem(word: str) -> str:
    """Return a word casefolded, without accents, with its plural/verb suffixes stripped."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if plain.endswith(suffix) and len(plain) - len(suffix) >= _MIN_STEM:
                plain, changed = plain[: -len(suffix)], True
                break
    return plain


def stems(text: str) -> list[str]:
    """Return the stems of a text's words, in order."""
    return [stem(w) for w in _WORD.findall(text)]


def _find(needle: list[str], hay: list[str]) -> int:
    if not needle:
        return -1
    for i in range(len(hay) - len(needle) + 1):
        if hay[i : i + len(needle)] == needle:
            return i
    return -1


def terms_in(text: str, terms: Sequence[Term]) -> list[Term]:
    """Return the terms whose source (or one of its forms) occurs in ``text``; longer terms claim words first."""
    hay = stems(text)
    taken = [False] * len(hay)
    found: list[Term] = []
    for term in sorted(terms, key=lambda t: -len(stems(t.source))):
        for variant in (term.source, *term.forms):
            needle = stems(variant)
            at = _find(needle, hay)
            if at >= 0 and not any(taken[at : at + len(needle)]):
                taken[at : at + len(needle)] = [True] * len(needle)
                found.append(term)
                break
    return found


def has_target(translation: str, term: Term) -> bool:
    """Return whether a translation carries the term's target rendering (case, accents and inflection aside)."""
    return _find(stems(term.target), stems(translation)) >= 0
