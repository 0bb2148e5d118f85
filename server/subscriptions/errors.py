"""Why a subscription was refused or ended early, as exceptions a caller can map to a status."""


class InvalidSubscription(ValueError):
    """The request cannot be served: `field` names the offending request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SubscriptionEnded(Exception):
    """The stream ended before the subscriber asked; `resume_after` continues it without a hole."""

    def __init__(self, message: str, resume_after: int) -> None:
        super().__init__(message)
        self.resume_after = resume_after


class SubscriberFellBehind(SubscriptionEnded):
    """The subscriber's queue overflowed: events `first_missed..last_missed` were not delivered."""

    def __init__(self, first_missed: int, last_missed: int) -> None:
        resume_after = first_missed - 1
        super().__init__(
            f"subscriber fell behind: events {first_missed}..{last_missed} dropped; "
            f"resume with resume_after={resume_after}",
            resume_after,
        )
        self.first_missed = first_missed
        self.last_missed = last_missed


class BusClosed(SubscriptionEnded):
    """The action bus was closed (server shutdown)."""

    def __init__(self, resume_after: int) -> None:
        super().__init__(
            f"action stream closed by server shutdown; resume with resume_after={resume_after}",
            resume_after,
        )
