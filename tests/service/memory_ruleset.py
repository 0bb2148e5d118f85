"""A ruleset that uses every part of customer memory, for the memory tests over a real channel."""

MEMORY_RULESET = """
name: memory
channel: web
settings: {default_audience_level: Visitor}
audience_levels: [{name: Visitor}, {name: Customer, id_fields: [customer_id]}]
attributes:
  - {name: favourite, type: string, scope: profile}
  - {name: tier, type: string, scope: profile, default: unknown}
  - {name: seen_at, type: timestamp, scope: profile}
  - {name: member_since, type: timestamp, scope: profile}
  - {name: spent, type: double, scope: profile, default: 0.0}
  - {name: who, type: string}
  - {name: purchases, type: int, default: 0}
  - {name: recent_purchases, type: int, default: 0}
events:
  - {name: view, parameters: [{name: category, type: string}]}
  - {name: join, parameters: [{name: tier, type: string}]}
  - {name: purchase, parameters: [{name: amount, type: double}]}
  - {name: login}
  - {name: tally}
  - {name: offer_shown, interaction: true, parameters: [{name: treatment_code, type: string}]}
  - {name: offer_click, interaction: true, parameters: [{name: treatment_code, type: string}]}
rules:
  - id: remember-category
    on: [view]
    then:
      - expression: {expression: event.category, assign_to: favourite}
      - expression: {expression: NOW(), assign_to: seen_at}
  - id: join
    on: [join]
    then: [{expression: {expression: event.tier, assign_to: tier}}]
  - id: spend
    on: [purchase]
    then:
      - expression: {expression: "spent + COALESCE(event.amount, 0)", assign_to: spent}
      - resegment: {}
  - id: whoami
    on: [login]
    then: [{expression: {expression: "audience.customer_id || '@' || AUDIENCE_LEVEL()", assign_to: who}}]
  - id: regular-customer
    on: ["pattern:regular"]
    then: [{notify: {topic: crm, message: "'regular: ' || audience.customer_id"}}]
  - id: contact
    on: [offer_shown]
    then: [{log_contact: {treatment_code: event.treatment_code}}]
  - id: accept
    on: [offer_click]
    then: [{log_acceptance: {treatment_code: event.treatment_code}}]
  - id: tally
    on: [tally]
    then:
      - expression: {expression: "EVENT_COUNT('purchase', INTERVAL '30' DAY)", assign_to: purchases}
      - expression: {expression: "EVENT_COUNT('purchase', INTERVAL '90' MINUTE)", assign_to: recent_purchases}
  - id: quick-buyer
    on: ["pattern:quick_buyer"]
    then: [{notify: {topic: crm, message: "'quick: ' || audience.customer_id"}}]
patterns:
  - {name: regular, kind: counter, events: [{event: purchase}], count: 3, window: 30d}
  - {name: browser_and_buyer, kind: all_of, events: [{event: view}, {event: purchase}], window: 7d}
  - {name: quick_buyer, kind: counter, events: [{event: purchase}], count: 2, window: 1h}
  - {name: big_fan, kind: weighted_counter, events: [{event: view, weight: 1}, {event: purchase, weight: 5}],
     threshold: 10, starts_at: "2026-01-01T00:00:00Z", ends_at: "2026-12-31T00:00:00Z"}
flowcharts:
  - name: all
    audience_level: Visitor
    segments: [{name: everyone, when: "TRUE"}]
  - name: all
    audience_level: Customer
    segments:
      - {name: everyone, when: "TRUE"}
      - {name: buyers, when: "EVENT_COUNT('purchase', INTERVAL '30' DAY) >= 2"}
      - {name: regulars, when: "PATTERN_MET('regular')"}
      - {name: big_spenders, when: "EVENT_SUM('purchase', 'amount', INTERVAL '1' WEEK) > 100"}
interaction_points: [{name: home}]
offers:
  - {code: CAPPED, name: Twice a week, max_presentations: 2, per: 7d}
  - {code: ONCE, name: Until answered, suppress_after_response: 30d}
treatment_rules:
  - {id: t-capped, segment: everyone, interaction_point: home, offer: CAPPED, score: "10"}
  - {id: t-once, segment: everyone, interaction_point: home, offer: ONCE, score: "5"}
"""
