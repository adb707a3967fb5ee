"""Translation quality on a real local model: chrF against human translations, with and without glossary and context.

Cues: 40 of Asterisk's English prompts (Debian ``asterisk-core-sounds-en``), each on screen for a time set by its
length (14 characters a second, as speech runs); references: the same prompts translated by people
(``asterisk-core-sounds-fr``, same prompt names). Model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (fetched on demand,
see translation_model.py) on the llama.cpp server (xllamacpp), CPU. Two runs of the same cues on the same server:

- baseline: no glossary, no context lines, no summary (each chunk alone, as llm.translate_subtitles did before);
- full: the glossary of the human translator's renderings, 3 translated lines before and 2 source lines after,
  and ``summary: auto``.

Reported per run: chrF (sacrebleu when installed, else chrF as Popović 2015 defines it, sacrebleu's defaults:
character n-grams 1-6, beta 2, spaces removed), glossary adherence (term occurrences rendered as the glossary
says), cues within the netflix profile's budget, untranslated cues left unreported, seconds per cue.
Targets (full run): adherence >= 95 %, within budget >= 95 %, 0 unreported untranslated cues, chrF above baseline.
``BENCH_TRANSLATION_LANGUAGES=fr,es,it`` adds languages (default fr); ``BENCH_TRANSLATION_CUES`` sets the count.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from actors.llm import langid
from actors.llm.client import Endpoint
from actors.llm.engines import LlmTranslator
from actors.llm.glossary import Term, has_target, terms_in
from actors.llm.prompts import Brief, LineSpec
from actors.llm.summary import summarize
from actors.llm.translation import line_chars, translate_checked
from actors.subtitles.profiles import PROFILES, char_budget
from bench.translation_model import model_path
from config.engines import LlmSettings
from taskgate.embedded_redis import free_port

CUES = int(os.environ.get("BENCH_TRANSLATION_CUES", "40"))
LANGUAGES = os.environ.get("BENCH_TRANSLATION_LANGUAGES", "fr").split(",")
PROMPTS = Path("/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz")
SPEECH_CPS = 14.0
MAX_SOURCE_CHARS = 75
PROFILE = PROFILES["netflix"]
# The renderings the human translators used (the client's glossary), per language.
GLOSSARIES = {
    "fr": [
        Term(source="pound key", target="dièse", forms=["pound sign", "pound"]),
        Term(source="password", target="mot de passe"),
        Term(source="mailbox", target="boîte vocale", forms=["mail box"]),
        Term(source="extension", target="poste"),
        Term(source="voicemail", target="messagerie vocale"),
        Term(source="star", target="étoile"),
        Term(source="temporary greeting", target="message temporaire"),
        Term(source="conference", target="conférence"),
        Term(source="folder", target="dossier"),
    ],
}
TARGETS = {"adherence": 0.95, "within_budget": 0.95}


def prompts(lang: str) -> dict[str, str]:
    """Return Asterisk's prompt texts of a language by prompt name."""
    path = Path(str(PROMPTS).format(lang=lang))
    if not path.is_file():
        raise SystemExit(f"{path} is missing: apt-get install asterisk-core-sounds-{lang} (requirements/debian.list)")
    found = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if ":" in line and not line.startswith(";"):
                name, text = line.split(":", 1)
                found[name.strip()] = " ".join(text.split())
    return found


def pick(english: dict[str, str], reference: dict[str, str], terms: list[Term]) -> list[tuple[str, str]]:
    """Return (English, reference) pairs: whole sentences of a menu's voice, term-bearing ones first, in name order."""
    usable = [
        name
        for name in sorted(english)
        if name in reference
        and name.startswith(("vm-", "agent-", "auth-", "conf-", "pbx-", "dir-", "queue-"))
        and len(english[name].split()) >= 3
        and len(english[name]) <= MAX_SOURCE_CHARS
        and "..." not in english[name] + reference[name]
        and "[" not in english[name]
        and len(reference[name]) > 3
    ]
    with_terms = [n for n in usable if terms_in(english[n], terms)]
    chosen = set(_spread(with_terms, CUES * 3 // 4))
    chosen |= set(_spread([n for n in usable if n not in chosen], CUES - len(chosen)))
    return [(english[n], reference[n]) for n in sorted(chosen)]


def _spread(names: list[str], count: int) -> list[str]:
    """Return ``count`` names taken evenly along the list (every menu gets its share)."""
    if count <= 0 or not names:
        return []
    step = max(1.0, len(names) / count)
    return [names[int(i * step)] for i in range(min(count, len(names)))]


def _ngrams(text: str, n: int) -> Counter[str]:
    chars = "".join(text.split())
    return Counter(chars[i : i + n] for i in range(len(chars) - n + 1))


def chrf(hypotheses: list[str], references: list[str], order: int = 6, beta: float = 2.0) -> float:
    """Return corpus chrF (0-100): sacrebleu's when installed, else the same definition computed here."""
    try:
        import sacrebleu

        return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)
    except ImportError:
        pass
    precisions, recalls = [], []
    for n in range(1, order + 1):
        match = hyp_total = ref_total = 0
        for hyp, ref in zip(hypotheses, references, strict=True):
            hyp_grams, ref_grams = _ngrams(hyp, n), _ngrams(ref, n)
            match += sum((hyp_grams & ref_grams).values())
            hyp_total += sum(hyp_grams.values())
            ref_total += sum(ref_grams.values())
        if hyp_total and ref_total:
            precisions.append(match / hyp_total)
            recalls.append(match / ref_total)
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 100 * (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def _english(line: str, english: Any) -> bool:
    """Return whether a line reads as English to the all-language detector (an independent second opinion)."""
    return langid.letters(line) >= 20 and langid.detect_text(line) == english


def start_server(port: int) -> Any:
    """Start llama.cpp on loopback with the bench model; return the server (kept alive by the caller)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.port = port
    params.n_ctx = 4096
    params.n_predict = 512
    params.n_parallel = 1
    params.cpuparams.n_threads = int(os.environ.get("BENCH_TRANSLATION_THREADS", "2"))
    params.sampling.seed = 7
    server = xllamacpp.Server(params)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the llama.cpp server did not become healthy in 300 s")


async def run(
    endpoint: Endpoint, settings: LlmSettings, pairs: list[tuple[str, str]], lang: str, full: bool
) -> dict[str, Any]:
    """Translate the cues once (baseline or full) and return the figures."""
    glossary = GLOSSARIES.get(lang, [])  # the baseline is not given it, but is scored on the same occurrences
    sources = [en for en, _ in pairs]
    durations = [max(1.5, min(PROFILE.max_duration_s, 0.4 + len(en) / SPEECH_CPS)) for en in sources]
    started = time.monotonic()
    summary = (await summarize(endpoint, settings, sources, None)).text() if full else None
    brief = Brief(
        target=lang,
        target_name=langid.name_of(langid.resolve(lang)),
        source_name="English",
        summary=summary,
        lines=[
            LineSpec(source=en, budget=char_budget(d, PROFILE), terms=terms_in(en, glossary) if full else [])
            for en, d in zip(sources, durations, strict=True)
        ],
        context_before=3 if full else 0,
        context_after=2 if full else 0,
    )
    english, target = langid.resolve("en"), langid.resolve(lang)

    def untranslated(_source: str, line: str) -> bool:
        return langid.in_source_language(line, english, target)

    result = await translate_checked(LlmTranslator(endpoint, settings), brief, untranslated, lambda _d, _t: None)
    elapsed = time.monotonic() - started
    reported = set(result.failed_cues)
    left = [
        i
        for i, (en, line) in enumerate(zip(sources, result.lines, strict=True), start=1)
        if (line.strip().casefold() == en.strip().casefold() or _english(line, english)) and i not in reported
    ]
    occurrences = [(line, t) for en, line in zip(sources, result.lines, strict=True) for t in terms_in(en, glossary)]
    adhered = sum(has_target(line, t) for line, t in occurrences)
    within = sum(line_chars(line) <= spec.budget for spec, line in zip(brief.lines, result.lines, strict=True))
    return {
        "chrf": chrf(result.lines, [ref for _, ref in pairs]),
        "adherence": adhered / len(occurrences) if occurrences else 1.0,
        "occurrences": len(occurrences),
        "within_budget": within / len(pairs),
        "unreported_untranslated": len(left),
        "reported": len(reported),
        "glossary_misses_reported": len(result.glossary_misses),
        "s_per_cue": elapsed / len(pairs),
        "lines": result.lines,
    }


def _report(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    print(
        f"  {name}: chrF {figures['chrf']:.1f}, glossary adherence {figures['adherence']:.1%} of "
        f"{figures['occurrences']}, within budget {figures['within_budget']:.1%}, untranslated unreported "
        f"{figures['unreported_untranslated']} (reported {figures['reported']}), glossary misses reported "
        f"{figures['glossary_misses_reported']}, {figures['s_per_cue']:.1f} s/cue",
        flush=True,
    )
    return figures


def main() -> int:
    """Run baseline and full translations per language, print the figures, exit 1 if a target is missed."""
    port = free_port()
    server = start_server(port)
    endpoint = Endpoint(
        provider="bench", base_url=f"http://127.0.0.1:{port}/v1", model="qwen2.5-1.5b", key_env="NONE", api_key="no-key"
    )
    settings = LlmSettings(
        context_tokens=4096,
        max_chunk_cues=10,
        max_concurrency=1,
        max_attempts=2,
        timeout_s=900.0,
        reask_attempts=1,
        temperature=0.1,
    )
    english = prompts("en")
    missed = []
    for lang in LANGUAGES:
        pairs = pick(english, prompts(lang), GLOSSARIES.get(lang, []))
        print(f"{lang}: {len(pairs)} cues, {len(GLOSSARIES.get(lang, []))} glossary terms", flush=True)
        base = _report("baseline (no glossary, no context)", asyncio.run(run(endpoint, settings, pairs, lang, False)))
        full = _report("glossary + context + summary", asyncio.run(run(endpoint, settings, pairs, lang, True)))
        print(f"  chrF ratio full/baseline: {full['chrf'] / max(base['chrf'], 1e-9):.3f}")
        for (en, ref), b, f in list(zip(pairs, base["lines"], full["lines"], strict=True))[:5]:
            print(f"    EN {en}\n    REF {ref}\n    BASE {b}\n    FULL {f}")
        missed += [f"{lang} {k}" for k, v in TARGETS.items() if full[k] < v]
        missed += [f"{lang} unreported untranslated"] if full["unreported_untranslated"] else []
        missed += [f"{lang} chrF not above baseline"] if full["chrf"] <= base["chrf"] else []
    del server
    print(f"targets missed: {', '.join(missed) or 'none'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
