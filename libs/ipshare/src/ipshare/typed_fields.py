"""Typed contract fields beside their text twins: filled on write, read typed first.

A contract field that carried a date or an instant (ISO 8601) or a choice (the domain's lower-case
word) as a string keeps doing so, deprecated, for readers from before its typed twin: an
`ipshare.calendar.v1.Date`, a `google.protobuf.Timestamp` or an enum with a new number, whose
`(ipshare.typed.v1.text_field)` option names the string field. Writers build a message from the
domain's text and call `fill_typed`, which sets every typed twin, in nested messages too. Readers
call `date_of`, `iso_date_of`, `instant_of` or `text_of`: the typed field, or the text where it is
unset (a message written before the typed field existed, e.g. an event already on a topic that a
replay reads again).

This module is the one place that converts between the two forms; no event or servicer does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from typing import TypeVar

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.typed.v1 import typed_pb2

_DATE = Date.DESCRIPTOR.full_name
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
M = TypeVar("M", bound=Message)


class Form(Enum):
    """What the typed field of a twin holds."""

    DATE = "date"
    INSTANT = "instant"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Twin:
    """A typed field and the string field that carries its value as text."""

    typed: str
    text: str
    form: Form
    enum: EnumDescriptor | None = None  # the choice's enum


def twins(message: Message | type[Message]) -> tuple[Twin, ...]:
    """The typed fields of a message type (not of the messages it holds)."""
    return tuple(_twins_by_typed(message.DESCRIPTOR).values())


@cache
def _twins_by_typed(message: Descriptor) -> dict[str, Twin]:
    found = {}
    for field in message.fields:
        text = field.GetOptions().Extensions[typed_pb2.text_field]
        if text:
            found[field.name] = _twin(message, field, text)
    return found


def _twin(message: Descriptor, field: FieldDescriptor, text: str) -> Twin:
    where = f"{message.full_name}.{field.name}"
    twin = message.fields_by_name.get(text)
    if twin is None or twin.type != FieldDescriptor.TYPE_STRING or twin.is_repeated:
        raise ValueError(f"{where}: its text field {text!r} is not a string field of the message")
    if field.is_repeated:
        raise ValueError(f"{where}: a repeated field cannot have a text twin")
    if field.type == FieldDescriptor.TYPE_ENUM:
        return Twin(field.name, text, Form.CHOICE, field.enum_type)
    forms = {_DATE: Form.DATE, _TIMESTAMP: Form.INSTANT}
    if field.message_type is not None and field.message_type.full_name in forms:
        return Twin(field.name, text, forms[field.message_type.full_name])
    raise ValueError(f"{where}: only a Date, a Timestamp or an enum field can have a text twin")


@cache
def _holding_twins(message: Descriptor) -> tuple[FieldDescriptor, ...]:
    """The message fields (single or repeated) whose messages have typed fields somewhere inside."""
    return tuple(
        field
        for field in message.fields
        if field.message_type is not None
        and not field.message_type.GetOptions().map_entry
        and (_twins_by_typed(field.message_type) or _holding_twins(field.message_type))
    )


def fill_typed(message: Message) -> None:
    """Set every unset typed field of the message, and of the messages it holds, from its text twin."""
    descriptor = message.DESCRIPTOR
    for twin in _twins_by_typed(descriptor).values():
        _fill(message, twin)
    for field in _holding_twins(descriptor):
        if field.is_repeated:
            for item in getattr(message, field.name):
                fill_typed(item)
        elif message.HasField(field.name):
            fill_typed(getattr(message, field.name))


def filled(message: M) -> M:
    """The message after `fill_typed`: a reply or request built from text, with its typed twins set."""
    fill_typed(message)
    return message


def _fill(message: Message, twin: Twin) -> None:
    text = getattr(message, twin.text)
    if not text:
        return
    if twin.enum is not None:
        if not getattr(message, twin.typed):
            setattr(message, twin.typed, enum_number(twin.enum, text))
    elif message.HasField(twin.typed):
        return
    elif twin.form is Form.DATE:
        getattr(message, twin.typed).CopyFrom(date_message(date.fromisoformat(text)))
    else:
        getattr(message, twin.typed).FromDatetime(_aware(datetime.fromisoformat(text)))


def date_message(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def date_of(message: Message, typed: str) -> date | None:
    """The date of the Date field `typed`, or of its text twin for a message from before it; None if neither."""
    if message.HasField(typed):
        value: Date = getattr(message, typed)
        return date(value.year, value.month, value.day)
    text = getattr(message, _twin_of(message, typed).text)
    return date.fromisoformat(text) if text else None


def required_date_of(message: Message, typed: str) -> date:
    """`date_of` for a date the message must have: ValueError when it has none."""
    day = date_of(message, typed)
    if day is None:
        raise ValueError(f"{message.DESCRIPTOR.full_name} has no {typed}")
    return day


def iso_date_of(message: Message, typed: str) -> str:
    """`date_of` as ISO 8601 text, "" for no date (the form the read models keep)."""
    if message.HasField(typed):
        value: Date = getattr(message, typed)
        return date(value.year, value.month, value.day).isoformat()  # a Date that is no date raises here
    text: str = getattr(message, _twin_of(message, typed).text)
    return date.fromisoformat(text).isoformat() if text else ""


def instant_of(message: Message, typed: str) -> datetime | None:
    """The instant (UTC) of the Timestamp field `typed`, or of its text twin for a message from before
    it; None if neither."""
    if message.HasField(typed):
        value: Timestamp = getattr(message, typed)
        return value.ToDatetime(tzinfo=UTC)
    text: str = getattr(message, _twin_of(message, typed).text)
    return _aware(datetime.fromisoformat(text)).astimezone(UTC) if text else None


def required_instant_of(message: Message, typed: str) -> datetime:
    """`instant_of` for an instant the message must have: ValueError when it has none."""
    instant = instant_of(message, typed)
    if instant is None:
        raise ValueError(f"{message.DESCRIPTOR.full_name} has no {typed}")
    return instant


def _aware(instant: datetime) -> datetime:
    """An instant must say its offset: text without one is refused rather than read as local time."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset")
    return instant


def text_of(message: Message, typed: str) -> str:
    """The domain's text of the enum field `typed`; that of its text twin for a message from before it
    (or for a value newer than this reader's contracts)."""
    twin = _twin_of(message, typed)
    assert twin.enum is not None, f"{typed} is not an enum field"
    text = _texts_by_number(twin.enum).get(getattr(message, typed))
    return str(getattr(message, twin.text)) if text is None else text


@cache
def _texts_by_number(enum: EnumDescriptor) -> dict[int, str]:
    """The domain's text of each value but UNSPECIFIED, worked out once: a replay asks for a million."""
    prefix = enum_prefix(enum)
    return {value.number: value.name.removeprefix(prefix).lower() for value in enum.values if value.number != 0}


def _twin_of(message: Message, typed: str) -> Twin:
    twin = _twins_by_typed(message.DESCRIPTOR).get(typed)
    if twin is None:
        raise ValueError(f"{message.DESCRIPTOR.full_name}.{typed} has no text twin")
    return twin


def enum_prefix(enum: EnumDescriptor) -> str:
    """What every value of a contract enum starts with: `MemberKind` -> `MEMBER_KIND_`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def enum_number(enum: EnumDescriptor, text: str) -> int:
    """The enum value standing for the domain's text (`university` -> MEMBER_KIND_UNIVERSITY).

    Text the enum does not know gives 0 (UNSPECIFIED) rather than an event the relay cannot
    encode: the string field beside it still carries the text.
    """
    value = enum.values_by_name.get(enum_prefix(enum) + text.upper()) if text else None
    return value.number if value is not None else 0
