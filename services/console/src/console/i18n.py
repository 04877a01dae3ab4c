"""The console in English and Simplified Chinese.

Templates write English text and `_()` looks up its Chinese; the Chinese terms follow
the domain's own (协同创造, 收益共享, 孵化企业, 种子项目融资, 结算期 ...). A phrase with
no Chinese shows in English; a unit test keeps every phrase the templates use translated.
"""

from __future__ import annotations

import re
from typing import Any

from console.catalog_zh import ZH

# The services' values (`invention_patent`, `bucket 90+`) read as words in English too.
EN = {
    "bucket current": "not yet due", "bucket 30": "1–30 days overdue", "bucket 60": "31–60 days overdue",
    "bucket 90+": "over 90 days overdue", "action evidence": "evidence submitted",
    "action approve": "milestone approved", "action reject": "milestone rejected", "action release": "tranche released",
    "ip-registry": "IP registry",
    "revenue-share": "revenue share", "ic_layout_design": "IC layout design", "know_how": "know-how",
    "assigned_out": "assigned out of the membership", "seed_fund": "seed fund",
}  # fmt: skip
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "zh"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def __call__(self, text: str, **values: Any) -> str:
        if self.lang == "zh":
            phrase = ZH.get(text, text)
        else:
            phrase = EN.get(text) or (text.replace("_", " ") if IDENTIFIER.match(text) else text)
        return phrase.format(**values) if values else phrase


def pick_language(chosen: str | None, accept_language: str) -> str:
    """The language the user switched to, else the first of theirs the console speaks."""
    if chosen in LANGUAGES:
        return chosen
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
