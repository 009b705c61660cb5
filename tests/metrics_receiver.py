"""A loopback OTLP/HTTP receiver of metrics (``/v1/metrics``, protobuf) for tests: what actor
processes exported, as (resource attributes, metric name, attributes, value or count) tuples."""
from __future__ import annotations

import http.server
import threading
import time
from typing import Any, Callable, Dict, List


def _value(av: Any) -> Any:
    kind = av.WhichOneof("value")
    return getattr(av, kind) if kind else None


def _attrs(kvs: Any) -> Dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


class MetricsReceiver:
    """Collects every data point posted to ``endpoint`` (``http://127.0.0.1:PORT/v1/metrics``)."""

    def __init__(self) -> None:
        self.points: List[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
                    ExportMetricsServiceRequest, ExportMetricsServiceResponse)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver._add(request)
                out = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d/v1/metrics" % self.server.server_address[1]

    def start(self) -> "MetricsReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _add(self, request: Any) -> None:
        found = []
        for rm in request.resource_metrics:
            resource = _attrs(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    for dp in getattr(metric, kind).data_points:
                        value = dp.count if kind == "histogram" else (
                            dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double)
                        found.append({"resource": resource, "name": metric.name,
                                      "attributes": _attrs(dp.attributes), "value": value})
        with self.lock:
            self.points.extend(found)

    def wait_for(self, predicate: Callable[[List[dict]], bool], timeout: float = 15.0) -> List[dict]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                points = list(self.points)
            if predicate(points):
                return points
            if time.monotonic() > deadline:
                raise TimeoutError("metrics did not arrive: %d points" % len(points))
            time.sleep(0.1)
