"""Every wait on PostgreSQL is bounded: a stalled database costs a 503, never a hanging request.

A psql session takes every table of the database in ACCESS EXCLUSIVE mode and keeps it for a minute;
16 concurrent refreshes (twice the pool) must each answer 503 `temporarily_unavailable` within the
configured bounds, and once the lock is gone the very same refresh tokens rotate (a request that got
503 changed nothing).
"""
import os
import subprocess
import threading
import time

import requests

from test_authorization_code import Provider
from test_refresh import first_tokens, psql_rows, refresh, refresh_client

LOCKER = "tessera-e2e-locker"
# The bounds under test: each is short so that the test is quick, and the assertion below is
# generous so that a loaded machine does not fail it.
BOUNDS = {"TESSERA_DB_STATEMENT_TIMEOUT": "2s", "TESSERA_DB_LOCK_TIMEOUT": "1s", "TESSERA_DB_POOL_WAIT": "2s",
          "TESSERA_DB_POOL_SIZE": "8"}
# Pool wait + statement timeout + the client-side grace, with room for a busy machine.
ANSWER_WITHIN = 15
CONCURRENT = 16


class TableLocker:
    """A psql session that holds every table of `database` in ACCESS EXCLUSIVE mode until released."""

    def __init__(self, database):
        self.database = database
        tables = psql_rows(database, "SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables "
                                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")[0][0]
        self.count = len(tables.split(", "))
        environment = dict(os.environ, PGAPPNAME=LOCKER, PGDATABASE=database)
        self.process = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             f"BEGIN; LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while self.granted() < self.count:
            assert self.process.poll() is None, "the locking session ended early"
            assert time.time() < deadline, "the tables were not locked in time"
            time.sleep(0.05)

    def granted(self):
        return int(psql_rows(self.database, f"""
            SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.application_name = '{LOCKER}' AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
              AND l.granted AND l.relation IN (SELECT oid FROM pg_class WHERE relkind = 'r')""")[0][0])

    def release(self):
        psql_rows(self.database, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{LOCKER}'")
        self.process.wait(20)


def test_a_stalled_database_answers_every_request_503_within_its_bound_then_recovers(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database, env=BOUNDS)
    op = Provider(server.base, {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir})
    client = refresh_client(op)
    user = op.user()
    tokens = [first_tokens(op, client, user=user)[0]["refresh_token"] for _ in range(CONCURRENT)]

    locker = TableLocker(database)
    try:
        barrier = threading.Barrier(CONCURRENT)
        answers = [None] * CONCURRENT

        def attempt(index):
            barrier.wait()
            start = time.monotonic()
            try:
                response = refresh(op, client, tokens[index])
                answers[index] = (response.status_code, response.json().get("error"), "Retry-After" in response.headers,
                                  time.monotonic() - start)
            except requests.RequestException as error:
                answers[index] = ("no answer", repr(error), False, time.monotonic() - start)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert locker.process.poll() is None, "the lock must still be held while the requests are answered"
    finally:
        locker.release()

    slow = [a for a in answers if a is None or a[3] > ANSWER_WITHIN]
    assert slow == [], f"requests not answered within {ANSWER_WITHIN} s: {answers}"
    assert all(a[:3] == (503, "temporarily_unavailable", True) for a in answers), answers

    # The connections are usable again, and the 503s changed nothing: each token rotates now.
    deadline = time.time() + 20
    while requests.get(server.base + "/readyz", timeout=10).status_code != 200:
        assert time.time() < deadline, "the server did not recover"
        time.sleep(0.2)
    results = [refresh(op, client, token) for token in tokens]
    assert [r.status_code for r in results] == [200] * CONCURRENT, [r.text for r in results if r.status_code != 200]
