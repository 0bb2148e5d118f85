"""An example in-process callout for retail rulesets, shipped as the `propensity` plugin.

    EXTERNALCALLOUT('propensity', cart_total, EVENT_COUNT('page_view')) > 0.6

It scores how likely a visitor is to buy, from the cart value and the number of pages viewed, with a
logistic model whose coefficients come from the callout's parameters. It is deterministic, needs no
network, and is a template for real model-serving plugins.
"""

import math
from collections.abc import Mapping
from typing import Any

from segflow.server.callouts.plugin import CalloutPlugin

_DEFAULT_COEFFICIENTS = {"intercept": -3.0, "cart_weight": 0.02, "visit_weight": 0.15}


class PropensityPlugin(CalloutPlugin):
    """propensity(cart_total, page_views) -> purchase propensity in [0, 1], or NULL if an argument is NULL.

    Parameters (all optional floats): `intercept`, `cart_weight` (per currency unit in the cart) and
    `visit_weight` (per page view).
    """

    arity = 2

    def initialize(self, config: Mapping[str, str]) -> None:
        """Read the model coefficients from the parameters; raise ValueError if one is not a number."""
        unknown = set(config) - set(_DEFAULT_COEFFICIENTS)
        if unknown:
            raise ValueError(f"unknown propensity parameters: {', '.join(sorted(unknown))}")
        coefficients = {key: config.get(key, str(value)) for key, value in _DEFAULT_COEFFICIENTS.items()}
        try:
            self._coefficients = {key: float(value) for key, value in coefficients.items()}
        except ValueError as exc:
            raise ValueError(f"propensity parameters must be numbers: {exc}") from exc

    def get_value(self, audience: Any, config: Mapping[str, str], args: tuple) -> float | None:
        """Return the logistic score of the cart total and page views, rounded to 4 decimals."""
        cart_total, page_views = args
        if cart_total is None or page_views is None:
            return None
        c = self._coefficients
        z = c["intercept"] + c["cart_weight"] * float(cart_total) + c["visit_weight"] * float(page_views)
        # The two branches keep math.exp from overflowing for extreme inputs.
        score = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return round(score, 4)
