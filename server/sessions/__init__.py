"""Sessions: the state of one visit, and the stores that keep it (in memory, or in Redis to scale out).

The Redis store and journey book live in `server.sessions.redis_store` and `server.sessions.redis_journeys`,
imported on demand (by `open_store`/`open_journeys`) so that the embedded default does not need redis-py.
"""

from segflow.server.sessions.backends import open_journeys, open_store
from segflow.server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState
from segflow.server.sessions.store import MemorySessionStore, SessionStore

__all__ = ["EventStat", "IssuedOffer", "JourneyStep", "SessionState", "MemorySessionStore", "SessionStore",
           "open_journeys", "open_store"]
