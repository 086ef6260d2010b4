import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django_xunchen import __version__  # noqa: E402

project = "django-xunchen"
author = "django-xunchen contributors"
copyright = "2026, django-xunchen contributors"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
intersphinx_mapping = {}
html_theme = "furo"
html_title = f"django-xunchen {release}"
html_static_path = ["_static"]
exclude_patterns = ["_build"]
language = "en"
