"""The PostgreSQL application recorder every service uses: eventsourcing's, without pipeline mode.

eventsourcing writes a transaction's events through a psycopg pipeline. Over a Unix-domain
socket (the embedded server's, and the usual local one) a pipeline that sends more than
about half a megabyte stops for good: the client waits for results the server can never send,
because the server is still waiting for the rest of the statement. A close of a settlement
period over a large history writes more than that. Sent as ordinary statements in one
transaction, the same events go through at any size; the extra round trips cost microseconds
on a local socket.

Everything else (the table lock that makes notification order equal commit order, NOTIFY,
one INSERT for all events, the returned notification ids) is the library's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.errors import InterfaceError, OperationalError
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

TOPIC = f"{__name__}:UnpipelinedApplicationRecorder"


class UnpipelinedApplicationRecorder(PostgresApplicationRecorder):
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        """The library's insert, with one array per column: psycopg dumps an array of a composite
        type field by field in Python, which took a quarter of recording a large close."""
        self._lock_table(curs)
        self._notify_channel(curs)
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        curs.execute(self._insert_columns, columns)

    @cached_property
    def _insert_columns(self) -> Composed:
        return SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def count_notifications_through(self, position: int, topics: Sequence[str]) -> int:
        """How many events of those topics the log holds up to and including `position`."""
        statement = SQL(
            "SELECT count(*) AS n FROM {schema}.{table} WHERE notification_id <= %s AND topic = ANY(%s)"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (position, list(topics)))
            row = curs.fetchone()
        return int(row["n"]) if row else 0
