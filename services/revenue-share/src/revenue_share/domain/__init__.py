"""Revenue sharing: from the facts other services publish to immutable, reconciled statements.

Pure and deterministic: no I/O, integers in minor units, and the result is a function
of the *set* of facts (business dates and sort keys, never arrival order).

What it knows (`facts`)
    Members (kind, state-established), effective-dated ownership snapshots and inventor
    lists per asset, asset costs (who paid), cash receipts (license, assets, optional
    split across assets, received date) and spin-off equity proceeds due to a member.
    Each fact has the id of its event and `recorded_at`, the time revenue-share learned it.

Policies (`policy`), as data, versioned and effective-dated
    The center-wide policy: recover costs (optionally capped per day's income), the
    operating fee, the researchers' reward by brackets of cumulative income per license,
    the minimum payout. A member's own policy: how it splits its share inside (roles such
    as inventors / department / school; "member" is the member itself), also by brackets.
    Only an admin changes a policy (`PolicyBook.set_*`), every version is kept. For a
    state-established university or institute the researchers must get at least 50% of
    net income (Art. 45): (1 - fee) x (center reward c plus (1 - c) x the member's
    inventors' share); a policy below that is rejected with the smallest inventors' share
    that would do, and every close checks the outcome (`floor`). Bracket thresholds carry
    their currency. Nothing configured: half of each owner's part to its inventors.

The waterfall of one receipt (`waterfall`)
    1. costs of the asset are repaid to the members who paid them, oldest first: by the
       licensee's reimbursements in full, then (if the policy says so) by the income;
    2. the net amount to the co-owners by their ownership share on the received date;
    3. from each co-owner's part, the center's operating fee;
    4. the researchers' reward, paid to that co-owner's inventors by contribution;
    5. the rest by the co-owner's own split; its "inventors" role pays its inventors too.
       A co-owner's inventors are those affiliated with it (all inventors if none is).
    Each step is a largest-remainder split, so the parts sum to the whole exactly. Money
    whose payee is unknown (no owners or inventors in force yet, also a member's inventors'
    part) is held in suspense and released by an adjustment once the fact arrives. Once an asset is assigned out of the
    membership no member owns it: the owners' share of a receipt dated from then on is held
    as unallocated (carried forward, never paid by a close, shown apart in the
    reconciliation), except the sale's own proceeds, which go to the members who sold.

Aggregate before allocating (`computation`)
    Receipts are summed as they arrive into cells (received day, license, currency,
    asset). A pass walks the days in order: it cuts each license's running income at the
    bracket thresholds, recovers costs per asset and day, and sums the net amounts into
    allocation groups: everything that shapes a split (asset, currency, ownership and
    inventor snapshots, policy versions, brackets). Each group is split once per cut-off,
    on its cumulative net amount: what a payee is owed to date is a sum of exact integer
    splits of cumulative totals, and a period pays the difference from what was stated
    before, so rounding never drifts across periods.

Periods and statements (`ledger`, `statements`)
    Closing period k at time t uses the facts recorded up to t:
        regular lines    = entitled(through end_k) - entitled(through end_k-1), both as known at t
        adjustment lines = entitled(through end_k-1) as known at t - as known at the close of k-1
    so late receipts and backdated facts (an ownership transfer, a corrected report)
    never change a closed statement: they appear in the next period, with the late facts
    named in the reason and the sources. Each line names its payee, step, policy
    versions and source event ids. Distribution lines below the minimum payout, or a
    negative balance, carry forward; fees and cost recoveries are settled in full.
    When nothing learned since the last close touches its days, the walk resumes from
    that close's checkpoint instead of starting over.

For finance and auditors
    `reconcile`: per period and currency, receipts + carried in = operating fees + cost
    recoveries + payouts + carried forward, residual exactly zero. `statement_hash`: a
    sha256 over a canonical form; rebuilding the ledger from the same facts in any order
    gives the same hash. `Ledger.as_of(t)`: the ledger with only the facts recorded up to t.
"""

from revenue_share.domain.facts import (
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    MemberKind,
    OwnershipSnapshot,
    Payee,
    PayeeKind,
    Period,
    Step,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import (
    CenterPolicy,
    MemberPolicy,
    PolicyBook,
    ResearcherBracket,
    SplitBracket,
)
from revenue_share.domain.statements import (
    Balance,
    Reconciliation,
    SourceGroup,
    Statement,
    StatementLine,
    statement_hash,
)

__all__ = [
    "AssetCost",
    "Balance",
    "CashReceipt",
    "CenterPolicy",
    "EquityProceeds",
    "InventorShares",
    "Ledger",
    "Member",
    "MemberKind",
    "MemberPolicy",
    "OwnershipSnapshot",
    "Payee",
    "PayeeKind",
    "Period",
    "PolicyBook",
    "Reconciliation",
    "ResearcherBracket",
    "SourceGroup",
    "SplitBracket",
    "Statement",
    "StatementLine",
    "Step",
    "statement_hash",
]
