"""Errors that are the user's to fix: the CLI prints their message as one line and exits 2."""


class UserError(Exception):
    """Bad arguments or inputs, with a message that says what was wrong."""
