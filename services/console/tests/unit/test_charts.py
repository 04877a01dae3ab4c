from __future__ import annotations

from console.charts import Bar, Step, bar_chart, waterfall


def test_a_chart_is_an_accessible_svg_with_escaped_labels() -> None:
    svg = str(bar_chart([Bar("<b>Li & Wei</b>", 5, "5"), Bar("Zhang", -2, "-2")], "Shares & options"))
    assert svg.startswith('<svg class="chart bars" role="img"')
    assert "<title>Shares &amp; options</title>" in svg
    assert "&lt;b&gt;Li &amp; Wei&lt;/b&gt;" in svg
    assert "<b>" not in svg
    assert 'class="bar negative"' in svg


def test_a_reconciled_waterfall_comes_back_to_the_zero_line() -> None:
    steps = [
        Step("receipts", 1000, "10.00"),
        Step("payouts", -900, "-9.00"),
        Step("fees", -100, "-1.00"),
        Step("residual", 0, "0.00", total=True),
    ]
    svg = str(waterfall(steps, "reconciliation"))
    assert svg.count('class="bar up"') == 1
    assert svg.count('class="bar down"') == 2
    assert svg.count('class="bar total"') == 1
