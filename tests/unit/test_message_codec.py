"""Dramatiq messages encoded and decoded with msgspec: the same bytes and the same messages as Dramatiq's."""

import uuid

import dramatiq
import pytest
from dramatiq.errors import DecodeError
from dramatiq.message import Message

from actors.messages import decode_message, encode_message


def _message(workflow_id: str = "w-1") -> Message:
    return dramatiq.Message(
        queue_name="system",
        actor_name="system.ping",
        args=({"workflow_id": workflow_id, "task_name": "system.ping"}, 2),
        kwargs={"k": [1, 2.5, None]},
        options={"redis_message_id": str(uuid.uuid4()), "eta": 1},
    )


def test_encoding_is_byte_identical_to_dramatiqs() -> None:
    message = _message()
    assert encode_message(message) == message.encode()


def test_text_outside_ascii_decodes_to_the_same_message() -> None:
    message = _message("w-é")
    assert Message.decode(encode_message(message)) == Message.decode(message.encode()) == message


def test_decoding_gives_the_message_dramatiq_would() -> None:
    data = _message().encode()
    assert decode_message(data) == Message.decode(data)
    assert isinstance(decode_message(data).args, tuple)


@pytest.mark.parametrize("data", [b"not json", b'{"queue_name": "q"}', b"[]"])
def test_bad_data_raises_dramatiqs_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data)
