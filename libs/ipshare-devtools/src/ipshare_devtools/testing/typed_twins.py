"""A check for tests: does every typed contract field say what its text twin says?"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from google.protobuf.message import Message

from ipshare.typed_fields import Form, instant_of, iso_date_of, text_of, twins


def twin_disagreements(message: Message, where: str = "") -> list[str]:
    """Where a typed field and its text twin differ, or the text is set and its typed twin is not,
    in the message and every message it holds ([] when they all agree)."""
    return list(_disagreements(message, where or message.DESCRIPTOR.name))


def _disagreements(message: Message, where: str) -> Iterator[str]:
    for twin in twins(message):
        text = getattr(message, twin.text)
        typed: object
        if twin.form is Form.CHOICE:
            typed_set, typed = getattr(message, twin.typed) != 0, text_of(message, twin.typed)
        elif twin.form is Form.DATE:
            typed_set, typed = message.HasField(twin.typed), iso_date_of(message, twin.typed)
        else:
            typed_set, typed = message.HasField(twin.typed), instant_of(message, twin.typed)
            text = datetime.fromisoformat(text) if text else text
        if bool(text) != typed_set or typed != text:
            yield f"{where}.{twin.typed}: {repr(typed) if typed_set else 'unset'} beside {twin.text} {text!r}"
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        items = value if field.is_repeated else [value]
        for index, item in enumerate(items):
            yield from _disagreements(
                item, f"{where}.{field.name}[{index}]" if field.is_repeated else f"{where}.{field.name}"
            )
