"""Sessions: the state of one visit, and the stores that keep it (in memory, or in Redis to scale out)."""

from server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState
from server.sessions.store import MemorySessionStore, SessionStore

__all__ = ["EventStat", "IssuedOffer", "JourneyStep", "SessionState", "MemorySessionStore", "SessionStore"]
