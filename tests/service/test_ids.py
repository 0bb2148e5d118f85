"""Action, decision and treatment ids: unique within a process, and across processes forked from one."""

from __future__ import annotations

import os
import re

from segflow.server.runtime.decision import new_id


def test_ids_are_128_bit_hex_and_never_repeat():
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_a_forked_worker_never_repeats_its_parents_ids():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, " ".join(new_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_id() for _ in range(100)}
    assert len(child) == 100 and not child & parent
    assert {i[:16] for i in child} != {i[:16] for i in parent}  # a new prefix, not just a later count
