"""How far a dispatcher got through the notification log, kept in the service's database."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

positions_metadata = MetaData()
dispatch_positions = Table(
    "dispatch_positions",
    positions_metadata,
    Column("name", String, primary_key=True),
    Column("position", BigInteger, nullable=False),
)


class SqlPositions:
    """The last log position one named dispatcher has finished with."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.engine = engine
        self.name = name

    async def load(self) -> int:
        async with self.engine.begin() as conn:
            await conn.run_sync(positions_metadata.create_all)
            stored = await conn.scalar(
                select(dispatch_positions.c.position).where(dispatch_positions.c.name == self.name)
            )
        return int(stored or 0)

    async def save(self, position: int) -> None:
        statement = insert(dispatch_positions).values(name=self.name, position=position)
        statement = statement.on_conflict_do_update(index_elements=["name"], set_={"position": position})
        async with self.engine.begin() as conn:
            await conn.execute(statement)
