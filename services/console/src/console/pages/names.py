"""Names for the ids the services answer with: members, researchers (one call each, in parallel)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from console.api import ApiError, ServiceClient

PATHS = {"member": "/members/{}", "researcher": "/researchers/{}"}


async def names_of(api: ServiceClient, kind: str, ids: Iterable[str]) -> dict[str, str]:
    """id -> name; an id the user may not read (or that is not a member, like a seed fund) keeps its id."""
    unique = sorted({str(i) for i in ids if i})

    async def one(entity_id: str) -> tuple[str, str]:
        try:
            found = await api.get("ip-registry", PATHS[kind].format(entity_id))
        except ApiError:
            return entity_id, entity_id
        return entity_id, str(found.get("name") or entity_id)

    return dict(await asyncio.gather(*(one(i) for i in unique)))


async def payee_names(api: ServiceClient, payees: Iterable[dict[str, str]]) -> dict[str, str]:
    """`kind:id` -> name for revenue-share payees (members, researchers; accounts show as they are)."""
    payees = list(payees)
    members = await names_of(api, "member", (p["id"] for p in payees if p["kind"] == "member"))
    researchers = await names_of(api, "researcher", (p["id"] for p in payees if p["kind"] == "researcher"))
    found = {f"member:{k}": v for k, v in members.items()} | {f"researcher:{k}": v for k, v in researchers.items()}
    return {f"{p['kind']}:{p['id']}": found.get(f"{p['kind']}:{p['id']}", p.get("account") or p["id"]) for p in payees}
