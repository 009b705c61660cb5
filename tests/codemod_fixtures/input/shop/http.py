"""An actor module that also holds an HTTP adapter (a look-alike send)."""
import thespian.actors
from requests.adapters import HTTPAdapter


class RetryAdapter(HTTPAdapter):
    """Not an actor: super().send is the HTTP adapter's send."""

    def send(self, request, **kwargs):
        kwargs.setdefault("timeout", 5)
        return super().send(request, **kwargs)


class WebhookActor(thespian.actors.ActorTypeDispatcher):
    def receiveMsg_dict(self, payload, sender):
        self.send(sender, {"status": 202, **payload})
