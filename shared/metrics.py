"""Every Prometheus metric this service exports, defined once.

Naming: ``stripay_`` prefix, ``_total`` counters, ``_seconds`` durations,
labels with a small fixed set of values.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACK_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
WORK_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
END_TO_END_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)

# Receiver
NOTIFY_RESULTS = ("accepted", "duplicate", "bad_signature", "malformed", "too_large", "too_slow", "unavailable")
notifications_total = Counter(
    "stripay_notifications_total",
    "Notifications received on the notify endpoint, by result.",
    ["result"],
)
notify_ack_seconds = Histogram(
    "stripay_notify_ack_seconds",
    "Time from request start to the answer on the notify endpoint.",
    buckets=ACK_BUCKETS_S,
)
rejected_quarantined_total = Counter(
    "stripay_rejected_quarantined_total",
    "Notifications with a bad signature kept in the quarantine stream.",
)
rejected_not_kept_total = Counter(
    "stripay_rejected_not_kept_total",
    "Notifications with a bad signature answered 403 but not kept: the quarantine's writes per second were spent.",
)

# Worker
RECONCILE_OUTCOMES = ("applied", "unchanged", "stale", "mismatch", "retry", "failed", "unknown_order")
reconcile_total = Counter(
    "stripay_reconcile_total",
    "Reconcile jobs by outcome.",
    ["outcome"],
)
reconcile_seconds = Histogram(
    "stripay_reconcile_seconds",
    "Time one reconcile job takes, API call included.",
    buckets=WORK_BUCKETS_S,
)
api_requests_total = Counter(
    "stripay_api_requests_total",
    "Requests to the Stripay API, by endpoint and HTTP status (or error kind).",
    ["endpoint", "code"],
)
api_request_seconds = Histogram(
    "stripay_api_request_seconds",
    "Stripay API request duration.",
    ["endpoint"],
    buckets=WORK_BUCKETS_S,
)
same_second_ties_total = Counter(
    "stripay_same_second_ties_total",
    "API answers at the stored updatedAt in another status that could not be ordered (the reads overlapped) "
    "and were settled by reading the order again.",
)
order_transitions_total = Counter(
    "stripay_order_transitions_total",
    "Applied order status transitions.",
    ["from", "to"],
)
end_to_end_seconds = Histogram(
    "stripay_end_to_end_seconds",
    "Time from notification receipt to the transition being applied.",
    buckets=END_TO_END_BUCKETS_S,
)
RECOVERED_REASONS = ("lease_expired", "stuck_dequeued")
recovered_jobs_total = Counter(
    "stripay_recovered_jobs_total",
    "Jobs of dead workers handed back to the queue by a worker's recovery pass, by reason.",
    ["reason"],
)
deliveries_total = Counter(
    "stripay_deliveries_total",
    "Deliveries of applied transitions to downstream targets, by target and result.",
    ["target", "result"],
)
jobs_refused_total = Counter(
    "stripay_jobs_refused_total",
    "Jobs failed without running because they name a function that is not one of this service's jobs.",
)

for _result in NOTIFY_RESULTS:
    notifications_total.labels(result=_result)
for _outcome in RECONCILE_OUTCOMES:
    reconcile_total.labels(outcome=_outcome)
for _reason in RECOVERED_REASONS:
    recovered_jobs_total.labels(reason=_reason)
