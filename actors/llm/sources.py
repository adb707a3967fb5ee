"""Where a request's glossary comes from: inline terms, a CSV/JSON file in storage, or a named glossary in Redis."""

from __future__ import annotations

from typing import Annotated

import msgspec

from actors.llm.glossary import Glossary, GlossaryError, Term, TermMap, as_terms, read_glossary_file
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from config import keys

GlossarySource = TermMap | Annotated[str, StoragePath]
_decoder = msgspec.json.Decoder(Glossary)


def stored_glossary(run: TaskRun, name: str) -> list[Term]:
    """Return the terms of a glossary stored with ``PUT /v1/glossaries/{name}``.

    Raises:
        GlossaryError: no glossary has that name.
    """
    raw = run.run_async(run.store.client.get(keys.glossary(name)))
    if raw is None:
        raise GlossaryError(f"no glossary named {name!r}; store it first with PUT /v1/glossaries/{name}")
    return as_terms(_decoder.decode(raw).terms)


def load_glossary(run: TaskRun, source: TermMap | str | None, name: str | None) -> list[Term]:
    """Return the terms of an inline map or a storage file, then those of a named glossary.

    Raises:
        GlossaryError: a term is empty, the file does not parse (naming the line), or the name is unknown.
        InputFileError: the file is missing or unreadable.
    """
    terms: list[Term] = []
    if isinstance(source, dict):
        terms += as_terms(source)
    elif isinstance(source, str):
        terms += read_glossary_file(run.input_path(source), source)
    if name is not None:
        terms += stored_glossary(run, name)
    return terms
