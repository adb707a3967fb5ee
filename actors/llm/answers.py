"""Read a model's answer as numbered lines, whatever shape a weak model gave it: numbered text, JSON, fenced."""

from __future__ import annotations

import json
import re
from typing import Any

_NUMBERED = re.compile(r"^\s*(?:[-*]\s*)?(\d+)\s*[|:.)\]]\s?(.*)$")
_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_INLINE_FENCE = re.compile(r"```[\w-]*")
_TEXT_KEYS = ("text", "translation", "line", "t", "content")
_NUMBER_KEYS = ("n", "number", "id", "index", "line_number")


def _closers(body: str) -> str:
    """Return the brackets (and quote) that close what ``body`` leaves open, outside strings."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in body:
        if in_string:
            escaped = not escaped and ch == "\\"
            in_string = escaped or ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    return ('"' if in_string else "") + "".join(reversed(stack))


def repair_json(text: str) -> Any:
    """Parse JSON a model wrote loosely: fences and prose around it, trailing commas, unclosed brackets."""
    text = _INLINE_FENCE.sub("", text)
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        return None
    body = text[min(starts) :].strip()
    ends = [body.rfind("]") + 1, body.rfind("}") + 1]
    for raw in (body, body[: max(ends)]):
        candidate = _TRAILING_COMMA.sub(r"\1", raw).rstrip().rstrip(",")
        for attempt in (candidate, candidate + _closers(candidate)):
            try:
                return json.loads(attempt)
            except (json.JSONDecodeError, ValueError):
                continue
    return None


def _from_json(data: Any, expected: int) -> dict[int, str]:
    if isinstance(data, dict):
        for key in ("lines", "translations", "items", "result"):
            if isinstance(data.get(key), list | dict):
                return _from_json(data[key], expected)
        found = {int(k): v for k, v in data.items() if str(k).strip().isdigit() and isinstance(v, str)}
        return {n: v.strip() for n, v in found.items() if 1 <= n <= expected}
    if not isinstance(data, list):
        return {}
    out: dict[int, str] = {}
    for position, item in enumerate(data, start=1):
        if isinstance(item, str):
            out.setdefault(position, item.strip())
        elif isinstance(item, dict):
            number = next((item[k] for k in _NUMBER_KEYS if isinstance(item.get(k), int)), position)
            text = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
            if text is not None and 1 <= number <= expected:
                out.setdefault(number, text.strip())
    return {n: t for n, t in out.items() if n <= expected}


def parse_lines(answer: str, expected: int) -> dict[int, str]:
    """Return the answer's lines by number (1..expected); lines the answer lacks are absent.

    Numbered lines (``3| text``, ``3. text``, ``3) text``) come first; then a JSON list or object (repaired);
    then, if the answer has exactly ``expected`` plain lines and no numbers, those in order.
    """
    text = _FENCE.sub("", answer)
    found: dict[int, str] = {}
    numbers = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match:
            numbers.append(int(match.group(1)))
            if 1 <= numbers[-1] <= expected and match.group(2).strip():
                found.setdefault(numbers[-1], match.group(2).strip())
    if len(numbers) > expected or len(set(numbers)) < len(numbers):
        found = {}  # a line split or repeated: the numbers after it cannot be trusted
    if len(found) == expected:
        return found
    data = repair_json(text) if ("[" in text or "{" in text) else None
    from_json = _from_json(data, expected) if data is not None else {}
    if len(from_json) > len(found):
        return from_json
    if not numbers:
        plain = [line.strip() for line in text.splitlines() if line.strip()]
        if len(plain) == expected:
            return dict(enumerate(plain, start=1))
    return found


def count_numbered(answer: str) -> int:
    """Return how many numbered lines an answer has (any number), for messages."""
    return sum(1 for line in answer.splitlines() if _NUMBERED.match(line))


def single_line(answer: str) -> str | None:
    """Return a one-line answer's text: the first non-empty line, without a number, quotes or a label."""
    parsed = parse_lines(answer, 1)
    line = parsed.get(1)
    if line is None:
        lines = [raw.strip() for raw in _FENCE.sub("", answer).splitlines() if raw.strip()]
        line = lines[0] if lines else None
    if line is None:
        return None
    line = re.sub(r"^\d+\s*\|\s*", "", line)  # "5| ...": the line's number in its chunk, kept by a weak model
    line = re.sub(r"^(?:translation|answer|line)\s*:\s*", "", line, flags=re.IGNORECASE).strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'«":
        line = line[1:-1].strip()
    return line or None
