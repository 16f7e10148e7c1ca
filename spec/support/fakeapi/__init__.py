"""The fake AI/ML API behind spec/support/server.py (its docstring says what
it serves and how to run it)."""
