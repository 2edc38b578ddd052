"""The SQLite store of studies, raters and answers. Every answer is committed (WAL, ``synchronous=FULL``) before
the caller acknowledges it, so a server killed right after loses nothing; an answer given twice is stored once (the
first counts). Each thread keeps its own connection (opened once, its pragmas set once): the store can be shared by
threads and processes. :class:`AnswerWriter` commits the answers that arrive together in one transaction (one
fsync for many raters), acknowledging none before that commit."""

from __future__ import annotations

import json
import queue
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textvae.errors import BadValue, TextVAEError
from textvae.study.cache import LRU
from textvae.study.items import CHOICES, KINDS, QUESTION

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
    questions INTEGER NOT NULL, created REAL NOT NULL, max_raters INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS items (study TEXT NOT NULL, idx INTEGER NOT NULL, payload TEXT NOT NULL,
    assigned INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (study, idx));
CREATE TABLE IF NOT EXISTS raters (token TEXT PRIMARY KEY, study TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (rater TEXT NOT NULL, pos INTEGER NOT NULL, item INTEGER NOT NULL,
    swap INTEGER NOT NULL, PRIMARY KEY (rater, pos));
CREATE TABLE IF NOT EXISTS answers (rater TEXT NOT NULL, pos INTEGER NOT NULL, choice TEXT NOT NULL,
    answered REAL NOT NULL, PRIMARY KEY (rater, pos));
DROP INDEX IF EXISTS items_by_load;
CREATE INDEX IF NOT EXISTS raters_by_study ON raters (study);
"""


MAX_RATERS = 500
"""The raters a new study takes at most unless told otherwise (``--max-raters``; 0: no cap)."""
MAX_POS = 100_000
"""No rater has a question at a position beyond this (a study's questions per rater are fewer)."""


RATER_CACHE = 20_000
"""Raters a store keeps between requests (their assignment and what they answered)."""
ITEM_CACHE = 100_000
"""Items a store keeps between requests (their sentences)."""


def _ints(db: sqlite3.Connection, sql: str, params: tuple) -> list[int]:
    """The sorted integers of a ``SELECT json_group_array(...)``: many values in one row. SQLite hands each row over
    with the interpreter lock let go and taken back, and in a loaded server every taking back waits behind the event
    loop (up to the 5 ms switch interval), so a join that read its 1,500 candidate items a row at a time took
    seconds under load."""
    return sorted(json.loads(db.execute(sql, params).fetchone()[0]))


def _insert_rows(db: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
    """``sql`` (``INSERT ... VALUES``) followed by as many ``(?, ...)`` groups as ``rows``, 200 rows a statement:
    a statement for many rows, not one a row, since each statement lets go of the interpreter lock and, in a loaded
    server, waits to get it back behind the event loop (rows of at most 4 values stay under SQLite's oldest limit
    of 999 parameters)."""
    group = "(" + ", ".join("?" * len(rows[0])) + ")" if rows else ""
    for at in range(0, len(rows), 200):
        part = rows[at:at + 200]
        db.execute(sql + ",".join([group] * len(part)), [x for row in part for x in row])


@dataclass
class _Rater:
    """What a store keeps of a rater between requests: the study, its kind, the questions (item index and whether
    the sides are swapped, by position) and the positions answered. Only writes keep a rater (a join, or an answer
    inside its transaction, where nothing else can commit), and each commit adds the positions it answered, so a
    kept rater is what the database holds as long as this store is the database's only writer: one server per
    database file."""

    study: str
    kind: str
    slots: list[tuple[int, bool]]
    answered: set[int]


class NotFound(TextVAEError):
    """An unknown study, rater or question (the web app answers 404)."""


class StudyFull(TextVAEError):
    """A study that has all the raters it takes (the web app answers 409)."""


@dataclass
class Question:
    """A rater's question at position ``pos`` (0-based) of ``total``, as the rater sees it: ``sides`` in display
    order (each a list of sentences), ``input`` (reconstruction), the ``question`` text and the ``choices``."""

    study: str
    kind: str
    pos: int
    total: int
    question: str
    sides: list[list[str]]
    input: str | None
    choices: tuple[str, ...]


class StudyStore:
    """Studies in the SQLite file ``path`` (created with its organiser token on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._token: str | None = None
        self._raters: LRU[_Rater] = LRU(RATER_CACHE)
        self._items: LRU[dict] = LRU(ITEM_CACHE)
        self._briefs: LRU[dict] = LRU(RATER_CACHE)
        self._loads: LRU[list] = LRU(1_000)  # study -> [its raters' count, np.ndarray of each item's raters]
        if self.path.is_dir():
            raise BadValue("db", "is a folder; give a database file", self.path)
        if not self.path.parent.is_dir():
            raise BadValue("db", f"the folder {self.path.parent} does not exist", self.path)
        with self._connect() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(studies)")}
            if "max_raters" not in columns:  # a database of textvae before the cap: its studies keep no cap
                db.execute("ALTER TABLE studies ADD COLUMN max_raters INTEGER NOT NULL DEFAULT 0")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('organiser_token', ?)", (secrets.token_urlsafe(18),))

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the database (opened on first use, in autocommit mode: transactions are
        explicit)."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            except sqlite3.DatabaseError as exc:
                raise BadValue("db", f"not a usable SQLite database ({exc})", self.path) from None
            self._local.db = db
        return db

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        yield self.connection()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed on leaving; then the kept raters learn
        what it wrote (``self._local.on_commit``)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            self._local.on_commit = []
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._raters.clear()  # a rater kept inside it may have seen its uncommitted answers,
                self._loads.clear()  # and the loads count its joins
                raise
            for keep in self._local.on_commit:  # what the kept raters learn once it is on disk
                keep()

    @property
    def organiser_token(self) -> str:
        """The token that study creation and results need (made with the database; read once)."""
        if self._token is None:
            with self._connect() as db:
                self._token = db.execute("SELECT value FROM meta WHERE key = 'organiser_token'").fetchone()[0]
        return self._token

    def create_study(self, kind: str, name: str, items: list[dict], questions: int = 50,
                     max_raters: int = MAX_RATERS) -> str:
        """A new study of ``items`` (see :func:`textvae.study.build_items`) in which each rater answers at most
        ``questions`` and at most ``max_raters`` raters join (0: no cap); returns its id."""
        if kind not in KINDS:
            raise TextVAEError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        if not 1 <= questions <= MAX_POS:
            raise TextVAEError(f"questions: must be in 1..{MAX_POS}, got {questions}")
        if max_raters < 0:
            raise TextVAEError(f"max raters: must be >= 0 (0: no cap), got {max_raters}")
        if not items:
            raise TextVAEError("a study needs at least one question")
        sid = secrets.token_hex(4)
        with self._transaction() as db:
            db.execute("INSERT INTO studies (id, kind, name, questions, created, max_raters) VALUES (?, ?, ?, ?, ?, ?)",
                       (sid, kind, name, questions, time.time(), max_raters))
            db.executemany("INSERT INTO items (study, idx, payload) VALUES (?, ?, ?)",
                           [(sid, i, json.dumps(item, ensure_ascii=False)) for i, item in enumerate(items)])
        return sid

    _STUDY = ("SELECT s.id, s.kind, s.name, s.questions, s.max_raters, "
              "(SELECT COUNT(*) FROM items i WHERE i.study = s.id), "
              "(SELECT COUNT(*) FROM raters r WHERE r.study = s.id), "
              "(SELECT COUNT(*) FROM answers a JOIN raters r ON a.rater = r.token WHERE r.study = s.id) "
              "FROM studies s")
    _KEYS = ("id", "kind", "name", "questions", "max_raters", "items", "raters", "answers")

    def studies(self) -> list[dict]:
        """Every study: id, kind, name, questions (per rater), max_raters (0: no cap), items, raters, answers."""
        with self._connect() as db:
            rows = db.execute(self._STUDY + " ORDER BY s.created").fetchall()
        return [dict(zip(self._KEYS, row, strict=True)) for row in rows]

    def study(self, sid: str) -> dict:
        """One study's row (see :meth:`studies`); NotFound for an unknown id."""
        with self._connect() as db:
            row = db.execute(self._STUDY + " WHERE s.id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no study {sid!r}")
        return dict(zip(self._KEYS, row, strict=True))

    def study_brief(self, sid: str) -> dict:
        """What a rater's join page shows of a study (id, name, questions), without counting its answers (kept once
        read: none of it changes); NotFound for an unknown id."""
        return self.cached_brief(sid) or dict(self._read_brief(sid))

    def cached_brief(self, sid: str) -> dict | None:
        """:meth:`study_brief` when it is kept (no read of the database), else None."""
        brief = self._briefs.get(sid)
        return None if brief is None else dict(brief)

    def _read_brief(self, sid: str) -> dict:
        with self._connect() as db:
            row = db.execute("SELECT id, name, questions FROM studies WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no study {sid!r}")
        brief = dict(zip(("id", "name", "questions"), row, strict=True))
        self._briefs.put(sid, brief)
        return brief

    def add_rater(self, sid: str, seed: int | None = None) -> str:
        """A new rater of study ``sid``: assigned the ``questions`` least-assigned items (ties broken at random),
        each with its sides shown in a random order; returns the rater's token (their link). StudyFull when the
        study has its ``max_raters``."""
        with self._transaction() as db:
            return self._add_rater(db, sid, seed)

    def _add_rater(self, db: sqlite3.Connection, sid: str, seed: int | None = None) -> str:
        """:meth:`add_rater` inside the caller's transaction."""
        token = secrets.token_urlsafe(12)
        row = db.execute("SELECT questions, max_raters, kind, (SELECT COUNT(*) FROM raters WHERE study = ?1) "
                         "FROM studies WHERE id = ?1", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no study {sid!r}")
        questions, cap, kind, raters = row
        if cap and raters >= cap:
            raise StudyFull(f"this study has all the raters it takes ({cap}); thank you for your interest")
        # the least-assigned items, ties broken at random, from the loads kept in memory (read again from the
        # assignments when another process or thread added a rater since: the raters' count tells)
        kept = self._loads.get(sid)
        if kept is None or kept[0] != raters:
            kept = [raters, self._read_loads(db, sid)]
            self._loads.put(sid, kept)
        loads = kept[1]
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        chosen = np.lexsort((rng.random(len(loads)), loads))[:questions]
        loads[chosen] += 1  # now, inside the transaction: the next join of this transaction sees it
        kept[0] += 1
        slots = [(int(idx), bool(swap)) for idx, swap in zip(rng.permutation(chosen), rng.integers(0, 2, len(chosen)),
                                                             strict=True)]
        db.execute("INSERT INTO raters VALUES (?, ?, ?)", (token, sid, time.time()))
        _insert_rows(db, "INSERT INTO assignments VALUES ",
                     [(token, pos, idx, int(swap)) for pos, (idx, swap) in enumerate(slots)])
        chosen = [idx for idx, _ in slots]
        missing = [idx for idx in chosen if self._items.get((sid, idx)) is None]
        for at in range(0, len(missing), 900):  # its questions' sentences, kept too
            part = missing[at:at + 900]
            for idx, payload in db.execute(f"SELECT idx, payload FROM items WHERE study = ? AND idx IN "
                                           f"({','.join('?' * len(part))})", (sid, *part)):
                self._items.put((sid, idx), json.loads(payload))
        self._local.on_commit.append(lambda: self._raters.put(token, _Rater(sid, kind, slots, set())))
        return token

    @staticmethod
    def _read_loads(db: sqlite3.Connection, sid: str) -> np.ndarray:
        """How many raters each item of study ``sid`` is assigned to, by item index, from the assignments."""
        (n,) = db.execute("SELECT COUNT(*) FROM items WHERE study = ?", (sid,)).fetchone()
        loads = np.zeros(n, dtype=np.int64)
        got = db.execute("SELECT json_group_array(json_array(item, n)) FROM (SELECT a.item, COUNT(*) AS n FROM "
                         "assignments a JOIN raters r ON r.token = a.rater WHERE r.study = ? GROUP BY a.item)",
                         (sid,)).fetchone()[0]
        for idx, count in json.loads(got):
            loads[idx] = count
        return loads

    def _load_rater(self, db: sqlite3.Connection, token: str) -> _Rater:
        """A rater as the database has it now; NotFound for an unknown token."""
        row = db.execute("SELECT r.study, s.kind FROM raters r JOIN studies s ON s.id = r.study WHERE r.token = ?",
                         (token,)).fetchone()
        if row is None:
            raise NotFound("no such rater: the link is wrong or the study was removed")
        got = db.execute("SELECT json_group_array(json_array(pos, item, swap)) FROM assignments WHERE rater = ?",
                         (token,)).fetchone()[0]
        slots = [(item, bool(swap)) for _, item, swap in sorted(json.loads(got))]
        answered = set(_ints(db, "SELECT json_group_array(pos) FROM answers WHERE rater = ?", (token,)))
        return _Rater(row[0], row[1], slots, answered)

    def _payload(self, db: sqlite3.Connection, sid: str, idx: int) -> dict:
        """Item ``idx`` of study ``sid`` (kept once read: items never change)."""
        payload = self._items.get((sid, idx))
        if payload is None:
            payload = json.loads(db.execute("SELECT payload FROM items WHERE study = ? AND idx = ?",
                                            (sid, idx)).fetchone()[0])
            self._items.put((sid, idx), payload)
        return payload

    @staticmethod
    def _question(rater: _Rater, pos: int, payload: dict) -> Question:
        sides = [x if isinstance(x, list) else [x] for x in payload["sentences"]]
        return Question(rater.study, rater.kind, pos, len(rater.slots), QUESTION[rater.kind],
                        sides[::-1] if rater.slots[pos][1] else sides, payload.get("input"), CHOICES[rater.kind])

    def next_question(self, token: str) -> Question | None:
        """The rater's first unanswered question, or None when all are answered; NotFound for an unknown token."""
        return self.state(token)[0]

    def state(self, token: str) -> tuple[Question | None, int, int]:
        """(next question or None, answered, total) of a rater; NotFound for an unknown token."""
        got = self.cached_state(token)
        if got is not None:
            return got
        with self._connect() as db:
            rater = self._raters.get(token) or self._load_rater(db, token)  # kept only by writes (see _Rater)
            return self._state(rater, lambda key: self._payload(db, *key))

    def cached_state(self, token: str) -> tuple[Question | None, int, int] | None:
        """:meth:`state` when it needs no read of the database (the rater and the question are kept), else None:
        cheap enough for a server's event loop."""
        rater = self._raters.get(token)
        return None if rater is None else self._state(rater, self._items.get)

    def _state(self, rater: _Rater, payload_of) -> tuple[Question | None, int, int] | None:
        """:meth:`state` of ``rater``, its question's item from ``payload_of((study, idx))`` (None: not at hand)."""
        pos = next((pos for pos in range(len(rater.slots)) if pos not in rater.answered), None)
        if pos is None:
            return None, len(rater.answered), len(rater.slots)
        payload = payload_of((rater.study, rater.slots[pos][0]))
        if payload is None:
            return None
        return self._question(rater, pos, payload), len(rater.answered), len(rater.slots)

    def progress(self, token: str) -> tuple[int, int]:
        """(answered, total) questions of a rater; NotFound for an unknown token."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM raters WHERE token = ?", (token,)).fetchone() is None:
                raise NotFound("no such rater: the link is wrong or the study was removed")
            total = db.execute("SELECT COUNT(*) FROM assignments WHERE rater = ?", (token,)).fetchone()[0]
            done = db.execute("SELECT COUNT(*) FROM answers WHERE rater = ?", (token,)).fetchone()[0]
        return done, total

    def answer(self, token: str, pos: int, choice: str) -> bool:
        """Store a rater's ``choice`` (as shown: left/right/tie, yes/no) for question ``pos``, committed before
        returning. Returns False when that question was already answered (the first answer stands)."""
        return self.answer_progress(token, pos, choice)[0]

    def answer_progress(self, token: str, pos: int, choice: str) -> tuple[bool, int, int]:
        """:meth:`answer`, and the rater's (answered, total) after it, in the same transaction."""
        with self._transaction() as db:
            return self._answer(db, token, pos, choice)

    def _checked(self, db: sqlite3.Connection, token: str, pos: int, choice: str) -> tuple[_Rater, str]:
        """The rater of an answer and the choice as stored (a system's name for left/right), or the error that
        refuses the answer; read inside a write transaction, where nothing else commits between a rater's read and
        its keeping."""
        if not 0 <= pos <= MAX_POS:  # never handed to SQLite (whose integers end at 2^63)
            raise NotFound(f"question {pos}: no rater has a question there")
        rater = self._raters.get(token)
        if rater is None:
            rater = self._load_rater(db, token)
            self._raters.put(token, rater)
        total = len(rater.slots)
        if pos >= total:
            raise NotFound(f"question {pos + 1}: this rater has {total} questions")
        if choice not in CHOICES[rater.kind]:
            raise TextVAEError(f"choice: must be one of {', '.join(CHOICES[rater.kind])}, got {choice!r}")
        idx, swap = rater.slots[pos]
        if choice in ("left", "right"):
            return rater, self._payload(db, rater.study, idx)["systems"][(choice == "right") != swap]
        return rater, choice

    def _answer(self, db: sqlite3.Connection, token: str, pos: int, choice: str) -> tuple[bool, int, int]:
        """Write one answer inside the caller's transaction: (stored now, answered, total), read from the
        database."""
        rater, stored = self._checked(db, token, pos, choice)
        cur = db.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?)", (token, pos, stored, time.time()))
        done = db.execute("SELECT COUNT(*) FROM answers WHERE rater = ?", (token,)).fetchone()[0]
        self._local.on_commit.append(lambda: rater.answered.add(pos))
        return cur.rowcount == 1, done, len(rater.slots)

    def _answer_all(self, db: sqlite3.Connection, jobs: list[tuple[int, tuple[str, int, str]]], out: list) -> None:
        """Write answers ``(i, (token, pos, choice))`` inside the caller's transaction, each result (or refusal)
        at ``out[i]``, in one statement per 200: each statement lets go of the interpreter lock and waits to get it
        back while the server's event loop runs, so one a batch, not four an answer, is what lets the writer keep
        up. What is new and each rater's count come from the kept raters; the rows SQLite changed must agree, or
        the database decides one answer at a time (another process wrote to it)."""
        now, fresh, planned = time.time(), {}, []
        for i, (token, pos, choice) in jobs:
            try:
                rater, stored = self._checked(db, token, pos, choice)
            except TextVAEError as exc:
                out[i] = exc
                continue
            new = pos not in rater.answered and (token, pos) not in fresh
            if new:
                fresh[token, pos] = (rater, stored)
            planned.append((i, token, rater, new))
        rows = [(token, pos, stored, now) for (token, pos), (_, stored) in fresh.items()]
        db.execute("SAVEPOINT answers")
        before = db.total_changes
        _insert_rows(db, "INSERT OR IGNORE INTO answers VALUES ", rows)
        if db.total_changes - before != len(rows):
            db.execute("ROLLBACK TO answers")
            db.execute("RELEASE answers")
            for token, _ in fresh:
                self._raters.drop(token)
            for i, args in jobs:
                if not isinstance(out[i], BaseException):
                    out[i] = self._savepoint(db, f"a{i}", self._answer, *args)
            return
        db.execute("RELEASE answers")
        counts: dict[str, int] = {}
        for i, token, rater, new in planned:
            counts[token] = counts.get(token, len(rater.answered)) + new
            out[i] = (new, counts[token], len(rater.slots))
        self._local.on_commit += [lambda rater=rater, pos=pos: rater.answered.add(pos)
                                  for (_, pos), (rater, _) in fresh.items()]

    def _savepoint(self, db: sqlite3.Connection, name: str, fn, *args):
        """``fn(db, *args)`` inside a savepoint: its result, or the TextVAEError that refused it (then nothing of it
        is written or kept)."""
        db.execute(f"SAVEPOINT {name}")
        kept = len(self._local.on_commit)
        try:
            got = fn(db, *args)
        except TextVAEError as exc:
            db.execute(f"ROLLBACK TO {name}")
            db.execute(f"RELEASE {name}")
            del self._local.on_commit[kept:]  # what it would have kept was not written
            return exc
        db.execute(f"RELEASE {name}")
        return got

    def write_many(self, jobs: list[tuple[str, object]]) -> list:
        """Answers (``("answer", (token, pos, choice))``) and joins (``("join", sid)``) in one transaction, one
        commit (and fsync) for all: each one's result (:meth:`answer_progress`'s, or a new rater's token), or the
        error that refused it (a refused one writes nothing; the others stand). Nothing is returned before the
        commit. The joins are written first (no answer can be a new rater's: its token is not out yet)."""
        out: list = [None] * len(jobs)
        with self._transaction() as db:
            for i, (kind, args) in enumerate(jobs):
                if kind == "join":
                    out[i] = self._savepoint(db, f"j{i}", self._add_rater, args)
            self._answer_all(db, [(i, args) for i, (kind, args) in enumerate(jobs) if kind == "answer"], out)
        return out

    def answers(self, sid: str) -> list[dict]:
        """Every answer of study ``sid``: rater, pos, item, systems, sentences, choice (a system name, ``tie``,
        ``yes`` or ``no``), answered (Unix time)."""
        self.study(sid)
        with self._connect() as db:
            rows = db.execute(
                "SELECT b.rater, b.pos, a.item, i.payload, b.choice, b.answered FROM answers b "
                "JOIN assignments a ON a.rater = b.rater AND a.pos = b.pos JOIN raters r ON r.token = b.rater "
                "JOIN items i ON i.study = r.study AND i.idx = a.item WHERE r.study = ? ORDER BY b.answered",
                (sid,)).fetchall()
        out = []
        for rater, pos, item, payload, choice, answered in rows:
            p = json.loads(payload)
            out.append({"rater": rater, "pos": pos, "item": item, "systems": p["systems"], "input": p.get("input"),
                        "sentences": p["sentences"], "choice": choice, "answered": answered})
        return out


_EMPTY = object()


class AnswerWriter:
    """The one thread that writes to the store while a server runs, so that writers never wait on each other's
    locks (SQLite's busy handler sleeps up to 100 ms a try: joins stuck behind answers took seconds). Answers
    (:meth:`submit`) are group-committed: as many as are waiting (at most ``batch``) in one transaction, each
    caller's future resolved only after that transaction committed (``synchronous=FULL``: on disk), so one fsync
    serves many raters, and alone an answer is committed as soon as it arrives. Joins (:meth:`join`) are committed
    the same way, in the same transactions, but at most ``joins`` in each (a join takes about 0.5 ms, an answer
    about 0.01): a burst of raters joining does not hold up the answers of those already answering.
    ``close()`` writes what is waiting, then stops."""

    def __init__(self, store: StudyStore, batch: int = 256, joins: int = 32) -> None:
        self.store, self.batch, self.joins = store, batch, joins
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="textvae-writer", daemon=True)
        self._thread.start()

    def submit(self, token: str, pos: int, choice: str) -> Future:
        """A future of (stored now, answered, total), or of the error that refused the answer."""
        fut: Future = Future()
        self._queue.put(("answer", (token, pos, choice), fut))
        return fut

    def join(self, sid: str) -> Future:
        """A future of a new rater's token of study ``sid`` (:meth:`StudyStore.add_rater`), or of its error."""
        fut: Future = Future()
        self._queue.put(("join", sid, fut))
        return fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        joins: deque = deque()  # joins waiting for a transaction: at most `self.joins` go into each
        stop = False
        while not stop or joins:
            answers: list = []
            if not stop:
                item = self._queue.get() if not joins else self._next()  # block only when nothing waits
                while item is not _EMPTY:
                    if item is None:  # close(): what is waiting is written, then the thread ends
                        stop = True
                        break
                    (joins if item[0] == "join" else answers).append(item)
                    if len(answers) >= self.batch:
                        break
                    item = self._next()
            todo = answers + [joins.popleft() for _ in range(min(self.joins, len(joins)))]
            if todo:
                self._settle(todo)

    def _next(self):
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return _EMPTY

    def _settle(self, todo: list[tuple[str, object, Future]]) -> None:
        """Write ``todo`` in one transaction and resolve each future with its result (or the error that refused
        it), or all of them with the error that stopped the transaction (then nothing of it was committed)."""
        try:
            results = self.store.write_many([(kind, args) for kind, args, _ in todo])
        except BaseException as exc:
            for *_, fut in todo:
                fut.set_exception(exc)
            return
        for (*_, fut), result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
