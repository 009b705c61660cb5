"""An actor module that also holds an HTTP adapter (a look-alike send)."""
from thespian_trace import TracedActor
from requests.adapters import HTTPAdapter


class RetryAdapter(HTTPAdapter):
    """Not an actor: super().send is the HTTP adapter's send."""

    def send(self, request, **kwargs):
        kwargs.setdefault("timeout", 5)
        return super().send(request, **kwargs)


class WebhookActor(TracedActor):
    def receiveMsg_dict(self, payload, sender):
        self.traced_send(sender, {"status": 202, **payload})
