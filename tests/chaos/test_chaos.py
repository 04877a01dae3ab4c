"""Fault drills on a stack of its own: two replicas of every service, an embedded broker it may wipe.

`make chaos` runs these and prints each check as it passes (`pytest -s`). They are also part of
the suite. Scenarios:

- kill the leader: under a steady load of writes spread over both replicas, the leader of every
  service is killed (SIGKILL); a standby takes the single-writer loops over, and every
  acknowledged write reaches the topic and revenue-share exactly once in effect;
- wipe the broker: every topic is lost; the services report not-ready with the reason, their
  leaders recreate the topics and republish the event stores, and delivery goes on;
- races across replicas: two writers with one ETag (one 201, one 412, no lost update), and a
  write retried with its `Idempotency-Key` on the other replica (replayed, written once).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from ipshare import bus
from ipshare.auth import Role
from ipshare.dev_issuer import DevIssuer
from ipshare.envelope import decode_envelope
from ipshare.settings import BusSettings
from ipshare_devtools.embedded import free_port
from ipshare_devtools.stack import ServiceProcess, Stack, StackSettings

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check(message: str) -> None:
    """Say what was checked (shown by `make chaos`)."""
    print(f"checked: {message}", flush=True)


def credit_code(rng: random.Random) -> str:
    first17 = "91110000" + "".join(rng.choice(USCC_ALPHABET[:10]) for _ in range(9))
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]


def admin(issuer: DevIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.person_token(Role.ADMIN)}"}


@pytest.fixture(scope="module")
def stack(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ports = {f"{name}_{kind}_port": free_port() for name in ("ip_registry", "commercialization", "incubation",
                                                             "revenue_share") for kind in ("http", "grpc")}  # fmt: skip
    ports["console_http_port"], ports["dev_issuer_port"] = free_port(), free_port()
    quick = {"RELAY_TOPIC_CHECK_SECONDS": "1", "LEADER_RETRY_SECONDS": "0.5", "EVENT_STORE_POOL_SIZE": "2"}
    settings = StackSettings(
        database_url=postgres_url, kafka_bootstrap_servers=None, embedded_kafka_port=free_port(),
        state_dir=tmp_path_factory.mktemp("chaos"), replicas=2,
        database_prefix=f"chaos_{uuid.uuid4().hex[:6]}", **ports,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        for name, value in quick.items():  # the services inherit them: quick drills, 8 processes on one server
            env.setenv(name, value)
        running = Stack(settings)
        running.start(timeout=300)  # eight processes starting at once on two cores
        yield running
        running.stop()


class Load:
    """Admits members at a steady rate, each to either replica; a refused one is sent to the other
    (as a load balancer would). A member's id is fixed by its credit code, so a write that was
    saved before its replica died answers 409 `already_exists` on the retry: acknowledged too."""

    def __init__(self, replicas: list[ServiceProcess], issuer: DevIssuer, rate: float = 20.0) -> None:
        self.replicas, self.issuer, self.interval = replicas, issuer, 1.0 / rate
        self.acknowledged: list[str] = []
        self.rng = random.Random(17)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                self.admit(client, credit_code(self.rng))
                time.sleep(self.interval)

    def admit(self, client: httpx.Client, code: str) -> None:
        body = {"name": f"Member {code}", "kind": "enterprise", "state_established": False, "credit_code": code}
        order = self.replicas if self.rng.random() < 0.5 else self.replicas[::-1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for replica in order:
                try:
                    answer = client.post(f"{replica.base_url}/members", json=body, headers=admin(self.issuer))
                except httpx.HTTPError:
                    continue
                if answer.status_code in (201, 409):
                    self.acknowledged.append(code)
                    return
            time.sleep(0.2)
        raise AssertionError(f"no replica of ip-registry admitted {code} in 30 s")


def leader_of(stack: Stack, name: str, timeout: float = 60.0) -> ServiceProcess:
    """The replica whose /metrics says it leads (exactly one must)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaders = []
        for replica in stack.replicas_of(name):
            with contextlib.suppress(httpx.HTTPError):
                metrics = httpx.get(f"{replica.base_url}/metrics", timeout=2).text
                if re.search(r'^ipshare_leader\{service="[^"]+"\} 1\.0$', metrics, re.M):
                    leaders.append(replica)
        if len(leaders) == 1:
            return leaders[0]
        time.sleep(0.2)
    raise AssertionError(f"{name}: no single leader within {timeout:.0f} s")


def member_facts(stack: Stack) -> Counter[str]:
    async def read() -> Counter[str]:
        [revenue_share] = stack.replicas_of("revenue-share")[:1]
        conn = await asyncpg.connect(stack.service_database(revenue_share))
        try:
            rows = await conn.fetch("SELECT body->>'member_id' AS member FROM facts WHERE kind = 'member'")
        finally:
            await conn.close()
        return Counter(row["member"] for row in rows)

    return asyncio.run(read())


def stored_events(stack: Stack, name: str) -> set[str]:
    """The aggregate id and version of every stored event of a service but its own-use ones."""

    async def read() -> set[str]:
        conn = await asyncpg.connect(stack.service_database(stack.replicas_of(name)[0]))
        try:
            table = await conn.fetchval(  # the event store's table: named after the application
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND column_name = 'state' INTERSECT SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'notification_id'"
            )
            rows = await conn.fetch(f'SELECT originator_id, originator_version, topic FROM "{table}"')
        finally:
            await conn.close()
        return {
            f"{r['originator_id']}/{r['originator_version']}" for r in rows if "OwnershipTransfer" not in r["topic"]
        }

    return asyncio.run(read())


def topic_events(stack: Stack, name: str) -> Counter[str]:
    async def read() -> Counter[str]:
        settings = BusSettings(kafka_bootstrap_servers=stack.bootstrap_servers)
        found: Counter[str] = Counter()
        async for batch in bus.read_from_beginning(settings, [bus.topic_of(name)], idle_seconds=2.0):
            for record in batch:
                envelope = decode_envelope(record.value)
                found[f"{envelope.aggregate_id}/{envelope.aggregate_version}"] += 1
        return found

    return asyncio.run(read())


def until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def member_ids(stack: Stack, codes: list[str]) -> set[str]:
    registry = stack.replicas_of("ip-registry")[0]
    found = set()
    for code in codes:
        answer = httpx.post(f"{registry.base_url}/members", json={"name": "x", "kind": "enterprise",
                            "state_established": False, "credit_code": code}, headers=admin(stack.issuer))  # fmt: skip
        assert answer.status_code == 409, answer.text  # it exists: the conflict names its id
        found.add(answer.json()["error"]["details"]["id"])
    return found


def test_killing_each_leader_under_load_loses_and_doubles_nothing(stack: Stack) -> None:
    names = [s.name for s in stack.settings.services()]
    with Load(stack.replicas_of("ip-registry"), stack.issuer) as load:
        time.sleep(2)
        for name in names:
            old = leader_of(stack, name)
            stack.kill(old.process_name)
            new = leader_of(stack, name)
            assert new != old
            check(f"{name}: leader {old.process_name} killed (SIGKILL); {new.process_name} took over the loops")
            stack.respawn(old)
        stack.wait_healthy(300)
        time.sleep(2)
    check(f"ip-registry: {len(load.acknowledged)} writes acknowledged across both replicas during the kills")
    for name in names:
        leader_of(stack, name)
        check(f"{name}: exactly one leader among {len(stack.replicas_of(name))} replicas afterwards")

    stored = stored_events(stack, "ip-registry")
    until(lambda: stored <= set(topic_events(stack, "ip-registry")), "every stored event on the topic")
    on_topic = topic_events(stack, "ip-registry")
    resent = sum(count - 1 for count in on_topic.values())
    check(f"ip-registry: all {len(stored)} stored events are on the topic ({resent} re-sent by a killed relay)")
    members = member_ids(stack, load.acknowledged)
    until(lambda: members <= set(member_facts(stack)), "every admitted member in revenue-share's inbox")
    facts = member_facts(stack)
    assert all(facts[m] == 1 for m in members)
    check(f"revenue-share: each of the {len(members)} members admitted under load is in its inbox exactly once")


def test_a_wiped_broker_is_reported_then_refilled_and_delivery_goes_on(stack: Stack) -> None:
    assert stack.broker is not None
    before = stored_events(stack, "ip-registry")
    stack.broker.stop()
    stack.broker.start()
    reasons = {}
    for replica in stack.replicas:  # until the leaders have refilled, every replica says why it is not ready
        answer = httpx.get(f"{replica.base_url}/healthz", timeout=5)
        if answer.status_code == 503:
            reasons[replica.process_name] = answer.json().get("reasons", {}).get("topic", "")
    assert reasons, "no replica reported the lost topics"
    assert all("missing" in reason or "republishing" in reason for reason in reasons.values()), reasons
    check(f"after the wipe {len(reasons)} of {len(stack.replicas)} replicas answered /healthz 503 naming the topic")

    until(lambda: _all_ready(stack), "every replica ready again")
    check("every replica ready again once its service's leader recreated and refilled the topic")
    until(lambda: before <= set(topic_events(stack, "ip-registry")), "the ip-registry topic refilled")
    check(f"ip-registry: the {len(before)} events stored before the wipe are on the recreated topic")

    with httpx.Client(timeout=10) as client:
        load = Load(stack.replicas_of("ip-registry"), stack.issuer)
        code = credit_code(random.Random(time.time_ns()))
        load.admit(client, code)
    [member] = member_ids(stack, [code])
    until(lambda: member_facts(stack)[member] == 1, "a member admitted after the wipe reaches revenue-share")
    assert all(count == 1 for count in member_facts(stack).values())
    check("a member admitted after the wipe reached revenue-share; no fact doubled by the refill")


def member_token(stack: Stack, member_id: str) -> dict[str, str]:
    token = stack.issuer.person_token(Role.MEMBER, uuid.UUID(member_id))
    return {"Authorization": f"Bearer {token}"}


def registered_asset(stack: Stack) -> tuple[str, str]:
    """A member's know-how asset (no office number needed), registered through replica 1: (asset, member)."""
    registry = stack.replicas_of("ip-registry")[0].base_url
    code = credit_code(random.Random(time.time_ns()))
    body = {"name": f"Racer {code}", "kind": "university", "state_established": True, "credit_code": code}
    member = httpx.post(f"{registry}/members", json=body, headers=admin(stack.issuer)).json()["id"]
    researcher = httpx.post(f"{registry}/researchers", headers=member_token(stack, member), json={
        "name": "Ren", "member_id": member, "effective_date": "2020-01-01"}).json()["id"]  # fmt: skip
    asset = httpx.post(f"{registry}/assets", headers=member_token(stack, member), json={
        "title": "Sintering recipe", "kind": "know_how", "jurisdiction": "CN", "registered_by": member,
        "owners": [{"member_id": member, "share_bps": 10_000}], "status": "disclosed",
        "inventors": [{"researcher_id": researcher, "contribution_bps": 10_000}],
        "disclosure_date": "2021-01-15", "technology_field": "additive manufacturing",
    })  # fmt: skip
    assert asset.status_code == 201, asset.text
    return asset.json()["id"], member


def cost_body(member: str, amount: int) -> dict[str, object]:
    return {"kind": "valuation", "amount": {"amount_minor": amount, "currency": "CNY"}, "paid_by": member,
            "effective_date": "2024-03-01"}  # fmt: skip


def test_two_writers_with_one_etag_on_two_replicas_one_wins_the_other_gets_412(stack: Stack) -> None:
    one, two = (r.base_url for r in stack.replicas_of("ip-registry"))
    asset, member = registered_asset(stack)
    headers = member_token(stack, member)
    rounds = 10
    for n in range(rounds):
        etag = httpx.get(f"{one}/assets/{asset}", headers=headers).headers["etag"]
        tagged = {**headers, "If-Match": etag}
        writes = [(one, tagged, cost_body(member, 1_000 + 2 * n)), (two, tagged, cost_body(member, 1_001 + 2 * n))]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda w: httpx.post(f"{w[0]}/assets/{asset}/costs", headers=w[1], json=w[2]),
                                    writes))  # fmt: skip
        assert sorted(a.status_code for a in answers) == [201, 412], [a.text for a in answers]
    costs = httpx.get(f"{two}/assets/{asset}", headers=headers).json()["costs"]
    assert len(costs) == rounds
    check(f"ip-registry: {rounds} rounds of two writers with one ETag on two replicas: one 201 and one 412 each, "
          f"{rounds} costs kept (no lost update)")  # fmt: skip


def test_an_idempotency_key_retried_on_the_other_replica_writes_once(stack: Stack) -> None:
    one, two = (r.base_url for r in stack.replicas_of("ip-registry"))
    asset, member = registered_asset(stack)
    keyed = {**member_token(stack, member), "Idempotency-Key": f"chaos-{uuid.uuid4()}"}
    first = httpx.post(f"{one}/assets/{asset}/costs", headers=keyed, json=cost_body(member, 4_242), timeout=10)
    again = httpx.post(f"{two}/assets/{asset}/costs", headers=keyed, json=cost_body(member, 4_242), timeout=10)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    other = httpx.post(f"{two}/assets/{asset}/costs", headers=keyed, json=cost_body(member, 1), timeout=10)
    assert other.status_code == 409, other.text
    costs = httpx.get(f"{one}/assets/{asset}", headers=member_token(stack, member)).json()["costs"]
    assert [c["amount_minor"] for c in costs] == [4_242]
    check("ip-registry: a write retried with its Idempotency-Key on the other replica replayed the first answer "
          "and wrote once; the key with another body is a 409")  # fmt: skip


def _all_ready(stack: Stack) -> bool:
    for replica in stack.replicas:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{replica.base_url}/healthz", timeout=2).status_code == 200:
                continue
        return False
    return True
