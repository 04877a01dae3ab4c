"""A payee's statement as a printable PDF (fpdf2, pure Python).

Names and reasons may be Chinese, so the PDF embeds a subset of a TrueType font with
CJK glyphs: CONSOLE_PDF_FONT, else Debian's Droid Sans Fallback (fonts-droid-fallback,
which `make install` adds). Without any such font the PDF is still made, with the core
Helvetica font and every character outside Latin-1 replaced by "?", and it says so on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from console.i18n import Translator

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf"),
)


def cjk_font(configured: str) -> Path | None:
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return next((p for p in FONT_CANDIDATES if p.is_file()), None)


class StatementPdf:
    def __init__(self, font: Path | None, t: Translator) -> None:
        self.pdf = FPDF(format="A4")
        self.t = t
        self.family = "helvetica"
        if font is not None:
            self.pdf.add_font("cjk", fname=str(font))
            self.pdf.add_font("cjk", style="B", fname=str(font))  # table headings: the one weight it has
            self.family = "cjk"
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()

    def text(self, value: str) -> str:
        if self.family == "cjk":
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def line(self, value: str, size: int = 10, height: float = 6) -> None:
        self.pdf.set_font(self.family, size=size)
        self.pdf.multi_cell(0, height, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        self.pdf.set_font(self.family, size=9)
        with self.pdf.table(col_widths=tuple(widths), text_align=("LEFT",) * (len(widths) - 1) + ("RIGHT",),
                            line_height=5.5) as table:  # fmt: skip
            for cells in [header, *rows]:
                row = table.row()
                for cell in cells:
                    row.cell(self.text(cell))

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def statement_pdf(
    statement: Mapping[str, Any], payee_name: str, provisional: bool, font: Path | None,
    t: Translator, money: Callable[[int, str], str], when: Callable[[Any], str],
) -> bytes:  # fmt: skip
    doc = StatementPdf(font, t)
    payee = statement["payee"]
    doc.line(t("Statement of period {period}", period=statement["period_id"]), size=15, height=9)
    account = f" · {payee['account']}" if payee["account"] else ""
    doc.line(f"{t('Payee')}: {payee_name} ({t(payee['kind'])} {payee['id']}{account})")
    status = (
        t("provisional: the period is still open") if provisional else t("issued") + " " + when(statement["closed_at"])
    )
    doc.line(f"{t('Status')}: {status}")
    if font is None:
        doc.line(t("No CJK font was found: characters outside Latin-1 show as ?."), size=8)
    doc.line("")
    rows = [
        [t(line["step"]) + (" · " + t("adjustment") if line["adjustment"] else ""), line["reason"],
         line["policy_version"], money(line["amount"], line["currency"])]
        for line in statement["lines"]
    ]  # fmt: skip
    doc.table([t("Step"), t("Reason"), t("Policy"), t("Amount")], rows, (35, 85, 30, 40))
    doc.line("")
    balance_rows = [[b["currency"], money(b["carried_in"], b["currency"]), money(b["entitled"], b["currency"]),
                     money(b["paid"], b["currency"]), money(b["carried_out"], b["currency"])]
                    for b in statement["balances"]]  # fmt: skip
    doc.table([t("Currency"), t("Carried in"), t("Entitled"), t("Paid"), t("Carried forward")], balance_rows,
              (22, 42, 42, 42, 42))  # fmt: skip
    return doc.output()
