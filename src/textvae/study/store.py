"""The SQLite store of studies, raters and answers. Every answer is committed (WAL, ``synchronous=FULL``) before
the caller acknowledges it, so a server killed right after loses nothing; an answer given twice is stored once (the
first counts). Each thread keeps its own connection (opened once, its pragmas set once): the store can be shared by
threads and processes. :class:`AnswerWriter` commits the answers that arrive together in one transaction (one
fsync for many raters), acknowledging none before that commit."""

from __future__ import annotations

import json
import queue
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from textvae.errors import TextVAEError
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
CREATE INDEX IF NOT EXISTS items_by_load ON items (study, assigned);
CREATE INDEX IF NOT EXISTS raters_by_study ON raters (study);
"""


MAX_RATERS = 500
"""The raters a new study takes at most unless told otherwise (``--max-raters``; 0: no cap)."""
MAX_POS = 100_000
"""No rater has a question at a position beyond this (a study's questions per rater are fewer)."""


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
        if self.path.is_dir():
            raise TextVAEError(f"--db {self.path}: is a folder; give a database file")
        if not self.path.parent.is_dir():
            raise TextVAEError(f"--db {self.path}: the folder {self.path.parent} does not exist")
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
                raise TextVAEError(f"--db {self.path}: not a usable SQLite database ({exc})") from None
            self._local.db = db
        return db

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        yield self.connection()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed on leaving."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

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
        """What a rater's join page shows of a study (id, name, questions), without counting its answers;
        NotFound for an unknown id."""
        with self._connect() as db:
            row = db.execute("SELECT id, name, questions FROM studies WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no study {sid!r}")
        return dict(zip(("id", "name", "questions"), row, strict=True))

    def add_rater(self, sid: str, seed: int | None = None) -> str:
        """A new rater of study ``sid``: assigned the ``questions`` least-assigned items (ties broken at random),
        each with its sides shown in a random order; returns the rater's token (their link). StudyFull when the
        study has its ``max_raters``."""
        with self._transaction() as db:
            return self._add_rater(db, sid, seed)

    def _add_rater(self, db: sqlite3.Connection, sid: str, seed: int | None = None) -> str:
        """:meth:`add_rater` inside the caller's transaction."""
        rng = random.Random(seed if seed is not None else secrets.randbits(64))
        token = secrets.token_urlsafe(12)
        row = db.execute("SELECT questions, max_raters FROM studies WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no study {sid!r}")
        if row[1] and db.execute("SELECT COUNT(*) FROM raters WHERE study = ?", (sid,)).fetchone()[0] >= row[1]:
            raise StudyFull(f"this study has all the raters it takes ({row[1]}); thank you for your interest")
        # the least-assigned items, ties at the boundary broken at random: every item assigned fewer times than the
        # questions-th least-assigned one, and a random draw of those assigned exactly as often (read through the
        # (study, assigned) index: a join reads about `questions` rows, not the whole study)
        boundary = db.execute("SELECT assigned FROM items WHERE study = ? ORDER BY assigned LIMIT 1 OFFSET ?",
                              (sid, row[0] - 1)).fetchone()
        if boundary is None:  # fewer items than questions: all of them
            chosen = [i for (i,) in db.execute("SELECT idx FROM items WHERE study = ? ORDER BY idx", (sid,))]
        else:
            chosen = [i for (i,) in db.execute("SELECT idx FROM items WHERE study = ? AND assigned < ? ORDER BY idx",
                                               (sid, boundary[0]))]
            ties = [i for (i,) in db.execute("SELECT idx FROM items WHERE study = ? AND assigned = ? ORDER BY idx",
                                             (sid, boundary[0]))]
            chosen += rng.sample(ties, row[0] - len(chosen))
        rng.shuffle(chosen)
        db.execute("INSERT INTO raters VALUES (?, ?, ?)", (token, sid, time.time()))
        db.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?)",
                       [(token, pos, idx, rng.randrange(2)) for pos, idx in enumerate(chosen)])
        db.executemany("UPDATE items SET assigned = assigned + 1 WHERE study = ? AND idx = ?",
                       [(sid, idx) for idx in chosen])
        return token

    def _assignment(self, db: sqlite3.Connection, token: str, pos: int | None = None) -> tuple:
        if pos is not None and not 0 <= pos <= MAX_POS:  # never handed to SQLite (whose integers end at 2^63)
            raise NotFound(f"question {pos}: no rater has a question there")
        rater = db.execute("SELECT r.study, s.kind FROM raters r JOIN studies s ON s.id = r.study WHERE r.token = ?",
                           (token,)).fetchone()
        if rater is None:
            raise NotFound("no such rater: the link is wrong or the study was removed")
        total = db.execute("SELECT COUNT(*) FROM assignments WHERE rater = ?", (token,)).fetchone()[0]
        if pos is None:
            row = db.execute("SELECT MIN(a.pos) FROM assignments a LEFT JOIN answers b ON b.rater = a.rater AND "
                             "b.pos = a.pos WHERE a.rater = ? AND b.pos IS NULL", (token,)).fetchone()
            pos = row[0]
            if pos is None:
                return rater, total, None, None
        got = db.execute("SELECT a.swap, i.payload FROM assignments a JOIN items i ON i.study = ? AND i.idx = a.item "
                         "WHERE a.rater = ? AND a.pos = ?", (rater[0], token, pos)).fetchone()
        if got is None:
            raise NotFound(f"question {pos + 1}: this rater has {total} questions")
        return rater, total, pos, (bool(got[0]), json.loads(got[1]))

    def next_question(self, token: str) -> Question | None:
        """The rater's first unanswered question, or None when all are answered; NotFound for an unknown token."""
        return self.state(token)[0]

    def state(self, token: str) -> tuple[Question | None, int, int]:
        """(next question or None, answered, total) of a rater, read in one connection; NotFound for an unknown
        token."""
        with self._connect() as db:
            (sid, kind), total, pos, item = self._assignment(db, token)
            done = db.execute("SELECT COUNT(*) FROM answers WHERE rater = ?", (token,)).fetchone()[0]
        if item is None:
            return None, done, total
        swap, payload = item
        sides = [x if isinstance(x, list) else [x] for x in payload["sentences"]]
        return Question(sid, kind, pos, total, QUESTION[kind], sides[::-1] if swap else sides, payload.get("input"),
                        CHOICES[kind]), done, total

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

    def _answer(self, db: sqlite3.Connection, token: str, pos: int, choice: str) -> tuple[bool, int, int]:
        """Write one answer inside the caller's transaction: (stored now, answered, total)."""
        (_, kind), total, pos, item = self._assignment(db, token, pos)
        if choice not in CHOICES[kind]:
            raise TextVAEError(f"choice: must be one of {', '.join(CHOICES[kind])}, got {choice!r}")
        swap, payload = item
        stored = choice
        if choice in ("left", "right"):
            stored = payload["systems"][(choice == "right") != swap]
        cur = db.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?)", (token, pos, stored, time.time()))
        done = db.execute("SELECT COUNT(*) FROM answers WHERE rater = ?", (token,)).fetchone()[0]
        return cur.rowcount == 1, done, total

    def write_many(self, jobs: list[tuple[str, object]]) -> list:
        """Answers (``("answer", (token, pos, choice))``) and joins (``("join", sid)``) in one transaction, one
        commit (and fsync) for all: each one's result (:meth:`answer_progress`'s, or a new rater's token), or the
        error that refused it (a refused one writes nothing; the others stand). Nothing is returned before the
        commit."""
        out: list = []
        with self._transaction() as db:
            for i, (kind, args) in enumerate(jobs):
                db.execute(f"SAVEPOINT w{i}")
                try:
                    out.append(self._answer(db, *args) if kind == "answer" else self._add_rater(db, args))
                    db.execute(f"RELEASE w{i}")
                except TextVAEError as exc:
                    db.execute(f"ROLLBACK TO w{i}")
                    db.execute(f"RELEASE w{i}")
                    out.append(exc)
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


class AnswerWriter:
    """The one thread that writes to the store while a server runs, so that writers never wait on each other's
    locks (SQLite's busy handler sleeps up to 100 ms a try: joins stuck behind answers took seconds). Answers
    (:meth:`submit`) are group-committed: as many as are waiting (at most ``batch``) in one transaction, each
    caller's future resolved only after that transaction committed (``synchronous=FULL``: on disk), so one fsync
    serves many raters, and alone an answer is committed as soon as it arrives. Joins (:meth:`join`) are committed
    the same way, in the same transactions. ``close()`` writes what is waiting, then stops."""

    def __init__(self, store: StudyStore, batch: int = 256) -> None:
        self.store, self.batch = store, batch
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
        while True:
            item = self._queue.get()
            if item is None:
                return
            todo, stop = [item], False
            while len(todo) < self.batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                todo.append(nxt)
            self._settle(todo)
            if stop:
                return

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
