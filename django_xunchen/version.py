"""The release, in a module of its own: the protocol client names it in its User-Agent
without importing the Django-facing package."""

__version__ = "0.1.0"
