"""Errors that a binary reports as one line instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input or environment (bad flag, missing file)."""


class DataError(UserError):
    """A dataset file is missing, corrupt or not in the expected format."""


def describe_os_error(e: OSError) -> str:
    """'cannot write /out/run: Permission denied' (one line, naming the path and the cause)."""
    path = e.filename or ""
    return f"cannot write {path}: {e.strerror or e}" if path else f"{e.strerror or e}"
