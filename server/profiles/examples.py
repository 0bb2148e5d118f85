"""The profile plugin shipped with segflow, to try in-process profile sources: `plugin: tiers`."""

from __future__ import annotations

from typing import Any, Mapping

from segflow.server.profiles.example_server import profile_of
from segflow.server.profiles.sources import ProfilePlugin
from segflow.server.sessions.state import customer_id_of


class TiersPlugin(ProfilePlugin):
    """Answers what the example ProfileService answers (`tier`, `member_since`), in process."""

    def load(self, audience_level: str, ids: Mapping[str, Any], attributes: tuple[str, ...]) -> Mapping[str, Any]:
        known = profile_of(customer_id_of(dict(ids)))
        return {name: value for name, value in known.items() if name in attributes}
