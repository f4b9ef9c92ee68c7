"""Name -> object registries that fail loudly (TF Model Garden's rule): registering a name
twice is an error, and an unknown name lists the valid ones. Datasets, models, runners and
the package's named initializers each keep one.

    DATASETS = Registry("dataset")
    @DATASETS.register("mnist")
    def load_mnist(...): ...
"""
from typing import Callable, Dict, Generic, Tuple, Type, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str, unknown_error: Type[Exception] = KeyError):
        self.what = what
        self.unknown_error = unknown_error
        self._items: Dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of add."""
        return lambda item: self.add(name, item)

    def remove(self, name: str) -> T:
        return self._items.pop(name)

    def names(self) -> Tuple[str, ...]:
        return tuple(sorted(self._items))

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def get(self, name: str) -> T:
        if name not in self._items:
            raise self.unknown_error(f"unknown {self.what} {name!r}; valid names: {', '.join(self.names())}")
        return self._items[name]
