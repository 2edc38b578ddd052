"""What the study store keeps of raters between requests always equals what the database holds."""

import pytest

from textvae.study import StudyStore, build_items
from textvae.study.cache import LRU
from textvae.study.store import AnswerWriter

SYSTEMS = {"human": [f"people wrote sentence {i} ." for i in range(40)],
           "vae": [f"a model wrote sentence {i} ." for i in range(40)]}


def _fresh(store: StudyStore, token: str):
    """The rater's state read by a store that keeps nothing yet: the database's."""
    return StudyStore(store.path).state(token)


def test_kept_rater_follows_every_commit(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=6)
    token = store.add_rater(sid, seed=3)
    assert store.cached_state(token) is not None  # kept from its join
    for pos, choice in ((2, "left"), (0, "right"), (2, "tie"), (5, "left"), (1, "tie")):  # out of order, one twice
        stored, done, total = store.answer_progress(token, pos, choice)
        assert store.cached_state(token) == _fresh(store, token)
        assert (done, total) == store.cached_state(token)[1:]
    assert store.cached_state(token)[0].pos == 3


def test_a_rolled_back_transaction_keeps_nothing_it_wrote(tmp_path, monkeypatch):
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=4)
    token = store.add_rater(sid, seed=1)
    written = store._answer_all

    def then_fail(*args):  # the answers are written, then the transaction breaks before its commit
        written(*args)
        raise OSError("disk gone")

    monkeypatch.setattr(store, "_answer_all", then_fail)
    with pytest.raises(OSError):
        store.write_many([("answer", (token, 0, "left")), ("answer", (token, 1, "maybe")), ("join", sid)])
    monkeypatch.undo()
    assert store.state(token) == _fresh(store, token)
    assert store.state(token)[1] == 0 and store.state(token)[0].pos == 0
    got = store.write_many([("answer", (token, 0, "left")), ("answer", (token, 1, "maybe")), ("join", sid)])
    assert got[0] == (True, 1, 4) and "choice" in str(got[1]) and isinstance(got[2], str)
    assert store.cached_state(token) == _fresh(store, token) and store.cached_state(token)[1] == 1
    assert store.cached_state(got[2]) == _fresh(store, got[2])  # the new rater, kept after the commit


def test_the_writer_thread_keeps_raters_exact(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=5)
    writer = AnswerWriter(store)
    try:
        tokens = [writer.join(sid).result() for _ in range(6)]
        for round_ in range(5):
            futures = [writer.submit(t, store.state(t)[0].pos, "tie") for t in tokens]
            assert [f.result()[1] for f in futures] == [round_ + 1] * 6
        assert all(store.cached_state(t) == _fresh(store, t) == (None, 5, 5) for t in tokens)
    finally:
        writer.close()


def test_another_writer_is_noticed_and_the_database_decides(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=4)
    token = store.add_rater(sid, seed=2)
    StudyStore(store.path).answer(token, 1, "tie")  # a second store (another process) writes: this one's kept
    # rater does not know, but the rows SQLite changed disagree with it, so each answer is decided by the database
    got = store.write_many([("answer", (token, 1, "left")), ("answer", (token, 0, "left"))])
    assert got == [(False, 1, 4), (True, 2, 4)]
    assert store.state(token) == _fresh(store, token) and store.state(token)[0].pos == 2


def test_an_evicted_rater_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr("textvae.study.store.RATER_CACHE", 2)
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=3)
    tokens = [store.add_rater(sid) for _ in range(3)]
    assert store.cached_state(tokens[0]) is None  # dropped for the later two
    store.answer(tokens[0], 1, "left")
    assert store.state(tokens[0]) == _fresh(store, tokens[0]) and store.state(tokens[0])[1] == 1


def test_lru_drops_the_least_recent():
    lru = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # now the most recent
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)
    with pytest.raises(ValueError, match="size"):
        LRU(0)


def test_a_burst_of_joins_does_not_hold_up_answers(tmp_path):
    import threading

    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "g", build_items("groups", SYSTEMS), questions=4)
    rater = store.add_rater(sid)
    gate, batches, many = threading.Event(), [], store.write_many

    def held(jobs):  # the first transaction waits at the gate while the rest queue up behind it
        gate.wait(30)
        batches.append([kind for kind, _ in jobs])
        return many(jobs)

    store.write_many = held
    writer = AnswerWriter(store, joins=4)
    try:
        first = writer.join(sid)
        while not writer._queue.empty():  # the writer has taken it (and waits at the gate)
            pass
        joins = [writer.join(sid) for _ in range(10)]
        answer = writer.submit(rater, 0, "left")
        gate.set()
        assert answer.result(timeout=30) == (True, 1, 4)
        tokens = [f.result(timeout=30) for f in [first, *joins]]
    finally:
        writer.close()
    assert batches[0] == ["join"] and batches[1] == ["answer", "join", "join", "join", "join"]
    assert all(b.count("join") <= 4 for b in batches) and sum(map(len, batches)) == 12
    assert len(set(tokens)) == 11 and all(store.cached_state(t) == _fresh(store, t) for t in tokens)


def test_join_page_brief_is_kept_once_read(tmp_path):
    from textvae.study.store import NotFound

    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("groups", "my study", build_items("groups", SYSTEMS), questions=3)
    assert store.cached_brief(sid) is None
    assert store.study_brief(sid) == {"id": sid, "name": "my study", "questions": 3} == store.cached_brief(sid)
    store.cached_brief(sid)["name"] = "changed by a caller"  # a copy: what is kept stays
    assert store.study_brief(sid)["name"] == "my study"
    with pytest.raises(NotFound, match="no study 'nope'"):
        store.study_brief("nope")


def test_a_rater_added_by_another_process_counts_in_the_balance(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    items = build_items("groups", SYSTEMS)  # 8 items
    sid = store.create_study("groups", "g", items, questions=4)
    store.add_rater(sid, seed=0)  # this store keeps the loads now
    other = StudyStore(store.path)  # another process (`study invite`) adds two
    other.add_rater(sid, seed=1)
    other.add_rater(sid, seed=2)
    store.add_rater(sid, seed=3)  # the least assigned as they are now, not as this store last saw them
    import sqlite3

    db = sqlite3.connect(store.path)
    loads = [n for (n,) in db.execute("SELECT COUNT(a.rater) FROM items i LEFT JOIN assignments a ON a.item = i.idx "
                                      "WHERE i.study = ? GROUP BY i.idx", (sid,))]
    assert len(loads) == len(items) and loads == [2] * 8
