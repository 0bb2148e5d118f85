"""The sync-durability journal: what it holds past the checkpoint is written at the next start; a torn last
append (the process died mid-write) is skipped; it empties itself once the writer has everything."""

from __future__ import annotations

from segflow.server.history.journal import Journal
from tests.history.conftest import contact


def opened(directory, queued: list) -> Journal:
    journal = Journal(directory, submit=queued.append)
    assert journal.replay(lambda records: None) == 0
    return journal


def test_records_past_the_checkpoint_are_written_at_the_next_start_and_a_torn_append_is_skipped(tmp_path):
    queued: list = []
    journal = opened(tmp_path, queued)
    for n in range(5):
        journal.submit(contact(n))
    journal.written(2)  # the database has the first two
    journal.close()
    with open(journal.path, "ab") as file:
        file.write(b"\x06\x00\x00\x00\x00\x00\x00\x00\xff\x00\x00\x00partial")  # died in the middle of a 6th
    written: list = []
    again = Journal(tmp_path, submit=queued.append)
    assert again.replay(written.extend) == 3
    assert written == [contact(2), contact(3), contact(4)] and queued == [contact(n) for n in range(5)]
    again.close()
    assert Journal(tmp_path, submit=queued.append).replay(written.extend) == 0  # a fresh journal after replay


def test_the_journal_empties_once_the_writer_has_everything(tmp_path):
    journal = opened(tmp_path, [])
    journal.submit(contact(1))
    journal.submit(contact(2))
    journal.written(1)
    assert journal.path.stat().st_size > 0
    journal.written(2)
    assert journal.path.stat().st_size == 0
    journal.submit(contact(3))  # numbering goes on: 3 is past the checkpoint
    journal.close()
    written: list = []
    assert Journal(tmp_path, submit=[].append).replay(written.extend) == 1 and written == [contact(3)]
