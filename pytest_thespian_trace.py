"""pytest plugin of thespian-trace: fixtures that collect the spans of your actors' tests.

Installed with the distribution and registered under the ``pytest11`` entry point, so a project that
installs ``thespian-trace`` (with the ``otlp`` extra, whose SDK and exporter the fixtures use) can ask
for these fixtures without a conftest. Loading the plugin imports nothing but pytest: ``thespian_trace``
(whose import installs the receive hook) and the OpenTelemetry SDK are imported only when a test first
uses one of the fixtures.

* ``thespian_spans``: spans that end in this process during the test (``simpleSystemBase``), as
  :class:`ThespianSpans`: ``records()`` and the trace-shape helpers of ``thespian_trace.testing``.
* ``thespian_otlp_receiver``: a loopback OTLP/HTTP receiver (``thespian_trace.testing.OTLPReceiver``)
  that spans of this process and of actor processes forked from it reach (``multiprocQueueBase``,
  ``multiprocTCPBase``); emptied before and after each test.

Disable with ``-p no:thespian_trace``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence

import pytest

if TYPE_CHECKING:  # for annotations only: importing these at load time would install the hook
    from thespian_trace.testing import InMemoryTracing, OTLPReceiver, SpanNode, SpanRecord

__all__ = ["ThespianSpans", "thespian_spans", "thespian_otlp_receiver"]


def _testing() -> Any:
    """``thespian_trace.testing``, imported on first use (it imports ``thespian_trace`` itself)."""
    from thespian_trace import testing

    return testing


class ThespianSpans:
    """The spans that ended in this process since the test started, with the trace-shape helpers.

    Each helper is the function of the same name in ``thespian_trace.testing`` applied to
    :meth:`records`; the assertions raise ``AssertionError`` with the rendered trace tree.
    """

    def __init__(self, tracing: "InMemoryTracing") -> None:
        self.tracing = tracing

    def records(self) -> "List[SpanRecord]":
        """Finished spans so far, in the order they ended."""
        return self.tracing.records()

    def clear(self) -> None:
        """Forget the spans collected so far."""
        self.tracing.clear()

    def set_sampler(self, sampler: Any = None) -> None:
        """Swap the SDK sampler for the rest of the test (``None``: ``ParentBased(ALWAYS_ON)``)."""
        self.tracing.set_sampler(sampler)

    def build_trees(self) -> "Dict[str, List[SpanNode]]":
        return _testing().build_trees(self.records())

    def format_tree(self, max_attrs: int = 4, max_lines: Optional[int] = None) -> str:
        return _testing().format_tree(self.records(), max_attrs=max_attrs, max_lines=max_lines)

    def assert_single_trace(self) -> str:
        """All spans form one trace with exactly one root; returns its trace id."""
        return _testing().assert_single_trace(self.records())

    def assert_chain(self, names: Sequence[str]) -> "List[SpanRecord]":
        """A parent->child path with exactly these span names exists; returns its spans."""
        return _testing().assert_chain(self.records(), names)

    def children_of(self, record: "SpanRecord") -> "List[SpanRecord]":
        return _testing().children_of(self.records(), record)

    def spans_named(self, name: str) -> "List[SpanRecord]":
        return _testing().spans_named(self.records(), name)


@pytest.fixture
def thespian_spans() -> Iterator[ThespianSpans]:
    """Spans ended in this process during the test, collected by an in-memory SDK exporter.

    Installs the OpenTelemetry SDK ``TracerProvider`` if none is set (or reuses the SDK provider that
    is). Spans of forked actor processes do not reach it: use ``thespian_otlp_receiver`` for those.
    After the test the spans are dropped and the sampler is back to ``ParentBased(ALWAYS_ON)``.
    """
    tracing = _testing().InMemoryTracing()
    try:
        yield ThespianSpans(tracing)
    finally:
        tracing.clear()
        tracing.close()


@pytest.fixture(scope="session")
def _thespian_otlp_export() -> "Iterator[OTLPReceiver]":
    """One receiver per session, and this process exporting to it (the SDK cannot remove an exporter,
    so one per test would pile up); actor processes forked later inherit the exporter."""
    testing = _testing()
    receiver = testing.OTLPReceiver().start()
    try:
        testing.configure_otlp_export(receiver)
        yield receiver
    finally:
        testing.force_flush()
        receiver.stop()


@pytest.fixture
def thespian_otlp_receiver(_thespian_otlp_export: "OTLPReceiver") -> "Iterator[OTLPReceiver]":
    """A loopback OTLP/HTTP receiver that every span of this test reaches, from any process.

    This process exports to it (installing the SDK provider if none is set) before the test starts,
    so create the ``ActorSystem`` inside the test: its forked actor processes inherit the exporter.
    Spans arrive in batches, so read them with ``wait_for(predicate)``. Emptied before and after the
    test; an actor process the previous test left running could still send it a late span.
    """
    testing = _testing()
    testing.force_flush()
    _thespian_otlp_export.clear()
    try:
        yield _thespian_otlp_export
    finally:
        testing.force_flush()
        _thespian_otlp_export.clear()
