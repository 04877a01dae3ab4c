"""A tiny event-sourced application (notes) and its audit log, for the tests of the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import Aggregate, event
from google.protobuf.struct_pb2 import Struct

from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit_log import AuditCheckpoint, AuditLog, MemoryChainStore
from ipshare.envelope import EventCatalog
from ipshare.eventstore import CommandContext, ServiceApplication, persistence_env
from ipshare_contracts.audit.v1.audit_pb2 import CheckpointSigned

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CONTEXT = CommandContext()


class Note(Aggregate):
    class Written(Aggregate.Created):
        text: str

    class Amended(Aggregate.Event):
        text: str

    @event(Written)
    def __init__(self, text: str) -> None:
        self.text = text

    @event(Amended)
    def amend(self, text: str) -> None:
        self.text = text


class Notes(ServiceApplication):
    source = "notes"


def catalog() -> EventCatalog:
    notes = EventCatalog("notes")
    notes.register(Note.Written, Struct)
    notes.register(AuditCheckpoint.Signed, CheckpointSigned)
    return notes  # Note.Amended stays unpublished


@pytest.fixture
def app() -> Iterator[Notes]:
    application = Notes(persistence_env(None))
    yield application
    application.close()


@pytest.fixture
def audit(app: Notes) -> AuditLog:
    return AuditLog(app, catalog(), MemoryChainStore(), CheckpointSigner("notes", KEY), topic="ipshare.notes.v1")


def write(app: Notes, *texts: str) -> list[uuid.UUID]:
    notes = [Note(text) for text in texts]
    app.record(CONTEXT, *notes)
    return [note.id for note in notes]
