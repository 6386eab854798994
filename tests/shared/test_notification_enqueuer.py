import zlib
from dataclasses import replace

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from shared.jobs import QUEUE_NAME, RECONCILE_JOB, reconcile_job
from shared.notification import identity_of
from shared.notification_enqueuer import NotificationEnqueuer
from tests.support.payloads import order_payload, signed
from tests.support.worker import worker_context


def rq_queue(client: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=client, serializer=JSONSerializer)


def test_enqueued_job_is_run_by_a_stock_rq_worker(redis_client, settings, sim) -> None:
    order = sim.set_status(sim.create_order()["id"], "completed")
    payload = signed({k: v for k, v in order.items() if k != "sign"})
    result = NotificationEnqueuer(redis_client, settings).enqueue(payload, received_at=1700000000.0)
    queue = rq_queue(redis_client)
    assert queue.job_ids == [result.job_id]
    with worker_context(replace(settings, api_url=sim.url)):
        SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer).work(burst=True)
    job = Job.fetch(result.job_id, connection=redis_client, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    assert job.args == [payload, 1700000000.0, "notify"]
    assert job.return_value() == {"order_id": order["id"], "outcome": "applied", "status": "completed",
                                  "event_id": job.return_value()["event_id"]}


def test_remembered_identity_expires_after_dedupe_ttl(redis_client, settings) -> None:
    payload = order_payload()
    NotificationEnqueuer(redis_client, settings).enqueue(payload, 0.0)
    ttl_s = redis_client.ttl("stripay:seen:" + identity_of(payload))
    assert settings.dedupe_ttl_s - 5 <= ttl_s <= settings.dedupe_ttl_s


def test_failure_inside_the_enqueue_remembers_nothing_so_the_retry_enqueues(redis_client, settings) -> None:
    # Inject a failure between the job write and the identity write: the
    # queue key holds a string, so RPUSH fails inside the script.
    events = NotificationEnqueuer(redis_client, settings)
    payload = order_payload()
    redis_client.set("rq:queue:stripay", "not a list")
    with pytest.raises(redis.exceptions.ResponseError):
        events.enqueue(payload, 0.0)
    assert not redis_client.exists("stripay:seen:" + identity_of(payload))

    redis_client.delete("rq:queue:stripay")
    retried = events.enqueue(payload, 0.0)
    assert retried.accepted
    assert rq_queue(redis_client).job_ids == [retried.job_id]


def test_accepted_event_survives_a_redis_kill(redis_server, redis_client, settings) -> None:
    payload = order_payload(77)
    result = NotificationEnqueuer(redis_client, settings).enqueue(payload, 0.0)
    redis_server.restart(kill=True)  # SIGKILL: only the AOF (fsync always) survives
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert rq_queue(client).job_ids == [result.job_id]
        assert not NotificationEnqueuer(client, settings).enqueue(payload, 0.0).accepted
    finally:
        client.close()


def test_enqueue_costs_one_round_trip(redis_client, settings) -> None:
    events = NotificationEnqueuer(redis_client, settings)
    events.enqueue(order_payload(1), 0.0)  # loads the script
    before = redis_client.info("stats")["total_commands_processed"]
    events.enqueue(order_payload(2), 0.0)
    after = redis_client.info("stats")["total_commands_processed"]
    # EVALSHA itself plus the 5 commands the script runs, plus the INFO call.
    assert after - before <= 7


def test_job_hash_written_by_the_script_equals_rqs_own(redis_client, settings) -> None:
    payload = order_payload(7)
    result = NotificationEnqueuer(redis_client, settings).enqueue(payload, 12.5)
    written = redis_client.hgetall(f"rq:job:{result.job_id}")
    expected = reconcile_job(payload, 12.5, settings, job_id=result.job_id).to_dict()
    expected["created_at"] = expected["enqueued_at"] = written[b"created_at"].decode()
    # "data" is written uncompressed; RQ reads both forms alike (Job.restore).
    assert zlib.decompress(expected.pop("data")) == written.pop(b"data")
    encoder = redis_client.connection_pool.get_encoder()  # what HSET from Python would store
    assert written == {name.encode(): encoder.encode(value) for name, value in expected.items()}


def test_uncompressed_job_data_reads_back_as_rqs_own(redis_client, settings) -> None:
    payload = order_payload(8)
    result = NotificationEnqueuer(redis_client, settings).enqueue(payload, 12.5)
    job = Job.fetch(result.job_id, connection=redis_client, serializer=JSONSerializer)
    assert (job.func_name, job.args, job.kwargs) == (RECONCILE_JOB, [payload, 12.5, "notify"], {})
