"""The integrations' tests use ``code_nowhere`` (tests/conftest.py): a code is in no
table."""
