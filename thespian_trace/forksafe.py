"""An HTTP session for the OTLP/HTTP exporter that is safe to inherit across ``fork``.

Thespian's multi-process bases fork actor processes while the SDK's export thread may be in the
middle of a request; the child inherits every lock that thread held at that instant, held forever
(urllib3's pool-manager lock; the import lock of ``netrc``, which ``requests`` imports lazily on each
request). The child's export thread then blocks on its first export and that actor's spans are lost:
8 of 2,600 actors created while exporting with the default session, 0 of 4,000 with this one
(``tests/fork_safety_driver.py``, docs/failure-modes.md).

Needs ``requests`` (it comes with the ``otlp`` extra); the package never imports this module itself::

    from thespian_trace.forksafe import ForkSafeSession
    exporter = OTLPSpanExporter(session=ForkSafeSession())
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import requests
from requests.adapters import HTTPAdapter

__all__ = ["ForkSafeSession"]


class ForkSafeSession(requests.Session):
    """A ``requests.Session`` that starts over in a forked process and keeps no connection.

    (1) In a new process it mounts fresh adapters (new pools, new locks) and never touches the inherited
    ones; (2) ``trust_env = False``: no ``~/.netrc``, no proxy variables, so no lazy import on the
    request path (give proxies explicitly through ``session.proxies``); (3) ``Connection: close``, so
    no socket is shared between processes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.headers["Connection"] = "close"
        self._owner = os.getpid()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        if self._owner != os.getpid():  # the first request in a forked child
            self._owner = os.getpid()
            self.adapters = OrderedDict()  # the inherited adapters' locks may be held: leave them be
            self.mount("https://", HTTPAdapter())
            self.mount("http://", HTTPAdapter())
        return super().request(*args, **kwargs)
