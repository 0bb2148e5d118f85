"""The stamps by which a worker tells the others of its host which customers' profiles it wrote: another
process's write makes a copy read before it stale, this process's own does not, and old stamps are forgotten."""

from __future__ import annotations

import time

from segflow.server.sessions.lmdb_store import open_environment
from segflow.server.workers.profiles import ProfileWrites


def test_a_write_by_another_process_makes_a_copy_read_before_it_stale(tmp_path):
    env, _ = open_environment(tmp_path)
    mine, theirs = ProfileWrites(env), ProfileWrites(env)
    theirs._pid += 1  # as another process of the host
    read_at = time.monotonic()
    theirs.wrote([("Customer", "c1")])
    assert mine.changed_since(("Customer", "c1"), read_at)
    assert not mine.changed_since(("Customer", "c1"), time.monotonic())  # a copy read after the write
    assert not mine.changed_since(("Customer", "c2"), read_at)
    assert not theirs.changed_since(("Customer", "c1"), read_at)  # its own write: its copy is the new one


def test_stamps_older_than_any_cached_copy_are_forgotten(tmp_path):
    env, _ = open_environment(tmp_path)
    writes = ProfileWrites(env, keep=0.0)
    writes.wrote([("Customer", "old")])
    time.sleep(0.001)  # the clock moves on: the first stamp is now past keep
    writes.wrote([("Customer", "new")])
    with env.begin() as txn:
        assert txn.stat(env.open_db(b"profiles.written"))["entries"] == 1
        assert txn.stat(env.open_db(b"profiles.by_time"))["entries"] == 1
