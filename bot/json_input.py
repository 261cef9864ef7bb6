"""JSON from outside, read without surprises: anything that is not JSON, nested too deeply included,
is a ValueError (the caller answers 400), never a RecursionError that ends as a 500."""

from __future__ import annotations

import json
from typing import Any


def parse_json(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except RecursionError:  # the decoder's own guard against deep nesting (about 1,000 levels)
        raise ValueError("JSON nested too deeply") from None
