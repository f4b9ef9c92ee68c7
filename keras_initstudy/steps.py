"""Points in training: the Step type (open_lth's `Step`: "500it", "2ep", "2ep100it").

A Step is an optimizer-update count, the only clock that means the same thing in
every run: "500it" is the state after exactly 500 updates; "2ep" the state after
two full passes (2 x steps_per_epoch updates). Config fields hold the text form;
a run resolves it once it knows its steps per epoch. A bare integer means epochs,
so older flag values ("--lr_boundaries=60,120") keep their meaning.
"""
import dataclasses
import re

_PATTERN = re.compile(r"^(?:(\d+)ep)?(?:(\d+)it)?$")


def check_text(text: str) -> None:
    """Raises ValueError unless `text` is a step: N, Nep, Nit or NepMit."""
    text = text.strip()
    if text.isdigit():
        return
    match = _PATTERN.match(text)
    if not text or match is None or (match.group(1) is None and match.group(2) is None):
        raise ValueError(f"{text!r} is not a step (examples: 500it, 2ep, 2ep100it, or 2 for 2 epochs)")


def is_step_text(text: str) -> bool:
    try:
        check_text(text)
        return True
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True, order=True)
class Step:
    """The state after `iteration` optimizer updates, in a run of `steps_per_epoch` batches per epoch."""

    iteration: int
    steps_per_epoch: int = dataclasses.field(compare=False)

    def __post_init__(self):
        if self.iteration < 0 or self.steps_per_epoch < 1:
            raise ValueError(f"bad step: iteration {self.iteration}, steps per epoch {self.steps_per_epoch}")

    @classmethod
    def parse(cls, text: str, steps_per_epoch: int) -> "Step":
        """'500it' -> 500 updates; '2ep' -> 2 * steps_per_epoch; '2ep100it'; '2' -> 2 epochs."""
        check_text(text)
        text = text.strip()
        if text.isdigit():
            return cls.from_epochs(int(text), steps_per_epoch)
        epochs, its = _PATTERN.match(text).groups()
        return cls(int(epochs or 0) * steps_per_epoch + int(its or 0), steps_per_epoch)

    @classmethod
    def from_epochs(cls, epochs: int, steps_per_epoch: int) -> "Step":
        return cls(epochs * steps_per_epoch, steps_per_epoch)

    @property
    def epoch(self) -> int:
        """Epochs completed at this step."""
        return self.iteration // self.steps_per_epoch

    @property
    def within_epoch(self) -> int:
        """Updates made in the epoch under way (0 at an epoch boundary)."""
        return self.iteration % self.steps_per_epoch

    @property
    def at_epoch_end(self) -> bool:
        return self.within_epoch == 0

    def __str__(self) -> str:
        if self.at_epoch_end:
            return f"{self.epoch}ep"
        return f"{self.epoch}ep{self.within_epoch}it" if self.epoch else f"{self.within_epoch}it"

    def __add__(self, iterations: int) -> "Step":
        return Step(self.iteration + iterations, self.steps_per_epoch)


def parse_list(text: str, steps_per_epoch: int):
    """Steps from comma-separated text ('' -> []), sorted and without repeats."""
    found = {Step.parse(part, steps_per_epoch) for part in text.split(",") if part.strip()}
    return sorted(found)


def check_list(text: str) -> None:
    for part in text.split(","):
        if part.strip():
            check_text(part)
