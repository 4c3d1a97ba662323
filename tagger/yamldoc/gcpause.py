"""Pause Python's cyclic garbage collector while a large structure is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Past this many new container objects, the collector's first passes over
# them would take a noticeable time (about a second per few million objects).
FREEZE_OVER = 250_000


@contextmanager
def paused_gc(freeze_over: int = FREEZE_OVER) -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block; restore it afterwards.

    Building a large tree of containers (a parsed document, a compiled rule
    set) creates many objects and frees few, which triggers collections that
    each walk the objects made so far. Reference counting still frees
    everything dropped inside the block; only reference cycles made there
    wait for a later collection.

    When the block leaves more than ``freeze_over`` new tracked objects (a
    rule set of tens of thousands of rules), everything alive is handed to
    :func:`gc.freeze` before the collector resumes: otherwise its next passes
    walk all of those objects (measured: seconds for 40,000 rules, and again
    at interpreter exit). Frozen objects are still freed by reference
    counting when dropped (a replaced rule set is: rule sets hold no cycles);
    only a cycle alive at that moment would never be collected.

    Nested use is safe: only the block that disabled the collector restores it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    before = gc.get_count()[0]
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] - before > freeze_over:
                gc.freeze()
            gc.enable()
