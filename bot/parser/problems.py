"""What can be wrong with a command's arguments: the problem keys, and the exception that carries one."""

from __future__ import annotations

PROBLEMS: frozenset[str] = frozenset(
    {
        "too_long",
        "unexpected_text",
        "missing_start",
        "bad_date",
        "date_out_of_range",
        "bad_time",
        "missing_title",
        "unknown_field",
        "bad_duration",
        "bad_url",
        "empty_value",
        "no_changes",
        "missing_id",
        "bad_id",
        "missing_url",
        "bad_rule",
        "missing_identity",
        "bad_identity",
        "bad_address",
        "missing_address",
        "bad_link_kind",
    }
)


class Problem(Exception):
    """Raised inside a command's argument parser; becomes `Invalid` with the command's usage key."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.detail = detail
