"""Which ip-registry events go on the bus, and as which protobuf payload.

Every event of members, researchers and assets is published: revenue-share rebuilds
ownership over time, inventors, members and costs from them alone. The record of handled
transfer requests (`OwnershipTransfer`) and of imported portfolio files (`PortfolioImport`)
is the registry's own bookkeeping: private, never on the topic.
"""

from __future__ import annotations

from ip_registry.domain.asset import Asset
from ip_registry.domain.member import Member, Researcher
from ip_registry.domain.ownership_transfer import OwnershipTransfer
from ip_registry.domain.portfolio_import import PortfolioImport
from ipshare.envelope import EventCatalog
from ipshare_contracts.ipregistry.v1 import events_pb2 as pb

SOURCE = "ip-registry"


def build_catalog() -> EventCatalog:
    catalog = EventCatalog(SOURCE)
    catalog.register_all(
        [
            (Member.Admitted, pb.MemberAdmitted),
            (Member.Suspended, pb.MemberSuspended),
            (Member.Reinstated, pb.MemberReinstated),
            (Researcher.Registered, pb.ResearcherRegistered),
            (Researcher.Affiliated, pb.ResearcherAffiliated),
            (Asset.Registered, pb.AssetRegistered),
            (Asset.OwnershipProposed, pb.OwnershipProposed),
            (Asset.OwnershipConfirmed, pb.OwnershipConfirmed),
            (Asset.OwnershipDeclined, pb.OwnershipDeclined),
            (Asset.OwnershipEffective, pb.OwnershipEffective),
            (Asset.SharesTransferred, pb.SharesTransferred),
            (Asset.OwnershipAssignedOut, pb.OwnershipAssignedOut),
            (Asset.Filed, pb.AssetFiled),
            (Asset.Published, pb.AssetPublished),
            (Asset.Granted, pb.AssetGranted),
            (Asset.Ended, pb.AssetEnded),
            (Asset.StrategicReserveTagged, pb.StrategicReserveTagged),
            (Asset.InventorsCorrected, pb.InventorsCorrected),
            (Asset.CostRecorded, pb.CostRecorded),
        ]
    )
    catalog.keep_private([OwnershipTransfer.Recorded, PortfolioImport.Recorded])
    return catalog
