"""Actors for tests/test_metrics.py. Each actor process reports what its own meter provider recorded
(``Report``), so the test reads metrics of forked processes through a real SDK reader in that process."""
from __future__ import annotations

from typing import Any, Dict, List

from thespian.actors import ActorTypeDispatcher, PoisonMessage

from thespian_trace import TracedActor

#: The in-memory reader of this process's own meter provider (``per_process_provider``), if any.
READER: Dict[str, Any] = {}


def per_process_provider() -> Any:
    """A meter provider with an in-memory reader, made in each forked actor process (``per_process``)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    import os

    reader = InMemoryMetricReader()
    READER["reader"] = reader
    return MeterProvider(metric_readers=[reader],
                         resource=Resource.create({"service.instance.id": str(os.getpid())}))


def summarize(data: Any) -> List[dict]:
    """Metrics data as plain picklable dicts: name, attributes, value (sums/gauges) or count/sum
    (histograms), exemplar trace ids (hex)."""
    out = []
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    out.append({
                        "name": metric.name, "unit": metric.unit, "scope": sm.scope.name,
                        "schema_url": sm.scope.schema_url,
                        "resource": dict(rm.resource.attributes),
                        "attributes": dict(dp.attributes),
                        "value": getattr(dp, "value", None), "count": getattr(dp, "count", None),
                        "exemplars": ["%032x" % e.trace_id for e in getattr(dp, "exemplars", ())
                                      if e.trace_id]})
    return out


class Report:
    """Ask any actor below for what this process's reader holds now."""


class Ping:
    pass


class Boom:
    pass


class Send:
    """Send ``message`` to ``target`` and answer once the target answered (or poisoned it back)."""

    def __init__(self, target: Any, message: Any) -> None:
        self.target = target
        self.message = message


class _Reporting:
    def receiveMsg_Report(self, msg, sender):
        reader = READER.get("reader")
        self.send(sender, summarize(reader.get_metrics_data()) if reader is not None else None)


class Counted(_Reporting, TracedActor):
    """Not timed: counters only."""

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")

    def receiveMsg_Boom(self, msg, sender):
        raise ValueError("boom")


class Timed(_Reporting, TracedActor):
    """Opted in by class attribute."""

    measure_duration = True

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")

    def receiveMsg_Boom(self, msg, sender):
        raise KeyError("boom")


class PlainCounted(_Reporting, ActorTypeDispatcher):
    """Not migrated: counted all the same (the data plane observes every actor)."""

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")


class Relay(_Reporting, TracedActor):
    """Sends a message on and tells its asker what came back: the reply or the PoisonMessage."""

    def receiveMsg_Send(self, msg, sender):
        self.asker = sender
        self.traced_send(msg.target, msg.message)

    def receiveMsg_str(self, msg, sender):
        self.send(self.asker, msg)

    def receiveMsg_PoisonMessage(self, msg, sender):
        self.send(self.asker, "poisoned " + type(msg.poisonMessage).__name__)


class Spawn:
    pass


class Spawner(_Reporting, TracedActor):
    """Handles Pings, then creates a Counted child (forked from this process) on Spawn."""

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")

    def receiveMsg_Spawn(self, msg, sender):
        self.send(sender, self.createActor(Counted))


class DeadLetters(_Reporting, TracedActor):
    """Registers as the dead-letter handler and counts what it gets."""

    def receiveMsg_str(self, msg, sender):
        if msg == "register":
            self.handleDeadLetters(startHandling=True)
            self.got = 0
        self.send(sender, getattr(self, "got", 0))

    def receiveMsg_DeadEnvelope(self, msg, sender):
        self.got = getattr(self, "got", 0) + 1


#: The reader of the provider the test process enabled (inherited by forked actor processes).
INHERITED: Dict[str, Any] = {}


class ReportInherited:
    """Ask an actor what the inherited provider's reader holds in its process."""


class InheritedReporting(Counted):
    def receiveMsg_ReportInherited(self, msg, sender):
        self.send(sender, summarize(INHERITED["reader"].get_metrics_data()))
