"""The runtime a touchpoint talks to: sessions, events, rules, actions, segments, offers and journeys."""
