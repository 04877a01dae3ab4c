from __future__ import annotations

import re
import string
from pathlib import Path

from console.catalog_zh import ZH
from console.i18n import Translator, pick_language

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "console"
# A literal phrase passed alone: `_("...")` in templates, `t("...")` / `page.t("...")` in Python.
TEMPLATE_PHRASE = re.compile(r"""_\((["'])((?:(?!\1).)*)\1\s*[,)]""")
PYTHON_PHRASE = re.compile(r"""\bt\((["'])((?:(?!\1).)*)\1\s*[,)]""")


def phrases() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.html"):
        found |= {m.group(2) for m in TEMPLATE_PHRASE.finditer(path.read_text())}
    for path in PACKAGE.rglob("*.py"):
        found |= {m.group(2) for m in PYTHON_PHRASE.finditer(path.read_text())}
    return found


def test_every_phrase_of_the_console_has_its_chinese() -> None:
    found = phrases()
    assert len(found) > 200  # the pattern still finds the phrases
    assert sorted(found - set(ZH)) == []


def test_a_translation_keeps_the_placeholders_of_its_phrase() -> None:
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert [k for k, v in ZH.items() if fields(k) != fields(v)] == []


def test_the_domain_terms_are_those_of_the_domain_brief() -> None:
    zh = Translator("zh")
    assert zh("Spin-offs") == "孵化企业"
    assert zh("capital_contribution") == "作价投资"
    assert zh("Seed project") == "种子项目"
    assert (
        zh("Period {period} is closed; its statements are issued.", period="2026")
        == "结算期 2026 已关账，结算单已出具。"
    )
    assert Translator("en")("Spin-offs") == "Spin-offs"


def test_the_language_is_the_users_choice_else_their_browsers() -> None:
    assert pick_language("en", "zh-CN,zh;q=0.9") == "en"
    assert pick_language(None, "en-US,en;q=0.9") == "en"
    assert pick_language(None, "zh-CN") == "zh"
    assert pick_language("fr", "fr-FR") == "zh"


def test_the_services_values_read_as_words_in_english() -> None:
    en = Translator("en")
    assert en("invention_patent") == "invention patent"
    assert en("bucket 90+") == "over 90 days overdue"
    assert en("filed") == "filed"
    assert en("Type the period's id to confirm") == "Type the period's id to confirm"
