"""Errors that a binary reports as one line instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input or environment (bad flag, missing file)."""


class DataError(UserError):
    """A dataset file is missing, corrupt or not in the expected format."""
