"""Weekdays and months as people write them in Norwegian (bokmål, nynorsk), English and Danish:
folded words (see `bot.text.normalise` and `tokens.fold_spelling`) to numbers."""

from __future__ import annotations

from collections.abc import Mapping

# 0 = Monday, as `date.weekday()`.
WEEKDAYS: Mapping[str, int] = {
    **dict.fromkeys(("mandag", "mandagen", "monday", "man", "mon"), 0),
    **dict.fromkeys(("tirsdag", "tysdag", "tuesday", "tir", "tirs", "tys", "tue", "tues"), 1),
    **dict.fromkeys(("onsdag", "wednesday", "ons", "wed"), 2),
    **dict.fromkeys(("torsdag", "thursday", "tor", "tors", "thu", "thur", "thurs"), 3),
    **dict.fromkeys(("fredag", "friday", "fre", "fri"), 4),
    **dict.fromkeys(("lordag", "laurdag", "saturday", "lor", "lau", "sat"), 5),
    **dict.fromkeys(("sondag", "sundag", "sunday", "son", "sun"), 6),
}

MONTHS: Mapping[str, int] = {
    **dict.fromkeys(("januar", "january", "jan"), 1),
    **dict.fromkeys(("februar", "february", "feb"), 2),
    **dict.fromkeys(("mars", "march", "marts", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mai", "may", "maj"), 5),
    **dict.fromkeys(("juni", "june", "jun"), 6),
    **dict.fromkeys(("juli", "july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "october", "okt", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("desember", "december", "des", "dec"), 12),
}
