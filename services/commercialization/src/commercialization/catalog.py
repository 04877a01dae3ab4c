"""Which commercialization events go on the bus, and as which protobuf payload.

The per-asset license index and the opening of ledgers and accounts are internal
bookkeeping: private, never on the topic.
"""

from __future__ import annotations

from commercialization.domain.account import LicenseAccount
from commercialization.domain.assignment import Assignment
from commercialization.domain.license import AssetLicenses, License
from commercialization.domain.reports import RoyaltyLedger
from ipshare.envelope import EventCatalog
from ipshare_contracts.commercialization.v1 import events_pb2 as pb

SOURCE = "commercialization"


def build_catalog() -> EventCatalog:
    catalog = EventCatalog(SOURCE)
    catalog.register_all(
        [
            (License.Drafted, pb.LicenseDrafted),
            (License.ConsentRequested, pb.LicenseConsentRequested),
            (License.ConsentGiven, pb.LicenseConsentGiven),
            (License.ConsentRefused, pb.LicenseConsentRefused),
            (License.Granted, pb.LicenseGranted),
            (License.Amended, pb.LicenseAmended),
            (License.AmendmentProposed, pb.LicenseAmendmentProposed),
            (License.AmendmentConsentGiven, pb.LicenseAmendmentConsentGiven),
            (License.AmendmentRefused, pb.LicenseAmendmentRefused),
            (License.MilestoneReported, pb.MilestoneReported),
            (License.Terminated, pb.LicenseTerminated),
            (License.Expired, pb.LicenseExpired),
            (RoyaltyLedger.ReportSubmitted, pb.RoyaltyReportSubmitted),
            (RoyaltyLedger.MinimumTrueUpAssessed, pb.MinimumTrueUpAssessed),
            (LicenseAccount.InvoiceIssued, pb.InvoiceIssued),
            (LicenseAccount.CreditNoteIssued, pb.CreditNoteIssued),
            (LicenseAccount.CreditApplied, pb.CreditApplied),
            (LicenseAccount.PaymentReceived, pb.PaymentReceived),
            (LicenseAccount.RevenueReceived, pb.RevenueReceived),
            (LicenseAccount.RevenueRefunded, pb.RevenueRefunded),
            (Assignment.Proposed, pb.AssignmentProposed),
            (Assignment.ConsentGiven, pb.AssignmentConsentGiven),
            (Assignment.ConsentRefused, pb.AssignmentConsentRefused),
            (Assignment.Agreed, pb.AssignmentAgreed),
            (Assignment.OwnershipTransferRequested, pb.OwnershipTransferRequested),
            (Assignment.OwnershipTransferCompleted, pb.OwnershipTransferCompleted),
            (Assignment.OwnershipTransferRefused, pb.OwnershipTransferRefused),
        ]
    )
    catalog.keep_private(
        [
            AssetLicenses.Started,
            AssetLicenses.Registered,
            AssetLicenses.Released,
            LicenseAccount.Opened,
            RoyaltyLedger.Opened,
        ]
    )
    return catalog
