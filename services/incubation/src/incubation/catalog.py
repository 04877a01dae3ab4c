"""Which incubation events go on the bus, and as which protobuf payload.

Every domain event is published: revenue-share turns distributed proceeds into
revenue, and auditors replay cap tables and seed projects from the topic.
"""

from __future__ import annotations

from incubation.domain.seed_project import SeedProject
from incubation.domain.spin_off import SpinOff
from ipshare.envelope import EventCatalog
from ipshare_contracts.incubation.v1 import events_pb2 as pb

SOURCE = "incubation"


def build_catalog() -> EventCatalog:
    catalog = EventCatalog(SOURCE)
    catalog.register_all(
        [
            (SpinOff.Founded, pb.SpinOffFounded),
            (SpinOff.SharesMoved, pb.SharesMoved),
            (SpinOff.IpContributed, pb.IpContributed),
            (SpinOff.ResearchersRewarded, pb.ResearchersRewarded),
            (SpinOff.PlanCreated, pb.PlanCreated),
            (SpinOff.OptionsGranted, pb.OptionsGranted),
            (SpinOff.VestingMilestoneAchieved, pb.VestingMilestoneAchieved),
            (SpinOff.ChangeOfControl, pb.ChangeOfControl),
            (SpinOff.GranteeDeparted, pb.GranteeDeparted),
            (SpinOff.OptionsExercised, pb.OptionsExercised),
            (SpinOff.OptionsExpired, pb.OptionsExpired),
            (SpinOff.KpiReported, pb.KpiReported),
            (SpinOff.ProceedsDistributed, pb.ProceedsDistributed),
            (SeedProject.Opened, pb.SeedProjectOpened),
            (SeedProject.EvidenceSubmitted, pb.EvidenceSubmitted),
            (SeedProject.MilestoneApproved, pb.MilestoneApproved),
            (SeedProject.MilestoneRejected, pb.MilestoneRejected),
            (SeedProject.TrancheReleased, pb.TrancheReleased),
        ]
    )
    return catalog
