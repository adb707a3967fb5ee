"""GPT-SoVITS through its HTTP API (``api_v2.py``): voice cloning from a reference clip and its words.

``POST {url}/tts`` with ``text``, ``text_lang``, ``ref_audio_path`` (a path the server reads itself),
``prompt_text``, ``prompt_lang``, ``speed_factor`` and ``media_type=wav`` answers WAV bytes, or 400 with
``{"message": ...}``. The server usually runs on a GPU host with the storage root mounted
(``tts.gpt_sovits.share_dir`` says where).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from actors.errors import EngineFailed, EngineUnavailable, TransientError
from actors.tts.audio import decode_wav
from actors.tts.engine import Reference, Speech, VoiceChoice
from actors.tts.voices import Voice, catalogue
from config.voice import TtsSettings
from state.storage import relative_to_root

_HOW_TO = (
    "set tts.gpt_sovits.url (TASKGATE_TTS__GPT_SOVITS__URL) to a GPT-SoVITS api_v2 server, "
    "e.g. http://gpu-host:9880 (python api_v2.py -a 0.0.0.0 -p 9880)"
)


def server_path(settings: TtsSettings, root: Path, local: Path) -> str:
    """Return where the server finds a storage-root file (``tts.gpt_sovits.share_dir`` maps the root)."""
    mount = settings.gpt_sovits.share_dir
    return str(Path(mount) / relative_to_root(root, local)) if mount else str(local)


class GptSovitsEngine:
    """A GPT-SoVITS ``api_v2`` server; every call needs a reference clip."""

    name = "gpt_sovits"

    def __init__(self, settings: TtsSettings) -> None:
        self.settings = settings

    def voices(self) -> list[Voice]:
        """Return the named references of ``tts.gpt_sovits.voices``."""
        return [v for v in catalogue(self.settings) if v.engine == self.name]

    def _url(self) -> str:
        url = self.settings.gpt_sovits.url
        if not url:
            raise EngineUnavailable(f"the gpt_sovits engine is not configured: {_HOW_TO}")
        return url.rstrip("/") + "/tts"

    def synthesize(self, text: str, voice: VoiceChoice, speed: float, language: str | None) -> Speech:
        """Ask the server to speak ``text`` in the reference clip's voice.

        Raises:
            EngineUnavailable: no server is configured, or the choice carries no reference clip.
            EngineFailed: the server refused the request (400) or answered something that is not WAV.
            TransientError: the server is unreachable, timed out or answered 5xx.
        """
        reference = voice.reference
        if reference is None:
            raise EngineUnavailable(f"gpt_sovits voice {voice.label!r} has no reference clip")
        body = self._body(text, reference, speed, language)
        request = urllib.request.Request(  # noqa: S310  (an operator-configured http(s) URL)
            self._url(), data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.gpt_sovits.timeout_s) as resp:  # noqa: S310
                return decode_wav(resp.read(), "GPT-SoVITS's answer")
        except urllib.error.HTTPError as exc:
            detail = _message(exc.read())
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"GPT-SoVITS answered {exc.code}: {detail}") from None
            raise EngineFailed(f"GPT-SoVITS refused the request ({exc.code}): {detail}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise TransientError(f"GPT-SoVITS at {self.settings.gpt_sovits.url} did not answer: {exc}") from None

    def _body(self, text: str, reference: Reference, speed: float, language: str | None) -> bytes:
        payload = {
            "text": text,
            "text_lang": language or "auto",
            "ref_audio_path": reference.server_path,
            "prompt_text": reference.prompt_text,
            "prompt_lang": reference.prompt_language,
            "speed_factor": speed,
            "media_type": "wav",
            "streaming_mode": False,
            "text_split_method": self.settings.gpt_sovits.text_split_method,
        }
        return json.dumps(payload, ensure_ascii=False).encode()


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode(errors="replace")
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)[:300]
