"""Use cases of commercialization, one module per bounded part of the service.

- `licensing`: licenses from draft to grant, consent, amendment, termination and expiry
- `royalties`: what licensees report (royalty reports, CSV uploads, milestones, sublicense
  income) and the minimum true-up
- `billing`: invoices finance raises, payments and receipts, accounts and receivables
- `assignments`: sales of assets and the share transfers they ask of the IP registry

Each part is a `DealStore` (the eventsourcing application over the service's one event
store, in `store`) with its own use cases: one method each, context first, one `record`
(one transaction) per call. Entrypoints depend on the part they call. The running service
is one application of all four, so one store, one notification log and one set of
listeners serve them all.
"""

from __future__ import annotations

from commercialization.application.assignments import Assignments
from commercialization.application.billing import Billing
from commercialization.application.licensing import Licensing
from commercialization.application.royalties import Royalties


class CommercializationApplication(Licensing, Royalties, Billing, Assignments):
    """The service's application: every part over one store, as the runtime starts, relays and closes it."""


__all__ = ["Assignments", "Billing", "CommercializationApplication", "Licensing", "Royalties"]
