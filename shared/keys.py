"""Every Redis key and queue name this service writes, in one place."""

from __future__ import annotations

QUEUE_NAME = "stripay"
RECONCILE_JOB = "worker.jobs.reconcile_notification"
DELIVER_JOB = "worker.jobs.deliver_transition"
SWEEP_JOB = "worker.jobs.sweep_orders"
FAILURE_CALLBACK = "worker.jobs.on_job_failure"
# The only functions a worker imports and calls for a job (anything else is refused).
JOB_FUNCTIONS = frozenset({RECONCILE_JOB, DELIVER_JOB, SWEEP_JOB})
JOB_CALLBACKS = frozenset({FAILURE_CALLBACK})
RQ_QUEUE_KEY = f"rq:queue:{QUEUE_NAME}"
RQ_QUEUES_SET = "rq:queues"
# RQ's own keys that the worker's recovery pass reads and writes (worker/recover_jobs.lua).
RQ_INTERMEDIATE_KEY = f"{RQ_QUEUE_KEY}:intermediate"  # taken off the queue, not yet registered
RQ_STARTED_KEY = f"rq:wip:{QUEUE_NAME}"            # StartedJobRegistry: job_id:execution_id -> lease end
RQ_JOB_PREFIX = "rq:job:"
RQ_EXECUTION_PREFIX = "rq:execution:"              # + job_id:execution_id
RQ_EXECUTIONS_PREFIX = "rq:executions:"            # + job_id; the job's executions
RQ_SCHEDULER_LOCK_KEY = f"rq:scheduler-lock:{QUEUE_NAME}"
RECOVERY_LOCK_KEY = "stripay:recovery:lock"        # at most one recovery pass per interval
RECOVERY_INTERMEDIATE_KEY = "stripay:recovery:intermediate"  # job id -> first seen only on the intermediate list

SEEN_PREFIX = "stripay:seen:"            # + notification identity; value: job id
REJECTED_STREAM = "stripay:rejected"     # quarantined notifications (bad signature)
TRANSITIONS_STREAM = "stripay:transitions"
ORDER_PREFIX = "stripay:order:"          # + order id; hash of the current state
HISTORY_PREFIX = "stripay:history:"      # + order id; list of transitions (JSON)
FETCH_SEQ_PREFIX = "stripay:fetchseq:"   # + order id; counts the API reads of the order begun (ties)
API_CACHE_PREFIX = "stripay:apicache:"   # + merchant id + ":" + order id; last API answer, for coalescing


def seen_key(identity: str) -> str:
    return SEEN_PREFIX + identity


def order_key(order_id: int) -> str:
    return f"{ORDER_PREFIX}{order_id}"


def history_key(order_id: int) -> str:
    return f"{HISTORY_PREFIX}{order_id}"


def api_cache_key(order_id: int, merchant_id: str | None = None) -> str:
    """Per merchant and order: an answer read with one merchant's key never stands in for another's."""
    return f"{API_CACHE_PREFIX}{merchant_id or ''}:{order_id}"


def fetch_seq_key(order_id: int) -> str:
    return f"{FETCH_SEQ_PREFIX}{order_id}"
