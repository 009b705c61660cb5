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

* ``thespian_metrics``: actor metrics (``thespian_trace.metrics``) recorded in this process during the
  test (``simpleSystemBase``), read by the SDK's in-memory metric reader, as :class:`ThespianMetrics`.

Disable with ``-p no:thespian_trace``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence

import pytest

if TYPE_CHECKING:  # for annotations only: importing these at load time would install the hook
    from thespian_trace.testing import InMemoryTracing, OTLPReceiver, SpanNode, SpanRecord

__all__ = ["ThespianSpans", "thespian_spans", "thespian_otlp_receiver", "ThespianMetrics", "thespian_metrics"]


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


class ThespianMetrics:
    """Actor metrics recorded in this process since the test started (every actor of a
    ``simpleSystemBase`` system; actor processes of the multi-process bases record in their own).

    ``points`` reads the reader afresh on each call: each point is a dict with ``name``,
    ``attributes``, ``value`` (counters, gauges) or ``count`` (the duration histogram) and
    ``exemplar_trace_ids`` (hex; the SDK reports an exemplar in the one collection that follows its
    measurement only, so they are accumulated here over the calls).
    """

    def __init__(self, provider: Any, reader: Any) -> None:
        self.provider = provider
        self.reader = reader
        self._exemplars: Dict[Any, List[str]] = {}

    def points(self, name: Optional[str] = None, actor_class: Optional[str] = None,
               message_type: Optional[str] = None, **attributes: Any) -> List[Dict[str, Any]]:
        """Data points, optionally of one instrument, actor class, message type or other attributes
        (``error_type="ValueError"`` for ``error.type``)."""
        want = dict(attributes)
        if "error_type" in want:
            want["error.type"] = want.pop("error_type")
        if actor_class is not None:
            want["messaging.destination.template"] = actor_class
        if message_type is not None:
            want["messaging.thespian.message.type"] = message_type
        out = []
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for dp in metric.data.data_points:
                        attrs = dict(dp.attributes)
                        seen = self._exemplars.setdefault((metric.name, frozenset(attrs.items())), [])
                        seen.extend("%032x" % e.trace_id for e in getattr(dp, "exemplars", ())
                                    if e.trace_id)
                        if (name is None or metric.name == name) and all(
                                attrs.get(k) == v for k, v in want.items()):
                            out.append({"name": metric.name, "attributes": attrs,
                                        "value": getattr(dp, "value", None),
                                        "count": getattr(dp, "count", None),
                                        "exemplar_trace_ids": list(seen)})
        return out

    def value(self, name: str, actor_class: Optional[str] = None, message_type: Optional[str] = None,
              **attributes: Any) -> int:
        """The sum over the matching points of their value (their count, for the histogram); 0 if none."""
        return sum((p["value"] if p["value"] is not None else p["count"]) or 0
                   for p in self.points(name, actor_class, message_type, **attributes))


@pytest.fixture
def thespian_metrics() -> Iterator[ThespianMetrics]:
    """Actor metrics of this process during the test: a private SDK ``MeterProvider`` with an in-memory
    reader, ``enable_actor_metrics`` on it before the test and off (counts zeroed) after it. Durations
    follow the usual opt-in (``measure_duration``, ``THESPIAN_TRACE_METRICS_DURATION_INCLUDE``)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from thespian_trace import metrics

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.reset_actor_metrics()
    metrics.enable_actor_metrics(provider)
    try:
        yield ThespianMetrics(provider, reader)
    finally:
        metrics.disable_actor_metrics()
        metrics.reset_actor_metrics()
        provider.shutdown()
