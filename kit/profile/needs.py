"""Which features the warehouse's inputs allow, and why the others are left out.

A feature is computed only when its inputs hold data (kit.core.inputs): no survey
answers, no survey features; an order log without discounts, no ``discount_share``;
date-only order times, no hour features. A left-out feature is *absent* from the
feature table, never a column of nulls or of made-up zeros, and ``FeaturePlan.need_of``
says which input it lacks, named as ``Inputs`` names needs (``surveys``,
``orders.discount``, ``orders.time``) so a page can phrase it ("No survey data"), or
``events.<type>`` for an event type the data does not have ("No visit in the app or web
events").

``NEEDS`` lists the inputs of every feature that has optional ones; features not in it
(order counts and spend, recency, tenure, trends of orders) need only orders and
customers, which every warehouse has. ``EVENT_TYPES`` lists the features built on one
event type of the demo's vocabulary (visits, views, add-to-cart); the per-type features
of kit.profile.events cover every vocabulary.

The balance of negative and positive events (kit.profile.events ``BALANCE_COLUMNS``)
also needs the config to name the types: with ``features.negative_events`` or
``features.positive_events`` unset, its need is that key (a page says "set ... to get
..."); with no listed type of one side in the data, ``events.<type>``. A listed type the
data lacks, while the balance is computed from the others, is still named in
``skipped()`` (its ``ev_<type>_28d`` -> ``events.<type>``), a note rather than an error.
Subscription features (kit.profile.subscriptions) need the ``subscriptions`` table.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.core.inputs import Inputs
from kit.profile.events import (
    BALANCE_COLUMNS,
    PREFIX,
    EventVocabulary,
    event_slug,
    slug_of,
)
from kit.profile.subscriptions import CANCELLATION, SUBSCRIPTION_FEATURES

NEEDS: dict[str, tuple[str, ...]] = {
    "is_member": ("customers.member_since",),
    "signup_channel": ("customers.signup_channel",),
    "avg_items": ("orders.items",),
    "refund_count_all": ("orders.is_refund",),
    "refund_rate": ("orders.is_refund",),
    "category_count": ("orders.category",),
    "favourite_category": ("orders.category",),
    "channel_share_online": ("orders.channel",),
    "channel_share_app": ("orders.channel",),
    "channel_share_store": ("orders.channel",),
    "main_channel": ("orders.channel",),
    "discount_share": ("orders.discount",),
    "main_payment_method": ("orders.payment_method",),
    "preferred_hour": ("orders.time",),
    "night_share": ("orders.time",),
    "visits_30d": ("events",),
    "visits_90d": ("events",),
    "visits_prev_90d": ("events",),
    "visit_trend_90d": ("events",),
    "views_90d": ("events",),
    "add_to_cart_90d": ("events",),
    "cart_abandonment_rate_90d": ("events", "orders.channel"),
    "days_since_last_visit": ("events",),
    "event_days_28d": ("events", "events.event_type"),
    "survey_count": ("surveys",),
    "last_nps": ("surveys", "surveys.nps"),
    "avg_csat": ("surveys", "surveys.csat"),
    "low_score_count": ("surveys", "surveys.nps"),
    "age": ("customers.birth_year",),
    "age_band": ("customers.birth_year",),
    "gender": ("customers.gender",),
    "city": ("customers.city",),
    "city_tier": ("customers.city_tier",),
    **{feature: ("events", "events.event_type") for feature in BALANCE_COLUMNS},
    **{feature: ("subscriptions",) for feature in SUBSCRIPTION_FEATURES},
    CANCELLATION: ("subscriptions", "subscriptions.cancelled_at"),
}
EVENT_TYPES: dict[str, str] = {
    "visits_30d": "visit",
    "visits_90d": "visit",
    "visits_prev_90d": "visit",
    "visit_trend_90d": "visit",
    "views_90d": "view",
    "add_to_cart_90d": "add_to_cart",
    "cart_abandonment_rate_90d": "add_to_cart",
}
# Customer columns read when they hold values (customer_id and first_seen always are).
CUSTOMER_COLUMNS = ("member_since", "signup_channel", "gender", "birth_year", "city", "city_tier")


@dataclass(frozen=True)
class FeaturePlan:
    """What ``build_features`` computes on one warehouse: its inputs, the event types
    with features, and whether the config can fill city tiers from city names."""

    inputs: Inputs
    events: EventVocabulary
    city_tiers_configured: bool = False

    def need_of(self, feature: str) -> str | None:
        """The first input ``feature`` lacks, or None when it is computed (or is not a
        feature this plan knows: a category share, a churn signal, a typo)."""
        for need in NEEDS.get(feature, ()):
            if feature == "city_tier" and self.city_tiers_configured and self.inputs.has("customers.city"):
                continue
            if not self.inputs.has(need):
                return need
        if feature in BALANCE_COLUMNS:
            return self.events.balance.need
        event_type = EVENT_TYPES.get(feature)
        if event_type is not None and event_type not in self.inputs.event_types:
            return f"events.{event_type}"
        slug = slug_of(feature)
        if slug is not None and slug not in self.events.slugs.values():
            return f"events.{slug}" if self.inputs.has("events") else "events"
        return None

    def computed(self, feature: str) -> bool:
        """Whether ``feature`` has what it needs (``need_of`` is None)."""
        return self.need_of(feature) is None

    def skipped(self) -> dict[str, str]:
        """Every feature with optional inputs that is left out -> the input it lacks; with
        events, also each negative or positive type the config lists and the data lacks
        (its ``ev_<type>_28d`` -> ``events.<type>``)."""
        out = {feature: need for feature in NEEDS if (need := self.need_of(feature)) is not None}
        if self.inputs.has("events"):
            out |= {f"{PREFIX}{event_slug(t)}_28d": f"events.{t}" for t in self.events.balance.absent}
        return out

    def customer_columns(self) -> list[str]:
        """The optional customer columns that hold values."""
        return [c for c in CUSTOMER_COLUMNS if self.inputs.has(f"customers.{c}")]
