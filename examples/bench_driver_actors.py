"""Actors of the benchmark-driver example (a module of its own, so multi-process bases can import it).

A ``Driver`` runs a race per request: inside its traced handler it creates ``LoadWorker`` actors, each
worker fires ``rounds`` HTTP requests at the service under test, one per timer tick
(``traced_wakeup_after``), and reports back; when every worker is done the driver verifies the results
in a thread pool (carrying its context into the pool threads) and answers the asker. Handlers are
wrapped in decorators, as real drivers do. Afterwards a monitoring client asks each worker for its
statistics with a plain, untraced ``ask``, and the worker pushes them over HTTP: those requests
belong to no race.
"""
from __future__ import annotations

import contextvars
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Dict, List

import requests

from thespian_trace import TracedActor

HTTP_TIMEOUT = 10


class RunRace:
    """Run one race: ``workers`` load generators, ``rounds`` requests each, against ``url``."""

    def __init__(self, race_id: int, workers: int, rounds: int, url: str, tick_ms: int = 5) -> None:
        self.race_id = race_id
        self.workers = workers
        self.rounds = rounds
        self.url = url
        self.tick_ms = tick_ms


class StartLoad:
    def __init__(self, race_id: int, url: str, rounds: int, tick_ms: int) -> None:
        self.race_id = race_id
        self.url = url
        self.rounds = rounds
        self.tick_ms = tick_ms


class Tick:
    """A worker's timer payload: which race, which round."""

    def __init__(self, race_id: int, round_no: int) -> None:
        self.race_id = race_id
        self.round_no = round_no


class LoadDone:
    def __init__(self, race_id: int, worker: Any, statuses: List[int], latencies_ms: List[float]) -> None:
        self.race_id = race_id
        self.worker = worker
        self.statuses = statuses
        self.latencies_ms = latencies_ms


class RaceReport:
    def __init__(self, race_id: int, workers: List[Any], requests_made: int, verified: List[bool],
                 failures: List[str]) -> None:
        self.race_id = race_id
        self.workers = workers
        self.requests_made = requests_made
        self.verified = verified
        self.failures = failures


class GetStats:
    """From the monitoring client (untraced): push your statistics to the service and answer."""


class Stats:
    def __init__(self, requests_made: int, pushed_status: int) -> None:
        self.requests_made = requests_made
        self.pushed_status = pushed_status


class Failed:
    """What ``reply_on_failure`` answers instead of letting Thespian retry a failed handler."""

    def __init__(self, message_type: str, error: str) -> None:
        self.message_type = message_type
        self.error = error


# ------------------------------------------------------------------------------------------------
# Decorators around handlers, as real drivers have them


def reply_on_failure(handler):
    """Answer the sender with ``Failed`` instead of raising (no Thespian retry, no PoisonMessage)."""

    @functools.wraps(handler)
    def guard(self, msg, sender):
        try:
            return handler(self, msg, sender)
        except Exception as exc:  # a race must report, not crash
            self.traced_send(sender, Failed(type(msg).__name__, "%s: %s" % (type(exc).__name__, exc)))
            return None

    return guard


def timed(handler):
    """Accumulate the wall time spent in each handler (per actor, by handler name)."""

    @functools.wraps(handler)
    def clocked(self, msg, sender):
        t0 = time.perf_counter()
        try:
            return handler(self, msg, sender)
        finally:
            timings = self.__dict__.setdefault("timings", {})
            timings[handler.__name__] = timings.get(handler.__name__, 0.0) + time.perf_counter() - t0

    return clocked


# ------------------------------------------------------------------------------------------------
# The actors


class Driver(TracedActor):
    """Runs races; each one's workers are created inside the traced RunRace handler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.races: Dict[int, Dict[str, Any]] = {}

    @reply_on_failure
    @timed
    def receiveMsg_RunRace(self, msg: RunRace, sender: Any) -> None:
        if msg.workers < 1 or msg.rounds < 1:
            raise ValueError("a race needs at least one worker and one round")
        race = self.races[msg.race_id] = {"asker": sender, "url": msg.url, "expected": msg.workers,
                                          "done": []}
        race["workers"] = [self.createActor(LoadWorker) for _ in range(msg.workers)]
        for worker in race["workers"]:
            self.traced_send(worker, StartLoad(msg.race_id, msg.url, msg.rounds, msg.tick_ms))

    @reply_on_failure
    @timed
    def receiveMsg_LoadDone(self, msg: LoadDone, sender: Any) -> None:
        race = self.races[msg.race_id]
        race["done"].append(msg)
        if len(race["done"]) < race["expected"]:
            return
        # Verify every worker's results at once, in a thread pool. Pool threads start with an empty
        # context; each job runs in a copy of this handler's context, so its HTTP span is a child of
        # this handler's span. (One copy per job: a Context cannot be entered by two threads at once.)
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [pool.submit(contextvars.copy_context().run, self._verify, race["url"], done)
                    for done in race["done"]]
            verified = [job.result() for job in jobs]
        failures = ["%s got %s" % (d.worker, d.statuses) for d in race["done"]
                    if any(status != 200 for status in d.statuses)]
        made = sum(len(d.statuses) for d in race["done"])
        self.traced_send(race["asker"], RaceReport(msg.race_id, race["workers"], made, verified, failures))
        del self.races[msg.race_id]

    @staticmethod
    def _verify(url: str, done: LoadDone) -> bool:
        reply = requests.get("%s/verify/%d" % (url, len(done.statuses)), timeout=HTTP_TIMEOUT)
        return reply.status_code == 200 and reply.json().get("ok") is True


class LoadWorker(TracedActor):
    """Fires one HTTP request per timer tick; the tick continues the race's trace."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = requests.Session()
        self.made = 0

    @reply_on_failure
    def receiveMsg_StartLoad(self, msg: StartLoad, sender: Any) -> None:
        self.job, self.driver = msg, sender
        self.statuses: List[int] = []
        self.latencies_ms: List[float] = []
        self.traced_wakeup_after(timedelta(milliseconds=msg.tick_ms), Tick(msg.race_id, 1))

    @timed
    def receiveMsg_WakeupMessage(self, msg: Any, sender: Any) -> None:
        tick = msg.payload
        if not isinstance(tick, Tick):
            return
        t0 = time.perf_counter()
        reply = self.session.get("%s/item/%d" % (self.job.url, tick.round_no), timeout=HTTP_TIMEOUT)
        self.latencies_ms.append((time.perf_counter() - t0) * 1000.0)
        self.statuses.append(reply.status_code)
        self.made += 1
        if tick.round_no < self.job.rounds:
            self.traced_wakeup_after(timedelta(milliseconds=self.job.tick_ms),
                                     Tick(tick.race_id, tick.round_no + 1))
        else:
            self.traced_send(self.driver, LoadDone(tick.race_id, str(self.myAddress), self.statuses,
                                                   self.latencies_ms))

    def receiveMsg_GetStats(self, msg: GetStats, sender: Any) -> None:
        reply = self.session.post("%s/stats" % self.job.url, json={"requests": self.made},
                                  timeout=HTTP_TIMEOUT)
        self.send(sender, Stats(self.made, reply.status_code))
