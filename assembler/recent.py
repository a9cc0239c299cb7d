"""A small cache of the last results of some work, for builds repeated in one process."""

from __future__ import annotations

from collections import OrderedDict


class Recent:
    """The last ``size`` results of some work on file contents, keyed by what the work depends on.

    Builds in one process (diff, redline and variation build two versions;
    watch and editor use build again after each edit; benchmarks) mostly
    read files that have not changed since the last build: their results
    are taken from here instead of being worked out again.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict = OrderedDict()

    def get(self, key, make):
        """The result for ``key``, made by ``make()`` unless it is among the recent ones."""
        try:
            self.items.move_to_end(key)
            return self.items[key]
        except KeyError:
            pass
        value = self.items[key] = make()
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value
