"""The auditor's check of collected histories: chains, signatures, served proofs, topics and statements.

It never stops at the first problem. Each problem names the service and exactly which event
(position, aggregate, version, type), checkpoint (index, size, time), topic message (partition,
offset) or statement (period, payee) differs; what passed is said in plain words too.

The platform does not know how payouts are computed: the statements are recomputed by a
`StatementCheck` the caller passes in (revenue-share's `revenue_share.audit.check_statements`,
given by the `ipshare verify` command and the console's auditor page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka.partitioner import murmur2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from ipshare.audit import CanonicalFormError, Finding, load_public_key, verify_log
from ipshare.audit.checkpoint import key_id_of
from ipshare.audit.errors import AuditError
from ipshare.audit.verifier import verify_checkpoint_consistency, verify_entry_inclusion
from ipshare.audit_history import ServiceHistory, TopicMessage
from ipshare.audit_log import AuditEntry
from ipshare.envelope import written_alike
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope


@dataclass(frozen=True, slots=True)
class Problem:
    service: str
    kind: str
    message: str


@dataclass
class AuditReport:
    verified: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """An event of a verified log as its topic carries it, for a replay."""

    topic: str
    partition: int
    position: int  # in the audit log
    envelope: EventEnvelope


class StatementCheck(Protocol):
    """Re-derives the issued statements from the published events: what it verified, what differs."""

    def __call__(self, events: Sequence[PublishedEvent], /) -> tuple[list[str], list[Problem]]: ...


def check_all(
    histories: Sequence[ServiceHistory],
    trusted_keys: Mapping[str, Ed25519PublicKey],
    statements: StatementCheck | None = None,
) -> AuditReport:
    report = AuditReport()
    for history in histories:
        _check_service(report, history, trusted_keys.get(history.service))
    if statements is not None:
        verified, problems = statements([e for h in histories for e in published_events(h)])
        report.verified += verified
        report.problems += problems
    return report


def _check_service(report: AuditReport, history: ServiceHistory, trusted: Ed25519PublicKey | None) -> None:
    name = history.service
    key = trusted or load_public_key(history.public_key)
    entries = [e for e in history.entries if e.chained]
    report.problems += [_inserted(history.service, e) for e in history.entries if not e.chained]
    result = verify_log([e.canonical for e in entries], history.checkpoints, key,
                        entry_hashes=[e.entry_hash for e in entries], log_id=history.log_id)  # fmt: skip
    where = _Where(history)
    report.problems += [Problem(name, f.kind.value, where.finding(f)) for f in result.findings]
    report.problems += _truncation(history)
    report.problems += [p for e in entries if (p := _envelope_mismatch(history.service, e, where))]
    proofs = _served_proofs(history, key)
    report.problems += proofs
    if result.ok:
        source = "the trusted key" if trusted else "the key the service reports (pin one with --key)"
        report.verified.append(
            f"{name}: {counted(len(entries), 'event')}, hash chain intact; "
            f"{counted(len(history.checkpoints), 'checkpoint')} signed by key {key_id_of(key)} verify with {source}; "
            f"the log extends every checkpoint (root {result.root_hash.hex()[:16]}…, "
            f"{counted(result.unsigned_entries, 'event')} since the last checkpoint)"
        )
    if (history.proofs or history.inclusions) and not proofs:
        report.verified.append(
            f"{name}: {counted(len(history.proofs), 'consistency proof')} served between checkpoints and "
            f"{counted(len(history.inclusions), 'inclusion proof')} of checkpointed events verify"
        )
    if history.topic_messages is not None:
        _check_topic(report, history, where)


def _inserted(service: str, entry: AuditEntry) -> Problem:
    event = entry.event
    where = f" at notification id {entry.notification_id}" if entry.notification_id else ""
    return Problem(service, "entry_inserted",
                   f"an event the log never chained is stored{where} (aggregate {event.originator_id} version "
                   f"{event.originator_version}, {event.type_name}; it says it was recorded by {entry.attribution}): "
                   "it was added behind the log's back")  # fmt: skip


def _envelope_mismatch(service: str, entry: AuditEntry, where: _Where) -> Problem | None:
    """The envelope served with an entry is not covered by the chain: it must at least name the same event."""
    if not entry.envelope:
        return None
    try:
        event, envelope = entry.event, _envelope(entry.envelope)
    except (CanonicalFormError, DecodeError):
        return Problem(service, "envelope_mismatch", f"{where.event(entry.position)}: its envelope does not parse")
    named = (envelope.aggregate_id, envelope.aggregate_version, envelope.type, envelope.position)
    if named == (event.originator_id, event.originator_version, event.type_name, entry.notification_id):
        return None
    return Problem(service, "envelope_mismatch", f"{where.event(entry.position)}: the envelope served with it "
                   f"names another event ({envelope.aggregate_id} version {envelope.aggregate_version}, "
                   f"{envelope.type}, position {envelope.position})")  # fmt: skip


def _truncation(history: ServiceHistory) -> list[Problem]:
    last = max((e.position for e in history.entries), default=-1)
    if last >= history.size - 1:
        return []
    return [Problem(history.service, "log_truncated", f"the service reports {history.size} events but served none "
                    f"after position {last}: the events from position {last + 1} on are missing")]  # fmt: skip


def _served_proofs(history: ServiceHistory, key: Ed25519PublicKey) -> list[Problem]:
    by_size = {c.tree_head.tree_size: c for c in history.checkpoints}
    problems = []
    for proof in history.proofs:
        older, newer = by_size.get(proof.old_size), by_size.get(proof.new_size)
        if older is None or newer is None:
            continue
        try:
            verify_checkpoint_consistency(older, newer, proof.hashes, key)
        except AuditError as error:
            message = f"the consistency proof served from size {proof.old_size} to {proof.new_size} fails: {error}"
            problems.append(Problem(history.service, "proof_invalid", message))
    return problems + _served_inclusions(history, key)


def _served_inclusions(history: ServiceHistory, key: Ed25519PublicKey) -> list[Problem]:
    by_size = {c.tree_head.tree_size: c for c in history.checkpoints}
    by_position = {e.position: e for e in history.entries}
    problems = []
    for proof in history.inclusions:
        checkpoint, entry = by_size.get(proof.tree_size), by_position.get(proof.position)
        if checkpoint is None or entry is None:
            continue
        try:
            verify_entry_inclusion(entry.canonical, proof.position, proof.hashes, checkpoint, key)
        except AuditError as error:
            message = (f"the inclusion proof served for position {proof.position} in the tree of {proof.tree_size} "
                       f"fails: {error}")  # fmt: skip
            problems.append(Problem(history.service, "proof_invalid", message))
    return problems


def _check_topic(report: AuditReport, history: ServiceHistory, where: _Where) -> None:
    by_notification = {e.notification_id: e for e in history.entries if e.envelope and e.chained}
    seen: set[int] = set()
    problems = []
    for message in history.topic_messages or []:
        problem = _check_message(history, message, by_notification, where)
        if problem:
            problems.append(problem)
        else:
            seen.add(_envelope(message.value).position)
    report.problems += problems
    missing = len(set(by_notification) - seen)
    if not problems:
        held = counted(len(history.topic_messages or []), "message")
        report.verified.append(
            f"{history.service}: the topic {history.topic} holds {held}, each identical to the event stored at its "
            "position" + (f" ({missing} published events not on the topic yet)" if missing else "")
        )


def _check_message(
    history: ServiceHistory, message: TopicMessage, by_notification: Mapping[int, AuditEntry], where: _Where
) -> Problem | None:
    at = f"topic {history.topic} partition {message.partition} offset {message.offset}"
    try:
        published = _envelope(message.value)
    except DecodeError:
        return Problem(history.service, "topic_message_altered", f"{at}: not an event envelope")
    entry = by_notification.get(published.position)
    if entry is None:
        return Problem(history.service, "topic_message_unknown",
                       f"{at}: no published event of the log has position {published.position}")  # fmt: skip
    stored = _envelope(entry.envelope)
    if written_alike(stored, published):  # as published, or as an earlier release published it
        return None
    fields = sorted({f.name for f, _ in stored.ListFields()} ^ {f.name for f, _ in published.ListFields()}
                    | {f.name for f, v in stored.ListFields() if getattr(published, f.name) != v})  # fmt: skip
    return Problem(history.service, "topic_message_altered",
                   f"{at}: the message differs from {where.event(entry.position)} as stored "
                   f"(field{'s' if len(fields) > 1 else ''} {', '.join(fields)})")  # fmt: skip


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _envelope(data: bytes) -> EventEnvelope:
    envelope = EventEnvelope()
    envelope.ParseFromString(data)
    return envelope


class _Where:
    """Names events and checkpoints in plain words."""

    def __init__(self, history: ServiceHistory) -> None:
        self.history = history
        self.by_position = {e.position: e for e in history.entries}

    def event(self, position: int | None) -> str:
        entry = self.by_position.get(position) if position is not None else None
        if entry is None:
            return f"the event at position {position}"
        try:
            event = entry.event
        except CanonicalFormError:
            return f"the event at position {position}"
        return (f"the event at position {position} (aggregate {event.originator_id} version "
                f"{event.originator_version}, {event.type_name}; recorded by {entry.attribution})")  # fmt: skip

    def checkpoint(self, index: int) -> str:
        head = self.history.checkpoints[index].tree_head
        return f"checkpoint {index} (size {head.tree_size}, signed {head.timestamp.isoformat()})"

    def finding(self, finding: Finding) -> str:
        if finding.checkpoint is not None:
            return f"{self.checkpoint(finding.checkpoint)}: {finding.message}"
        return f"{self.event(finding.position)}: {finding.message}"


def published_events(history: ServiceHistory) -> list[PublishedEvent]:
    """The published events of a log, each on the partition the topic shows it on (or would)."""
    partitions: dict[int, int] = {}
    for message in history.topic_messages or []:
        try:
            partitions.setdefault(_envelope(message.value).position, message.partition)
        except DecodeError:
            continue
    events = []
    for entry in history.entries:
        if not entry.envelope or not entry.chained:  # an inserted event is no part of the verified log
            continue
        envelope = _envelope(entry.envelope)
        partition = partitions.get(entry.notification_id)
        if partition is None:
            partition = default_partition(envelope.aggregate_id, history.partitions)
        events.append(PublishedEvent(history.topic, partition, entry.position, envelope))
    return events


def default_partition(key: str, partitions: int) -> int:
    """The partition the relay's producer picks for a key (Kafka's default: murmur2, positive, modulo)."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % max(1, partitions)
