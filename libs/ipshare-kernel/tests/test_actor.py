"""Who recorded an event, as the metadata keeps it and as the auditor's report says it."""

from __future__ import annotations

from ipshare_kernel.actor import Actor, Attribution

OFFICER = Actor("oidc|sun-yu", "member", "Sun Yu", "5b1e9a4e-0000-4000-8000-000000000001")
DISPATCHER = Actor("commercialization", "service")


def test_an_actor_reads_back_from_the_metadata_it_wrote() -> None:
    meta = {**DISPATCHER.to_metadata(), **OFFICER.to_metadata("caused_by"), "principal": "service:commercialization"}
    assert Attribution.of(meta) == Attribution(DISPATCHER, OFFICER, "service:commercialization")


def test_the_attribution_names_the_person_the_subject_and_the_member_acted_for() -> None:
    assert str(Attribution(OFFICER, None, "member:5b1e9a4e")) == (
        "Sun Yu (oidc|sun-yu), member for member 5b1e9a4e-0000-4000-8000-000000000001"
    )
    assert str(Attribution(DISPATCHER, OFFICER, "")) == (
        "commercialization, service, on behalf of Sun Yu (oidc|sun-yu), member for member "
        "5b1e9a4e-0000-4000-8000-000000000001"
    )


def test_an_event_recorded_before_actors_were_kept_shows_its_principal() -> None:
    assert str(Attribution.of({"principal": "finance:dev-finance"})) == (
        "unknown (recorded before actors were kept; principal finance:dev-finance)"
    )
    assert str(Attribution.of({})) == "unknown (recorded before actors were kept)"
