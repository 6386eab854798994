"""Which jobs a worker may run: only this service's own job functions.

RQ imports and calls whatever dotted path a job names (and its callbacks), so
anyone able to write to Redis could otherwise run code in the workers, which
hold the merchant keys. A job is checked before RQ resolves anything: its
function name and callback names are compared with the fixed lists of
:mod:`shared.jobs`; nothing of a refused job is imported or called, and its
webhooks (RQ's HTTP calls at the end of a job) are not sent.
"""

from __future__ import annotations

from rq.job import Job

from shared.jobs import JOB_CALLBACKS, JOB_FUNCTIONS

NAME_SHOWN_CHARS = 200  # a refused job's function name is logged, cut to this length


class JobRefused(Exception):
    """The job names code that is not one of this service's jobs."""


def refusal_reason(job: Job) -> str | None:
    """Why ``job`` must not run, or None when it is one of this service's jobs.

    Reads only the job's stored names (deserializing its JSON data), never imports.
    """
    try:
        func_name = job.func_name
        instance = job.instance
    except Exception:  # noqa: BLE001 - undecodable data is refused, whatever the serializer raised
        return "job data cannot be read"
    if func_name not in JOB_FUNCTIONS:
        return f"function {shown_name(func_name)} is not one of this service's jobs"
    if instance is not None:
        return "job names a method of an object, not a function"
    if job.webhooks:
        return "job asks for webhooks, which this service's jobs never use"
    callbacks = (job._success_callback_name, job._failure_callback_name, job._stopped_callback_name)
    for callback in callbacks:
        if callback and callback not in JOB_CALLBACKS:
            return f"callback {shown_name(callback)} is not one of this service's callbacks"
    return None


def shown_name(name: object) -> str:
    text = repr(name)
    return text if len(text) <= NAME_SHOWN_CHARS else text[:NAME_SHOWN_CHARS] + "..."
