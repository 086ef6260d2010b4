"""The old import paths of modules that moved into a package by concern (0.1 → the
layout of ``docs/architecture.rst``), kept working.

``import django_xunchen.rollup`` gives the very module ``django_xunchen.operations.rollup``
(not a copy: patching one patches the other) and a :class:`DeprecationWarning` naming the
new path. Modules that became packages of the same name (``sending``, ``dispatch``,
``polling``, ``verification``, ``policy``, ``campaigns``, ``outcomes``, ``models``) need
no alias: each package's ``__init__`` exports what the module did.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "django_xunchen.admission": "django_xunchen.sending.admission",
    "django_xunchen.bulk": "django_xunchen.sending.bulk",
    "django_xunchen.spool": "django_xunchen.outcomes.spool",
    "django_xunchen.recovery": "django_xunchen.outcomes.recovery",
    "django_xunchen.locks": "django_xunchen.polling.locks",
    "django_xunchen.poll_spool": "django_xunchen.polling.spool",
    "django_xunchen.spreadsheets": "django_xunchen.campaigns.spreadsheets",
    "django_xunchen.rollup": "django_xunchen.operations.rollup",
    "django_xunchen.retention": "django_xunchen.operations.retention",
    "django_xunchen.health": "django_xunchen.operations.health",
    "django_xunchen.checks": "django_xunchen.operations.checks",
}


class _OldPath(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        new = MOVED[module.__name__]
        warnings.warn(
            f"{module.__name__} moved to {new}; import it from there.",
            DeprecationWarning,
            stacklevel=2,
        )
        # The import system returns what sys.modules holds under the name once this
        # returns, so the old name becomes the moved module itself.
        sys.modules[module.__name__] = importlib.import_module(new)


def install() -> None:
    if not any(isinstance(finder, _OldPath) for finder in sys.meta_path):
        sys.meta_path.append(_OldPath())
