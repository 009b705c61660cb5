"""Test and demo helpers for collecting and asserting traces.

This module is for tests, examples and demos only; the package ``__init__`` never imports it.
Unlike the rest of ``thespian_trace`` it uses the OpenTelemetry SDK, the OTLP/HTTP exporter and
``opentelemetry-proto``, always imported lazily inside the functions that need them, so that merely
importing this module needs nothing beyond the standard library.

Three pieces:

* :class:`SpanRecord`: one plain, frozen record type for a finished span, built either from an OTLP
  protobuf span (:meth:`SpanRecord.from_otlp`, used by the receiver) or from an SDK ``ReadableSpan``
  (:meth:`SpanRecord.from_sdk`, used by the in-memory exporter), so tests assert the same way whether
  the actor system runs in-process (``simpleSystemBase``) or forks children (``multiprocTCPBase``...).
* Collectors: :class:`OTLPReceiver` (a real OTLP/HTTP receiver on loopback; spans exported from forked
  actor processes reach it through the real ``OTLPSpanExporter``), :class:`InMemoryTracing` (SDK
  provider + in-memory exporter for in-process tests, with a run-time swappable sampler) and
  :func:`configure_otlp_export` (install an OTLP batch exporter in the parent before actor processes
  fork, so children inherit it).
* Trace-shape assertions: :func:`build_trees`, :func:`format_tree`, :func:`assert_single_trace`,
  :func:`assert_chain`, :func:`children_of`, :func:`spans_named`.
* Unit tests that mock ``send``: :func:`sent_messages` and :func:`unwrap` (a mocked ``send`` receives an
  ``Envelope`` whenever a sampled span is active, exactly what Thespian would have sent).

Typical multi-process use::

    with OTLPReceiver() as rx:
        configure_otlp_export(rx)            # before ActorSystem(...) forks its children
        asys = ActorSystem("multiprocTCPBase")
        ...
        spans = rx.wait_for(lambda s: assert_chain(s, ["ask", "Guild", "Member"]))
        assert_single_trace(spans)

The assertion helpers return something truthy on success and raise ``AssertionError`` on failure, so
they can be passed straight to :meth:`OTLPReceiver.wait_for` as predicates (an ``AssertionError`` from
a predicate means "not yet"; its last message is reported on timeout).
"""

import gzip
import http.server
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "SpanRecord",
    "SpanNode",
    "OTLPReceiver",
    "InMemoryTracing",
    "SwappableSampler",
    "set_sampler",
    "configure_otlp_export",
    "force_flush",
    "records_from_otlp_request",
    "build_trees",
    "format_tree",
    "assert_single_trace",
    "assert_chain",
    "children_of",
    "spans_named",
    "unwrap",
    "sent_messages",
    "otlp_receiver_fixture",
    "in_memory_tracing_fixture",
]

_OTLP_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_OTLP_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


# --------------------------------------------------------------------------------------------------
# SpanRecord


def _py_value(value: Any) -> Any:
    """SDK attribute value -> plain Python (sequences become tuples)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_py_value(v) for v in value)
    return value


def _py_attrs(attrs: Any) -> Dict[str, Any]:
    if not attrs:
        return {}
    return {str(k): _py_value(v) for k, v in dict(attrs).items()}


def _any_value(av: Any) -> Any:
    """OTLP ``AnyValue`` -> plain Python."""
    which = av.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_any_value(v) for v in av.array_value.values)
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in av.kvlist_value.values}
    return getattr(av, which)


def _kv_attrs(kvs: Iterable[Any]) -> Dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class SpanRecord:
    """A finished span as plain data, the same whichever collector produced it.

    Ids are lowercase hex strings (32 chars for trace ids, 16 for span ids); ``parent_span_id`` is
    ``None`` for a root. ``kind`` is one of INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER; ``status``
    one of UNSET, OK, ERROR. ``events`` is a tuple of ``(name, attributes)``; ``links`` a tuple of
    ``(trace_id, span_id)``. Hashable by ``(trace_id, span_id)``.
    """

    name: str
    trace_id: str
    span_id: str
    parent_span_id: Optional[str] = None
    kind: str = "INTERNAL"
    attributes: Dict[str, Any] = field(default_factory=dict)
    status: str = "UNSET"
    status_description: Optional[str] = None
    events: Tuple[Tuple[str, Dict[str, Any]], ...] = ()
    start_ns: int = 0
    end_ns: Optional[int] = None
    resource: Dict[str, Any] = field(default_factory=dict)
    links: Tuple[Tuple[str, str], ...] = ()
    scope: str = ""  # instrumentation scope (tracer) name

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id))

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None

    @property
    def duration_ns(self) -> Optional[int]:
        return None if self.end_ns is None else self.end_ns - self.start_ns

    def event_names(self) -> List[str]:
        return [name for name, _ in self.events]

    @classmethod
    def from_sdk(cls, span: Any) -> "SpanRecord":
        """Build from an ``opentelemetry.sdk.trace.ReadableSpan``."""
        ctx = span.context
        parent = span.parent
        status = span.status
        scope = getattr(span, "instrumentation_scope", None)
        resource = getattr(span, "resource", None)
        return cls(
            name=span.name,
            trace_id=format(ctx.trace_id, "032x"),
            span_id=format(ctx.span_id, "016x"),
            parent_span_id=None if parent is None else format(parent.span_id, "016x"),
            kind=span.kind.name,
            attributes=_py_attrs(span.attributes),
            status=status.status_code.name,
            status_description=status.description or None,
            events=tuple((ev.name, _py_attrs(ev.attributes)) for ev in (span.events or ())),
            start_ns=span.start_time or 0,
            end_ns=span.end_time,
            resource=_py_attrs(resource.attributes) if resource is not None else {},
            links=tuple(
                (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x"))
                for link in (span.links or ())
            ),
            scope=scope.name if scope is not None else "",
        )

    @classmethod
    def from_otlp(
        cls, span: Any, resource: Optional[Dict[str, Any]] = None, scope: str = ""
    ) -> "SpanRecord":
        """Build from an OTLP protobuf ``opentelemetry.proto.trace.v1.trace_pb2.Span``."""
        return cls(
            name=span.name,
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_span_id=span.parent_span_id.hex() or None,
            kind=_OTLP_KINDS.get(span.kind, "INTERNAL"),
            attributes=_kv_attrs(span.attributes),
            status=_OTLP_STATUS.get(span.status.code, "UNSET"),
            status_description=span.status.message or None,
            events=tuple((ev.name, _kv_attrs(ev.attributes)) for ev in span.events),
            start_ns=span.start_time_unix_nano,
            end_ns=span.end_time_unix_nano or None,
            resource=dict(resource or {}),
            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
            scope=scope,
        )


def records_from_otlp_request(request: Any) -> List[SpanRecord]:
    """All spans of an ``ExportTraceServiceRequest`` (protobuf message or its serialized bytes)."""
    if isinstance(request, (bytes, bytearray, memoryview)):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        msg = ExportTraceServiceRequest()
        msg.ParseFromString(bytes(request))
        request = msg
    out = []
    for rs in request.resource_spans:
        resource = _kv_attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope.name
            for span in ss.spans:
                out.append(SpanRecord.from_otlp(span, resource, scope))
    return out


# --------------------------------------------------------------------------------------------------
# OTLP/HTTP receiver


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection. Deliberate: a keep-alive connection pooled by the exporter
    # in the parent would be inherited by forked actor processes, and two processes writing to one
    # socket corrupt each other's requests.
    protocol_version = "HTTP/1.0"
    timeout = 30
    server: "_ReceiverServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def _reply(self, code: int, body: bytes = b"", ctype: str = "application/x-protobuf") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        receiver = self.server.receiver
        path = self.path.split("?", 1)[0]
        if path.rstrip("/") != "/v1/traces":
            receiver._note_error("404 for POST %s" % self.path)
            self._reply(404, b"not found", "text/plain")
            return
        try:
            body = self._read_body()
        except (ValueError, OSError) as exc:
            receiver._note_error("unreadable body: %r" % (exc,))
            self._reply(400, b"bad body", "text/plain")
            return
        ctype = self.headers.get("Content-Type", "application/x-protobuf").split(";")[0].strip()
        if ctype not in ("application/x-protobuf", "application/protobuf", ""):
            receiver._note_error("unsupported Content-Type %r" % ctype)
            self._reply(415, b"only application/x-protobuf is supported", "text/plain")
            return
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif encoding not in ("", "identity"):
                raise ValueError("unsupported Content-Encoding %r" % encoding)
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
                ExportTraceServiceResponse,
            )

            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            records = records_from_otlp_request(request)
        except Exception as exc:  # decode failure: tell the client, remember it for diagnostics
            receiver._note_error("undecodable request (%s): %r" % (encoding or "identity", exc))
            self._reply(400, str(exc).encode("utf-8", "replace"), "text/plain")
            return
        receiver._add(records, encoding or "identity")
        self._reply(200, ExportTraceServiceResponse().SerializeToString())

    def do_GET(self) -> None:  # noqa: N802 - a cheap liveness probe
        self._reply(200, b"thespian_trace.testing.OTLPReceiver\n", "text/plain")


class _ReceiverServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: "OTLPReceiver"


class OTLPReceiver:
    """A real OTLP/HTTP trace receiver on loopback (protobuf bodies, optional gzip/deflate).

    ``with OTLPReceiver() as rx:`` or ``rx = OTLPReceiver().start(); ...; rx.stop()``.
    Point an ``OTLPSpanExporter(endpoint=rx.traces_endpoint)`` at it (or :func:`configure_otlp_export`).
    All methods are thread-safe.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._cond = threading.Condition()
        self._spans: List[SpanRecord] = []
        self._server: Optional[_ReceiverServer] = None
        self._thread: Optional[threading.Thread] = None
        self.request_count = 0  # successfully decoded export requests
        self.encodings: List[str] = []  # Content-Encoding of each decoded request ("identity", "gzip"...)
        self.errors: List[str] = []  # rejected requests, for diagnostics

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "OTLPReceiver":
        if self._server is not None:
            return self
        server = _ReceiverServer((self._host, self._port), _ReceiverHandler)
        server.receiver = self
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="OTLPReceiver-%d" % server.server_address[1],
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "OTLPReceiver":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OTLPReceiver is not running; call start() or use it as a context manager")
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (for ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return "http://%s:%d" % (self._host, self.port)

    @property
    def traces_endpoint(self) -> str:
        """Full traces URL, e.g. ``http://127.0.0.1:40123/v1/traces`` (for ``OTLPSpanExporter``)."""
        return self.endpoint + "/v1/traces"

    # data ----------------------------------------------------------------------------------------
    def _add(self, records: List[SpanRecord], encoding: str) -> None:
        with self._cond:
            self._spans.extend(records)
            self.request_count += 1
            self.encodings.append(encoding)
            self._cond.notify_all()

    def _note_error(self, message: str) -> None:
        with self._cond:
            self.errors.append(message)
            self._cond.notify_all()

    def spans(self) -> List[SpanRecord]:
        """A copy of all spans received so far, in arrival order."""
        with self._cond:
            return list(self._spans)

    def clear(self) -> None:
        with self._cond:
            self._spans.clear()
            self.request_count = 0
            self.encodings.clear()
            self.errors.clear()

    def wait_for(
        self,
        predicate: Optional[Callable[[List[SpanRecord]], Any]] = None,
        count: Optional[int] = None,
        timeout: float = 10.0,
    ) -> List[SpanRecord]:
        """Block until at least ``count`` spans arrived and/or ``predicate(spans)`` is truthy.

        With neither given, waits for at least one span. With both, both must hold. A predicate that
        raises ``AssertionError`` counts as "not yet" (so the assertion helpers of this module can be
        passed directly). Returns the spans (a copy). Raises ``TimeoutError`` describing what arrived.
        """
        if predicate is None and count is None:
            count = 1
        deadline = time.monotonic() + timeout
        last_assertion: Optional[str] = None
        with self._cond:
            while True:
                spans = list(self._spans)
                ok = count is None or len(spans) >= count
                if ok and predicate is not None:
                    try:
                        ok = bool(predicate(spans))
                    except AssertionError as exc:
                        ok, last_assertion = False, str(exc)
                if ok:
                    return spans
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.25))
            wanted = []
            if count is not None:
                wanted.append("%d span(s)" % count)
            if predicate is not None:
                wanted.append("predicate %s" % getattr(predicate, "__name__", repr(predicate)))
            lines = [
                "OTLPReceiver at %s: timed out after %.1fs waiting for %s; have %d span(s) from %d request(s)"
                % (self.traces_endpoint if self.running else "(stopped)", timeout, " and ".join(wanted),
                   len(spans), self.request_count)
            ]
            if last_assertion:
                lines.append("last predicate assertion: " + last_assertion)
            if self.errors:
                lines.append("rejected requests: " + "; ".join(self.errors[-5:]))
            if spans:
                lines.append(format_tree(spans, max_lines=60))
        raise TimeoutError("\n".join(lines))


# --------------------------------------------------------------------------------------------------
# SDK installation: swappable sampler, in-memory exporter, OTLP export


def _swappable_sampler_class() -> type:
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

    class SwappableSampler(Sampler):
        """Delegates to a target sampler that can be replaced at run time (``set_target``).

        Installed as the provider's sampler so tests can change sampling after
        ``trace.set_tracer_provider`` (which can only be called once per process).
        Default target: ``ParentBased(ALWAYS_ON)``.
        """

        def __init__(self, target: Optional[Sampler] = None) -> None:
            self._target = target if target is not None else ParentBased(ALWAYS_ON)

        @property
        def target(self) -> Sampler:
            return self._target

        def set_target(self, target: Optional[Sampler]) -> None:
            self._target = target if target is not None else ParentBased(ALWAYS_ON)

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                          links=None, trace_state=None):
            return self._target.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return "SwappableSampler{%s}" % self._target.get_description()

    return SwappableSampler


_sampler_cls: Optional[type] = None
_install_lock = threading.RLock()


def __getattr__(name: str) -> Any:  # PEP 562: lazy ``SwappableSampler`` (needs the SDK)
    if name == "SwappableSampler":
        return _get_swappable_sampler_class()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _get_swappable_sampler_class() -> type:
    global _sampler_cls
    if _sampler_cls is None:
        _sampler_cls = _swappable_sampler_class()
    return _sampler_cls


def _ensure_sdk_provider(resource_attrs: Optional[Dict[str, Any]] = None) -> Any:
    """The global SDK ``TracerProvider``, installing one (with a swappable sampler) if none is set.

    If an SDK provider is already installed, it is reused; if its sampler is not swappable it is
    wrapped in place (affects tracers obtained afterwards; tracers fetched earlier keep the old one).
    """
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    swappable = _get_swappable_sampler_class()
    with _install_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            if not isinstance(current.sampler, swappable):
                current.sampler = swappable(current.sampler)
            if resource_attrs:
                have = dict(current.resource.attributes)
                if any(have.get(k) != v for k, v in resource_attrs.items()):
                    import warnings

                    warnings.warn(
                        "an SDK TracerProvider is already installed; resource_attrs %r are ignored "
                        "(install the exporter before anything else sets the provider)" % (resource_attrs,),
                        stacklevel=3,
                    )
            return current
        if type(current).__name__ != "ProxyTracerProvider":
            raise RuntimeError(
                "a non-SDK tracer provider (%s) is installed globally; thespian_trace.testing needs the "
                "OpenTelemetry SDK TracerProvider" % type(current).__name__
            )
        attrs = {"service.name": "thespian-trace-test"}
        attrs.update(resource_attrs or {})
        provider = TracerProvider(sampler=swappable(), resource=Resource.create(attrs))
        trace.set_tracer_provider(provider)
        installed = trace.get_tracer_provider()
        if installed is not provider and isinstance(installed, TracerProvider):  # lost a race
            return _ensure_sdk_provider(resource_attrs)
        return installed


def set_sampler(sampler: Any = None) -> None:
    """Swap the sampler of the global SDK provider (installing one if needed).

    ``None`` restores the default ``ParentBased(ALWAYS_ON)``. Takes effect immediately for every
    tracer created after the provider was installed by this module.
    """
    provider = _ensure_sdk_provider()
    provider.sampler.set_target(sampler)


def force_flush(timeout_millis: int = 5000) -> bool:
    """Flush the global SDK provider's processors (e.g. in a forked actor before it exits, since
    ``multiprocessing`` children leave with ``os._exit`` and skip the SDK's atexit shutdown)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    return bool(flush(timeout_millis)) if flush is not None else True


class _FanoutExporter:
    """One SpanExporter installed once; forwards to the currently open InMemoryTracing instances.

    The SDK cannot remove a span processor, so instead of adding one per instance (and leaking
    them across tests) a single processor forwards to a changeable set of in-memory exporters.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: List[Any] = []

    def add(self, exporter: Any) -> None:
        with self._lock:
            self._targets.append(exporter)

    def remove(self, exporter: Any) -> None:
        with self._lock:
            if exporter in self._targets:
                self._targets.remove(exporter)

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self._lock:
            targets = list(self._targets)
        for target in targets:
            target.export(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_fanout: Optional[_FanoutExporter] = None


def _get_fanout() -> _FanoutExporter:
    global _fanout
    with _install_lock:
        if _fanout is None:
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            provider = _ensure_sdk_provider()
            fanout = _FanoutExporter()
            provider.add_span_processor(SimpleSpanProcessor(fanout))  # type: ignore[arg-type]
            _fanout = fanout
        return _fanout


class InMemoryTracing:
    """In-process span collection through the global SDK provider.

    Installs (once per process) an SDK ``TracerProvider`` with a :class:`SwappableSampler` as the global
    provider, or reuses an SDK provider that is already installed, and collects every span that ends
    while this instance is open with a ``SimpleSpanProcessor`` into an ``InMemorySpanExporter``.
    Spans ended in forked child processes are NOT seen here: use :class:`OTLPReceiver` for those.
    """

    def __init__(self, sampler: Any = None, resource_attrs: Optional[Dict[str, Any]] = None) -> None:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.provider = _ensure_sdk_provider(resource_attrs)
        self.exporter = InMemorySpanExporter()
        self._open = True
        _get_fanout().add(self.exporter)
        if sampler is not None:
            self.set_sampler(sampler)

    def tracer(self, name: str = "thespian_trace.testing") -> Any:
        return self.provider.get_tracer(name)

    def records(self) -> List[SpanRecord]:
        """Finished spans collected so far, in end order, as :class:`SpanRecord`."""
        return [SpanRecord.from_sdk(s) for s in self.exporter.get_finished_spans()]

    def clear(self) -> None:
        self.exporter.clear()

    def set_sampler(self, sampler: Any = None) -> None:
        """Process-wide: see :func:`set_sampler`. ``None`` restores ``ParentBased(ALWAYS_ON)``."""
        set_sampler(sampler)

    def close(self) -> None:
        """Stop collecting (the provider stays installed; the sampler is reset to the default)."""
        if self._open:
            self._open = False
            _get_fanout().remove(self.exporter)
            set_sampler(None)

    def __enter__(self) -> "InMemoryTracing":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def configure_otlp_export(
    endpoint: Union[str, OTLPReceiver],
    *,
    resource_attrs: Optional[Dict[str, Any]] = None,
    batch: bool = True,
    schedule_delay_millis: int = 100,
    compression: Optional[str] = None,
    flush_on_child_exit_millis: Optional[int] = 3000,
) -> Any:
    """Export spans of this process (and of processes forked from it later) over OTLP/HTTP.

    ``endpoint`` is a base URL, a full ``.../v1/traces`` URL or an :class:`OTLPReceiver`. Installs the
    global SDK provider if none is set (with ``resource_attrs`` on its resource) or adds to the existing
    one. ``batch=True`` uses a ``BatchSpanProcessor`` with a short schedule delay (the SDK re-creates its
    worker thread in forked children); ``batch=False`` exports each span synchronously.
    ``compression``: None, "gzip" or "deflate". Returns the span processor (``force_flush``/``shutdown``).

    ``multiprocessing`` children (Thespian's actor processes) leave through ``os._exit`` and never run
    the SDK's atexit shutdown, so spans ended shortly before an actor exits would be lost. Unless
    ``flush_on_child_exit_millis`` is None, each such child flushes this processor on its way out (a
    ``multiprocessing.util.Finalize`` registered after fork); bare ``os.fork`` children must call
    :func:`force_flush` themselves.
    """
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    url = endpoint.traces_endpoint if isinstance(endpoint, OTLPReceiver) else str(endpoint).rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    from .forksafe import ForkSafeSession  # fresh pools in forked actors, no keep-alive (forksafe.py)
    session = ForkSafeSession()
    exporter = OTLPSpanExporter(
        endpoint=url,
        session=session,
        compression=Compression(compression) if compression else Compression.NoCompression,
        timeout=5,
    )
    if batch:
        processor = BatchSpanProcessor(exporter, schedule_delay_millis=schedule_delay_millis)
    else:
        processor = SimpleSpanProcessor(exporter)
    _ensure_sdk_provider(resource_attrs).add_span_processor(processor)
    if flush_on_child_exit_millis is not None:
        import multiprocessing.util as mp_util

        processor._thespian_trace_flush_millis = flush_on_child_exit_millis
        mp_util.register_after_fork(processor, _flush_at_child_exit)
    return processor


def _flush_at_child_exit(processor: Any) -> None:
    """Runs in each new multiprocessing child (after its finalizer registry was cleared)."""
    import multiprocessing.util as mp_util

    millis = getattr(processor, "_thespian_trace_flush_millis", 3000)
    mp_util.Finalize(None, _bounded_flush, args=(processor, millis), exitpriority=100)


def _bounded_flush(processor: Any, millis: int) -> None:
    """``processor.force_flush`` that returns within ``millis`` even when the collector hangs (the
    SDK blocks for the exporter's own timeout instead); the daemon thread ends with the process."""
    import threading

    worker = threading.Thread(target=processor.force_flush, args=(millis,), daemon=True,
                              name="thespian-trace-flush")
    worker.start()
    worker.join(millis / 1000.0)


# --------------------------------------------------------------------------------------------------
# Trace-shape assertions


@dataclass
class SpanNode:
    record: SpanRecord
    children: List["SpanNode"] = field(default_factory=list)
    orphan: bool = False  # has a parent_span_id whose span is not among the records

    @property
    def name(self) -> str:
        return self.record.name

    def walk(self) -> Iterable["SpanNode"]:
        yield self
        for child in self.children:
            yield from child.walk()


def _sort_key(rec: SpanRecord) -> Tuple[int, str, str]:
    return (rec.start_ns, rec.name, rec.span_id)


def build_trees(records: Iterable[SpanRecord]) -> Dict[str, List[SpanNode]]:
    """trace_id -> root nodes (sorted by start time); children sorted by start time.

    A span whose parent is missing from ``records`` is a root too (marked ``orphan``), so a lost span
    shows up as an extra root. Duplicate span ids (the same span exported twice) are kept once.
    """
    nodes: Dict[Tuple[str, str], SpanNode] = {}
    for rec in sorted(records, key=_sort_key):
        nodes.setdefault((rec.trace_id, rec.span_id), SpanNode(rec))
    trees: Dict[str, List[SpanNode]] = {}
    for node in nodes.values():  # insertion order == start order
        rec = node.record
        parent = nodes.get((rec.trace_id, rec.parent_span_id)) if rec.parent_span_id else None
        if parent is not None and parent is not node:
            parent.children.append(node)
        else:
            node.orphan = rec.parent_span_id is not None
            trees.setdefault(rec.trace_id, []).append(node)
    return trees


_PREFERRED_ATTR_PREFIXES = ("messaging.", "thespian")


def _attr_summary(rec: SpanRecord, max_attrs: int) -> str:
    keys = sorted(rec.attributes, key=lambda k: (not k.startswith(_PREFERRED_ATTR_PREFIXES), k))
    parts = []
    for key in keys[:max_attrs]:
        text = repr(rec.attributes[key])
        if len(text) > 40:
            text = text[:37] + "..."
        parts.append("%s=%s" % (key, text))
    if len(keys) > max_attrs:
        parts.append("+%d more" % (len(keys) - max_attrs))
    return " ".join(parts)


def format_tree(records: Iterable[SpanRecord], max_attrs: int = 4, max_lines: Optional[int] = None) -> str:
    """Readable indented rendering of all traces in ``records``, for assertion messages."""
    trees = build_trees(records)
    lines: List[str] = []
    if not trees:
        return "(no spans)"

    def emit(node: SpanNode, depth: int) -> None:
        rec = node.record
        line = "%s%s [%s]" % ("  " * depth, rec.name, rec.kind)
        if rec.status != "UNSET":
            line += " %s" % rec.status
            if rec.status_description:
                line += "(%s)" % rec.status_description[:60]
        if node.orphan:
            line += " (parent %s missing)" % rec.parent_span_id
        summary = _attr_summary(rec, max_attrs)
        if summary:
            line += "  " + summary
        if rec.events:
            line += "  events=%s" % ",".join(rec.event_names())
        lines.append(line)
        for child in node.children:
            emit(child, depth + 1)

    for trace_id, roots in trees.items():
        count = sum(1 for r in roots for _ in r.walk())
        lines.append("trace %s (%d span%s, %d root%s)" % (
            trace_id, count, "" if count == 1 else "s", len(roots), "" if len(roots) == 1 else "s"))
        for root in roots:
            emit(root, 1)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines] + ["... (%d more lines)" % (len(lines) - max_lines)]
    return "\n".join(lines)


def assert_single_trace(records: Sequence[SpanRecord]) -> str:
    """Assert all records share one trace id and form one tree (exactly one root). Returns the trace id."""
    records = list(records)
    assert records, "expected one trace, got no spans"
    trees = build_trees(records)
    if len(trees) != 1:
        raise AssertionError("expected 1 trace, got %d:\n%s" % (len(trees), format_tree(records)))
    (trace_id, roots), = trees.items()
    if len(roots) != 1:
        raise AssertionError(
            "expected exactly 1 root in trace %s, got %d (%s):\n%s"
            % (trace_id, len(roots), ", ".join(r.name for r in roots), format_tree(records))
        )
    return trace_id


def assert_chain(records: Sequence[SpanRecord], names: Sequence[str]) -> List[SpanRecord]:
    """Assert a parent->child path exists whose span names are exactly ``names``, in order.

    The path may start at any span (not necessarily a root). Returns the spans on the first such path.
    """
    names = list(names)
    if not names:
        raise ValueError("assert_chain needs at least one span name")
    records = list(records)
    trees = build_trees(records)

    def search(node: SpanNode, i: int) -> Optional[List[SpanRecord]]:
        if node.record.name != names[i]:
            return None
        if i == len(names) - 1:
            return [node.record]
        for child in node.children:
            rest = search(child, i + 1)
            if rest is not None:
                return [node.record] + rest
        return None

    for roots in trees.values():
        for root in roots:
            for node in root.walk():
                path = search(node, 0)
                if path is not None:
                    return path
    raise AssertionError(
        "no parent->child chain %s among %d span(s):\n%s"
        % (" -> ".join(names), len(records), format_tree(records))
    )


def children_of(records: Iterable[SpanRecord], record: SpanRecord) -> List[SpanRecord]:
    """Direct children of ``record`` among ``records``, sorted by start time."""
    return sorted(
        (r for r in records if r.trace_id == record.trace_id and r.parent_span_id == record.span_id
         and r.span_id != record.span_id),
        key=_sort_key,
    )


def spans_named(records: Iterable[SpanRecord], name: str) -> List[SpanRecord]:
    """Records with this exact name, sorted by start time."""
    return sorted((r for r in records if r.name == name), key=_sort_key)


# --------------------------------------------------------------------------------------------------
# Unit tests that mock ``send``


def unwrap(message: Any) -> Any:
    """What a handler would receive for ``message``: the inner message of an ``Envelope``, else as is.

    ``traced_send``/``traced_fanout``/``traced_wakeup_after`` wrap the message in an ``Envelope`` when a
    sampled span is active (a fanout marker also when not), so a test that mocks ``send`` or
    ``wakeupAfter`` sees one then; unwrap before comparing.
    """
    from .envelope import Envelope

    while type(message) is Envelope:
        message = message.message
    return message


def sent_messages(send_mock: Any) -> List[Tuple[Any, Any]]:
    """``(target, message)`` for every call a mocked ``send`` received, in order, Envelopes unwrapped.

    ``send_mock`` is a ``unittest.mock.Mock`` (or anything with ``call_args_list``) that replaced an
    actor's ``send``; arguments may be positional or Thespian's keyword names (``targetAddr``, ``msg``)::

        actor.send = Mock()
        actor.receiveMessage(Order(7), client)
        assert sent_messages(actor.send) == [(client, Receipt(7))]
    """
    calls = getattr(send_mock, "call_args_list", None)
    if calls is None:
        raise TypeError("sent_messages() needs the mock that replaced send (got %r)" % (send_mock,))
    out = []
    for call in calls:
        args, kwargs = call[0], call[1]
        args = list(args) + [None] * (2 - len(args))
        target = kwargs.get("targetAddr", args[0])
        message = kwargs.get("msg", args[1])
        out.append((target, unwrap(message)))
    return out


# --------------------------------------------------------------------------------------------------
# Fixture bodies (wrap them in your conftest: ``rx = pytest.fixture(otlp_receiver_fixture)``)


def otlp_receiver_fixture() -> Iterable[OTLPReceiver]:
    """Generator fixture body: a started :class:`OTLPReceiver`, always stopped afterwards."""
    rx = OTLPReceiver().start()
    try:
        yield rx
    finally:
        rx.stop()


def in_memory_tracing_fixture() -> Iterable[InMemoryTracing]:
    """Generator fixture body: an open :class:`InMemoryTracing`, closed (sampler reset) afterwards."""
    tracing = InMemoryTracing()
    try:
        yield tracing
    finally:
        tracing.close()
