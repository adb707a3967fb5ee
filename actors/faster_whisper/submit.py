"""Submit-time checks of ``faster_whisper.transcribe_audio``: a language the model knows, coherent batching."""

from __future__ import annotations

from typing import Any

from actors.errors import TaskError
from actors.faster_whisper.languages import WHISPER_LANGUAGES, unknown_language_message, wrong_model_message
from actors.faster_whisper.models import default_model_name, model_languages, resolve_model
from actors.validation import InvalidInput
from config import Settings
from state.references import find_references


def _literal(value: Any) -> str | None:
    """Return ``value`` when it is a plain string (references are resolved, and checked, at start)."""
    return value if isinstance(value, str) and not find_references(value) else None


def check_request(settings: Settings, data: dict[str, Any]) -> None:
    """Refuse contradictory batching options and a language the request's model cannot transcribe.

    Raises:
        InvalidInput: naming the field to fix.
    """
    check_batching(data)
    check_language(settings, data)


def check_batching(data: dict[str, Any]) -> None:
    """Refuse ``batch_size`` > 0 with ``vad_filter`` false: the batched pipeline decodes the VAD's windows.

    Raises:
        InvalidInput: naming ``$.input_data.batch_size``.
    """
    batch_size = data.get("batch_size")
    if data.get("vad_filter") is False and isinstance(batch_size, int) and batch_size > 0:
        raise InvalidInput(
            "batch_size > 0 decodes the VAD's speech windows one by one and needs vad_filter true; "
            "use batch_size 0 (whisper's sequential loop) to transcribe without the VAD",
            "$.input_data.batch_size",
        )


def check_language(settings: Settings, data: dict[str, Any]) -> None:
    """Refuse an unknown language code, or a language the model the request gets cannot transcribe.

    ``language`` and ``languages`` are checked alike; giving both is refused (one fixes the language, the other
    restricts its detection).

    Raises:
        InvalidInput: naming ``$.input_data.language`` or ``$.input_data.languages`` (and the model and the
            languages it knows).
    """
    language = _literal(data.get("language"))
    listed = data.get("languages")
    if language is not None and listed is not None:
        raise InvalidInput(
            "give either `language` (the audio is in that language) or `languages` (detect among these), not both",
            "$.input_data.languages",
        )
    if language is not None:
        _check_codes(settings, data, [language], "$.input_data.language", language)
    elif isinstance(listed, list) and listed and all(_literal(code) for code in listed):
        codes = [str(code) for code in listed]
        _check_codes(settings, data, codes, "$.input_data.languages", codes[0] if len(codes) == 1 else None)


def _check_codes(settings: Settings, data: dict[str, Any], codes: list[str], pointer: str, hint: str | None) -> None:
    """Refuse codes Whisper does not know, or that the model chosen (by the request or by ``hint``) cannot do."""
    for index, code in enumerate(codes):
        if code not in WHISPER_LANGUAGES:
            where = pointer if pointer.endswith("language") else f"{pointer}[{index}]"
            raise InvalidInput(unknown_language_message(code), where)
    if "model" in data and _literal(data["model"]) is None:
        return  # a reference: the model is known at start, where the engine checks again
    whisper = settings.faster_whisper
    requested = _literal(data.get("model"))
    try:
        source, shown_as = resolve_model(requested, whisper, settings.share_root, hint)
    except TaskError:
        return  # not this check's business: the stage reports a model it cannot find, naming the setting
    can_do = model_languages(source, whisper)
    for code in codes:
        if code not in can_do:
            multilingual, _ = default_model_name(whisper, None)
            raise InvalidInput(wrong_model_message(shown_as, code, can_do, multilingual), pointer)
