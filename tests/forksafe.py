"""An HTTP session for the OTLP exporter that is safe to inherit across ``fork``.

Thespian forks actor processes while the SDK's export thread may be in the middle of a request. The
child inherits every lock that thread held at that instant, held forever: seen here as the urllib3
pool manager's lock and Python's import lock for a module the request path imports lazily (requests
reads ``~/.netrc`` through a lazy ``import netrc`` on every request). The child's own export thread
then blocks on the first export and that actor's spans are lost (measured: about 1 actor in 200
created while exporting). :class:`ForkSafeSession` (1) never touches what it inherited: in a new
process it mounts fresh adapters (new pools, new locks) instead of reusing or closing the old ones,
(2) does not consult the environment (``trust_env = False``: no netrc, no proxy variables, no lazy
imports on the request path), and (3) closes each connection after its request, so no socket is
shared between processes.
"""
import os
from collections import OrderedDict

import requests
from requests.adapters import HTTPAdapter


class ForkSafeSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.headers["Connection"] = "close"
        self._owner = os.getpid()

    def request(self, *args, **kwargs):
        if self._owner != os.getpid():  # first request in a forked child
            self._owner = os.getpid()
            self.adapters = OrderedDict()  # the inherited ones' locks may be held: leave them be
            self.mount("https://", HTTPAdapter())
            self.mount("http://", HTTPAdapter())
        return super().request(*args, **kwargs)
