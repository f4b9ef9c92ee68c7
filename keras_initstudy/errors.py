"""Errors that a binary reports as one line instead of a traceback."""
import contextlib
import signal
import sys
import threading
from typing import Iterator, Optional

INTERRUPTED = 130  # the shell's status for a program ended by SIGINT (128 + 2)
# Phrases of file-system failures that TensorFlow's C++ writers (TensorBoard events, tf.io) report in
# their own exception types rather than as OSError.
FILE_SYSTEM_PHRASES = ("No space left on device", "Read-only file system", "Permission denied",
                       "Disk quota exceeded")


class UserError(Exception):
    """A problem with the user's input or environment (bad flag, missing file)."""


class DataError(UserError):
    """A dataset file is missing, corrupt or not in the expected format."""


def describe_os_error(e: OSError) -> str:
    """'cannot write /out/run: Permission denied' (one line, naming the path and the cause)."""
    path = e.filename or ""
    cause = " ".join(str(e.strerror or e).split())
    return f"cannot write {path}: {cause}" if path else cause


def describe_framework_error(e: BaseException) -> Optional[str]:
    """One line for a file-system failure raised by TensorFlow's own writers, else None."""
    if not type(e).__module__.startswith("tensorflow"):
        return None
    message = " ".join(str(getattr(e, "message", e)).split())
    return message if any(phrase in message for phrase in FILE_SYSTEM_PHRASES) else None


@contextlib.contextmanager
def one_line_errors(program: str, resume_hint: str = "") -> Iterator[None]:
    """Bad input, OS errors on the outputs and file-system errors from TensorFlow end the
    program with one line '<program>: error: ...' (status 1); Ctrl-C with
    '<program>: interrupted[; hint]' on a line of its own, status 130."""
    with _ctrl_c_recorded() as ctrl_c:
        try:
            yield
        except KeyboardInterrupt:
            _interrupted(program, resume_hint)
        except Exception as e:  # noqa: BLE001 - only TensorFlow's file-system errors are turned into one line
            if ctrl_c.is_set() or interrupted_while(e):  # first: a Ctrl-C can surface as another error
                _interrupted(program, resume_hint)
            if isinstance(e, UserError):
                sys.exit(f"{program}: error: {e}")
            if isinstance(e, OSError):
                sys.exit(f"{program}: error: {describe_os_error(e)}")
            line = describe_framework_error(e)
            if line is None:
                raise
            sys.exit(f"{program}: error: {line}")


@contextlib.contextmanager
def _ctrl_c_recorded() -> Iterator[threading.Event]:
    """An event set when SIGINT arrives, which still raises KeyboardInterrupt as Python does.
    A KeyboardInterrupt raised inside library code can be swallowed there and come out as
    another error with no trace of it (Keras converting a batch that a tf.data generator left
    as None, say); the event says it was a Ctrl-C all the same. Only the main thread can
    install a handler; elsewhere the event stays unset and the exception chain decides."""
    ctrl_c = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # SIGINT ignored or handled by someone else: leave it
        yield ctrl_c
        return

    def record(signum, frame):
        ctrl_c.set()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, record)
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted_while(e: BaseException) -> bool:
    """Whether `e` was raised while a Ctrl-C was being handled: a KeyboardInterrupt that lands
    inside library code (numpy retrying a conversion, say) can surface as another error."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__context__
    return False


def _interrupted(program: str, resume_hint: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"\n{program}: interrupted" + (f"; {resume_hint}" if resume_hint else "") + "\n")
    sys.stderr.flush()
    sys.exit(INTERRUPTED)
