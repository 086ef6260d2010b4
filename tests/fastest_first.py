"""Each mutant's tests fastest first, under `make mutation`.

mutmut runs a mutant's tests with ``-x``: the first failure kills the mutant and ends the
session. It hands them over in no particular order, so a mutant that a 0.1 s test kills
could first sit through minutes of slower tests. With ``XUNCHEN_TEST_DURATIONS`` naming
mutmut's stats file (scripts/mutation.py sets it), the session sorts its tests by the
durations recorded there, fastest first, the unknown ones last. The tests already run in
random order everywhere else (pytest-randomly), so none depends on the order.
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path

VARIABLE = "XUNCHEN_TEST_DURATIONS"


@cache
def _durations(path: str) -> dict[str, float]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["duration_by_test"]


def order(items: list) -> None:
    path = os.environ.get(VARIABLE)
    if not path or not Path(path).exists():
        return
    durations = _durations(path)
    items.sort(key=lambda item: durations.get(item.nodeid, math.inf))
