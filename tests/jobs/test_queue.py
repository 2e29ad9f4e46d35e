"""The queue layer: a named job has at most one live copy (queued, scheduled or running), even
when callers race; a finished or failed one does not block the next; jobs land on their home
queue in priority order. Real Redis when CRMBOT_TEST_REDIS_URL is set, fakeredis otherwise."""
import threading

from rq import Queue, SimpleWorker

from jobs.queue import GUARD_PREFIX, QUEUE_NAMES, RqQueue, home_queue

RAN: list[tuple] = []


def record(*args) -> None:
    RAN.append(args)


def fail(*args) -> None:
    raise RuntimeError("boom")


def requeue_self(n: int) -> None:
    """A job that schedules its own next run (as a delivery's retry does)."""
    RAN.append(("self", n))
    if n < 2:
        assert QUEUE.enqueue(f"{__name__}.requeue_self", n + 1, job_id="self-job") is True


QUEUE: RqQueue | None = None


def _total(conn) -> int:
    return sum(Queue(n, connection=conn).count for n in QUEUE_NAMES)


def _drain(conn) -> None:
    SimpleWorker([Queue(n, connection=conn) for n in QUEUE_NAMES], connection=conn).work(
        burst=True, with_scheduler=False)


def test_a_named_job_is_queued_once(redis_conn):
    q = RqQueue(redis_conn)
    assert q.enqueue(f"{__name__}.record", 1, job_id="deliver-1") is True
    assert [q.enqueue(f"{__name__}.record", 1, job_id="deliver-1") for _ in range(5)] == [False] * 5
    assert q.enqueue(f"{__name__}.record", 2, job_id="deliver-2") is True
    assert q.enqueue(f"{__name__}.record", 3) is True  # unnamed jobs are never deduplicated
    assert q.enqueue(f"{__name__}.record", 3) is True
    assert _total(redis_conn) == 4
    assert Queue("crmbot-default", connection=redis_conn).job_ids[0].startswith("deliver-1-")


def test_racing_callers_enqueue_a_name_once(redis_conn):
    q = RqQueue(redis_conn)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        for _ in range(20):
            results.append(q.enqueue(f"{__name__}.record", i, job_id="inbox-7"))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert _total(redis_conn) == 1


def test_a_finished_or_failed_job_does_not_block_the_next(redis_conn):
    RAN.clear()
    q = RqQueue(redis_conn)
    assert q.enqueue(f"{__name__}.record", "a", job_id="sweep") is True
    _drain(redis_conn)
    assert RAN == [("a",)]
    assert q.enqueue(f"{__name__}.record", "b", job_id="sweep") is True
    _drain(redis_conn)
    assert RAN == [("a",), ("b",)]
    # a job whose last attempt failed is visible in rq's failed registry, and can be enqueued again
    q.queues["crmbot-default"].enqueue(f"{__name__}.fail", job_id="x-1")
    redis_conn.set(GUARD_PREFIX + "x", "x-1")
    _drain(redis_conn)
    assert "x-1" in Queue("crmbot-default", connection=redis_conn).failed_job_registry.get_job_ids()
    assert q.enqueue(f"{__name__}.record", "c", job_id="x") is True


def test_a_running_job_is_not_enqueued_again_but_may_hand_over_to_its_next_run(redis_conn):
    global QUEUE
    RAN.clear()
    QUEUE = q = RqQueue(redis_conn)
    assert q.enqueue(f"{__name__}.requeue_self", 0, job_id="self-job") is True
    _drain(redis_conn)
    assert RAN == [("self", 0), ("self", 1), ("self", 2)]


def test_a_running_job_blocks_a_copy(redis_conn):
    from rq.job import Job, JobStatus
    q = RqQueue(redis_conn)
    assert q.enqueue(f"{__name__}.record", 1, job_id="deliver-9") is True
    rq_id = redis_conn.get(GUARD_PREFIX + "deliver-9").decode()
    Job.fetch(rq_id, connection=redis_conn).set_status(JobStatus.STARTED)   # a worker took it
    redis_conn.lrem("rq:queue:crmbot-deliver", 0, rq_id)
    redis_conn.lrem("rq:queue:crmbot-default", 0, rq_id)
    assert q.enqueue(f"{__name__}.record", 1, job_id="deliver-9") is False


def test_home_queues_put_replies_before_bulk_work():
    assert QUEUE_NAMES.index(home_queue("jobs.outbound.deliver")) < QUEUE_NAMES.index(
        home_queue("jobs.inbox.process_inbox")) < QUEUE_NAMES.index(home_queue("jobs.outbound.sweep")) \
        < QUEUE_NAMES.index(home_queue("jobs.rules.lead_assignment.assign_lead"))
    assert home_queue("jobs.rules.run_rule") == home_queue("jobs.pacing.release_held") == "crmbot-periodic"


def hang() -> None:
    import time
    time.sleep(30)


def test_a_hung_job_is_stopped_retried_then_failed_visibly(redis_conn):
    """SimpleWorker keeps rq's death penalty (SIGALRM in the main thread): a job past its timeout
    is stopped, retried, and after its last attempt left in the failed registry."""
    from rq import Retry

    from jobs.worker import CrmbotWorker
    q = Queue("crmbot-default", connection=redis_conn)
    job = q.enqueue(f"{__name__}.hang", job_timeout=1, retry=Retry(max=1))
    CrmbotWorker([q], connection=redis_conn).work(burst=True, with_scheduler=False)
    job.refresh()
    assert job.get_status() == "failed"
    assert job.id in q.failed_job_registry.get_job_ids()
    assert "JobTimeoutException" in job.latest_result().exc_string
