"""Data-stack headroom for a process's message loop (CPython 3.11 and later).

Since 3.11 CPython keeps frames on a per-thread data stack made of 16 KiB chunks. When a call does not
fit in the current chunk a new chunk is mapped (``mmap``), and when the first frame of that chunk
returns the chunk is unmapped again. A loop whose calls go back and forth across a chunk boundary
therefore pays an ``mmap``, a ``munmap`` and a page fault on every crossing. Where the boundaries fall
depends on the depth the loop runs at, so one more frame anywhere below it can move a process onto
the cliff or off it.

Measured on multiprocTCPBase (``make bench``, group ``metrics``): the counters system's ponger made
6.5 ``mmap``/``munmap`` pairs per message (``strace -c``) and 5 minor faults per message, against 0.4
for the metrics-off system's; forking it 1 to 8 frames deeper changed how often (1.5 to 6.5 faults per
message), not whether. That cost about 60 us of system time per message and put the counters row at
0.74 to 1.09 of metrics off (median 0.870, 26 runs), although both run the same instructions to
within 1 %.

``call_with_headroom`` calls its target under a frame too large for a 16 KiB chunk (``_PAD`` words
of evaluation stack, about 33 KB, never touched), so that frame starts a fresh 64 KiB chunk and
everything the target calls has about 30 KB of stack before the next boundary. The hook starts
Thespian's actor processes this way (a fork inherits its creator's stack, possibly deep in a
handler, so each child takes a fresh chunk), and the Admin, which relays external asks.
Interpreters without a data stack (3.9, 3.10, other implementations) call the target directly.

CPython tracks this as gh-142183 ("Calls across stack chunks perform badly"). Caching one chunk per
thread removed the mapping churn on main (gh-145789, March 2026) and was backported to 3.13
(gh-146123: later 3.13 releases; 3.13.0 still churns); 3.11 and 3.12 keep it. Where it is fixed,
the headroom still keeps the loop off a boundary, where calls also lose specialization (gh-145789's
review).
"""
from __future__ import annotations

import functools
import sys
import types
from typing import Any, Callable, Optional

__all__ = ["call_with_headroom", "with_headroom"]

#: Extra evaluation-stack words of the padding frame: 4,200 words (33.6 KB) do not fit in a 16 KiB
#: chunk, and a chunk is sized to the next power of two of the frame plus CPython's 1,000-word
#: margin: 64 KiB. Stack slots are not initialised when a frame is pushed (locals are), so the frame
#: costs address space in the chunk and no work.
_PAD = 4200

#: CPython 3.11+ only: earlier versions allocate each frame on the heap.
NEEDED = sys.implementation.name == "cpython" and sys.version_info >= (3, 11)

_padded: Optional[Callable[..., Any]] = None


def _call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    return fn(*args, **kwargs)


def _build() -> Callable[..., Any]:
    """``_call`` whose code declares ``_PAD`` more words of evaluation stack than it uses: they only
    size its frame. About 0.03 ms and 0.5 KB, once per process (``_prepare``)."""
    code = _call.__code__
    try:
        padded = types.FunctionType(code.replace(co_stacksize=code.co_stacksize + _PAD),
                                    _call.__globals__, "_call_padded")
    except (TypeError, ValueError):  # pragma: no cover - a code object this version will not take
        return _call
    return padded


def call_with_headroom(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with about 30 KB of data stack before the next chunk boundary."""
    if not NEEDED:
        return fn(*args, **kwargs)
    _prepare()
    return _padded(fn, args, kwargs)  # type: ignore[misc]


def _prepare() -> None:
    """Build the padded function now (in a parent, so that every fork inherits it built)."""
    global _padded
    if NEEDED and _padded is None:
        _padded = _build()


def with_headroom(entry: Callable[..., Any]) -> Callable[..., Any]:
    """``entry`` (a process's target) run through :func:`call_with_headroom`. ``functools.wraps``
    keeps the name, so a ``spawn`` start method still pickles the target by reference. The padded
    function is built here, in the parent, so that every fork inherits it built."""
    _prepare()

    @functools.wraps(entry)
    def start(*args: Any, **kwargs: Any) -> Any:
        return call_with_headroom(entry, *args, **kwargs)

    return start
