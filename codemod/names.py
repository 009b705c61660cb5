"""The names of Thespian and of the thespian_trace runtime that the codemod and migration-check know.

The codemod never imports either package (it runs on hosts without them); these constants are the
whole of what it assumes about them.
"""
from __future__ import annotations

THESPIAN_DISPATCHER = "thespian.actors.ActorTypeDispatcher"
THESPIAN_ACTOR = "thespian.actors.Actor"
THESPIAN_ACTOR_SYSTEM = "thespian.actors.ActorSystem"
TRACE_MODULE = "thespian_trace"
TRACED_ACTOR = "TracedActor"
TRACED_PLAIN_ACTOR = "TracedPlainActor"

# what `from thespian.actors import *` binds (thespian 3.10); used when thespian is not analysed
THESPIAN_ACTORS_NAMES = frozenset("""
Actor ActorAddress ActorExitRequest ActorSystem ActorSystemConventionUpdate ActorSystemException
ActorSystemFailure ActorSystemMessage ActorSystemRequestTimeout ActorSystemStartupFailure ActorTypeDispatcher
ChildActorExited DeadEnvelope ExternalContext InvalidActorAddress InvalidActorSourceHash
InvalidActorSpecification LoadedSource NoCompatibleSystemForActor PoisonMessage ThespianGeneration
ThespianWatch Thespian_ActorStatus Thespian_StatusReq Thespian_SystemStatus UnloadedSource ValidateSource
ValidatedSource WakeupMessage WatchMessage requireCapability
""".split())
# what `from thespian_trace import *` binds that the analysis cares about
TRACE_NAMES = frozenset("TracedActor TracedActorMixin TracedPlainActor traced_ask traced_tell".split())
# top-level packages that are never project code, whatever folder they sit in
EXTERNAL_ROOTS = ("thespian", TRACE_MODULE)
