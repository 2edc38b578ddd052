"""Load test of `textvae web` on 127.0.0.1: simulated raters answering a blind study concurrently while a user
decodes in the explorer, then the same with the server killed (SIGKILL) and restarted twice.

    pip install -e ".[web,bench]"   # uvicorn with uvloop and httptools; aiohttp for the load generator
    python benchmarks/web.py [--raters 200] [--questions 50] [--run runs/quick] [--phases steady,killed]

Each phase is bounded: every rater joins, then answers its questions one after another (fetch the question, post a
choice), so a phase makes exactly raters x (2 + 2 x questions) requests (the join page, the join, and a question and
an answer each) and stops. Raters run concurrently (one asyncio task each, one HTTP client and connection each).
Meanwhile one explorer user, a process of its own, reconstructs a sentence every 0.5 s. An answer counts as
acknowledged when the server answered 200; after the phase the database is read directly and every acknowledged
(rater, question) must be in it. In the kill phase, a rater whose request fails (the server is down) retries it
until the server is back; the first answer stands, so a retried answer that was stored before the kill is
acknowledged then (stored: false) and counted once.

The server is `python -m textvae.cli web` in its own process (uvicorn; decodes in a model process of its own), the
explorer serves the README's quick demo run (a 256-unit LSTM VAE over a 3,000-word vocabulary; trained for 200 steps
here if runs/quick is missing). Client and server share this machine's cores.
Writes benchmarks/web.md and benchmarks/web.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402
from runner import ROOT, train_or_resume  # noqa: E402

from textvae.atomic import write_json_atomic, write_text_atomic  # noqa: E402
from textvae.study import StudyStore, build_items  # noqa: E402

SENTENCE = "the food was great and the service was friendly ."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: Path, db: Path, port: int, src: Path | None = None) -> tuple[subprocess.Popen, float]:
    """Start `textvae web` (from the package folder ``src`` when given: another version of textvae); returns it
    and the seconds until it answered."""
    tic = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    cmd = [sys.executable, "-m", "textvae.cli", "web", "--runs", str(runs), "--db", str(db), "--port", str(port)]
    helptext = subprocess.run([*cmd[:4], "--help"], env=env, capture_output=True, text=True).stdout
    if "--join-rate" in helptext:  # every simulated rater joins from 127.0.0.1 (versions before it had no limit)
        cmd += ["--join-rate", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with httpx.Client(timeout=2) as c:
        while True:
            try:
                r = c.get(f"http://127.0.0.1:{port}/api/runs")
                if r.status_code == 200:
                    return proc, time.perf_counter() - tic
                proc.kill()
                raise RuntimeError(f"textvae web answered {r.status_code} at start: {r.text[:300]}")
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError("textvae web exited at start") from None
                time.sleep(0.05)


def ensure_run(run: Path) -> Path:
    if (run / "best.safetensors").is_file():
        return run
    run = ROOT / "runs" / "bench" / "web" / "quick"
    train_or_resume(run, ROOT / "recipes" / "quick.yaml", ["train.max_steps=200"], progress=True)
    return run


def headline(x: dict) -> dict:
    """The figures issue 33 names, of one phase."""
    return {"answers_per_s": x["answers_per_s"], "p99_ms": x["answer"]["p99_ms"],
            "question_p99_ms": x["question"]["p99_ms"], "join_p99_ms": x["join"]["p99_ms"],
            "decode_p99_ms": x["decode_under_load"].get("p99_ms"), "decode_idle_p50_ms": x["decode_idle"]["p50_ms"]}


def percentiles(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    a = np.array(xs) * 1000
    return {"n": len(xs), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max())}


class Answer:
    """A response as the raters read it: status_code and json()."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.body = status, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Phase:
    """One bounded load phase against the server at ``port``; ``kill_at`` (fractions of all answers) kills and
    restarts the server once that many are acknowledged, once per fraction."""

    def __init__(self, args, runs: Path, db: Path, sid: str, port: int, proc, kill_at: tuple = (),
                 src: Path | None = None, rate: float | None = None) -> None:
        self.args, self.runs, self.db, self.sid, self.port, self.proc = args, runs, db, sid, port, proc
        self.rate = rate
        self.src = src
        self.url = f"http://127.0.0.1:{port}"
        self.kill_at = list(kill_at)
        self.killing = False
        self.acked: set[tuple[str, int]] = set()
        self.answer_s: list[float] = []
        self.question_s: list[float] = []
        self.join_s: list[float] = []
        self.join_page_s: list[float] = []
        self.decode_s: list[float] = []
        self.failed_requests = 0
        self.already_stored = 0
        self.restarts: list[dict] = []
        self.running = True
        self.rng = random.Random(0)

    async def call(self, client: aiohttp.ClientSession, method: str, path: str, **kw) -> tuple[Answer, float]:
        """One request, retried while the server is down (kill phase), with its latency in seconds."""
        deadline = time.perf_counter() + 120
        while True:
            tic = time.perf_counter()
            try:
                async with client.request(method, self.url + path, **kw) as r:
                    body = await r.read()
                    if r.status < 500:
                        return Answer(r.status, body), time.perf_counter() - tic
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            self.failed_requests += 1
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{method} {path}: the server did not come back")
            await asyncio.sleep(0.05)

    async def rater(self, client: aiohttp.ClientSession) -> None:
        every = self.args.raters / self.rate if self.rate else 0.0  # paced: this rater's seconds between questions
        due = time.perf_counter() + self.rng.uniform(0, every)  # paced: raters arrive out of step, as people do
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        # as a browser does: the join page first (its connection made then), then the join
        r, dt = await self.call(client, "GET", f"/s/{self.sid}")
        self.join_page_s.append(dt)
        r, dt = await self.call(client, "POST", f"/api/studies/{self.sid}/join")
        self.join_s.append(dt)
        token = r.json()["rater"]
        due = time.perf_counter()  # paced: the first question at once, then one every `every` seconds
        while True:
            if every:  # the next question when it is due (at once if this rater is behind)
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += every
            r, dt = await self.call(client, "GET", f"/api/r/{token}")
            self.question_s.append(dt)
            q = r.json()["question"]
            if q is None:
                return
            choice = self.rng.choice(q["choices"])
            r, dt = await self.call(client, "POST", f"/api/r/{token}", json={"pos": q["pos"], "choice": choice})
            if r.status_code != 200:
                raise RuntimeError(f"answer refused: {r.status_code} {r.text}")
            self.answer_s.append(dt)
            self.already_stored += not r.json()["stored"]
            self.acked.add((token, q["pos"]))
            await self.maybe_kill()

    async def maybe_kill(self) -> None:
        total = self.args.raters * self.args.questions
        n = len(self.restarts)
        if self.killing or n == len(self.kill_at) or len(self.acked) < self.kill_at[n] * total:
            return
        self.killing = True
        record = {"acknowledged_at_kill": len(self.acked)}
        self.restarts.append(record)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        tic = time.perf_counter()
        self.proc, up = await asyncio.to_thread(start_server, self.runs, self.db, self.port, self.src)
        record["down_s"] = time.perf_counter() - tic
        self.killing = False

    async def one_rater(self) -> None:
        # a client of its own, as a rater's browser is (one shared httpx pool of 200 connections scanned all of
        # them on every request, which made the load generator, not the server, the limit); aiohttp: the lighter
        # client, so that more of the two cores are the server's
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                         timeout=aiohttp.ClientTimeout(total=60)) as client:
            await self.rater(client)

    async def go(self, run: str) -> dict:
        # the explorer user is a process of its own, as a browser is: timed in the raters' event loop, a decode
        # would count the load generator's own queueing, not the server's
        ctx = multiprocessing.get_context("spawn")
        stop, latencies = ctx.Event(), ctx.Queue()
        user = ctx.Process(target=explorer_user, args=(self.url, run, stop, latencies))
        user.start()
        tic = time.perf_counter()
        await asyncio.gather(*(self.one_rater() for _ in range(self.args.raters)))
        wall = time.perf_counter() - tic
        stop.set()
        self.decode_s = latencies.get(timeout=120)
        user.join()
        with sqlite3.connect(self.db) as db:
            stored = set(db.execute("SELECT b.rater, b.pos FROM answers b JOIN raters r ON r.token = b.rater "
                                    "WHERE r.study = ?", (self.sid,)).fetchall())
        return {"raters": self.args.raters, "questions": self.args.questions,
                "requests": self.args.raters * (2 + 2 * self.args.questions) + (self.failed_requests or 0),
                "acknowledged": len(self.acked), "stored": len(stored),
                "acknowledged_missing": len(self.acked - stored), "stored_unacknowledged": len(stored - self.acked),
                "wall_s": wall, "answers_per_s": len(self.acked) / wall,
                "answer": percentiles(self.answer_s), "question": percentiles(self.question_s),
                "join": percentiles(self.join_s), "join_page": percentiles(self.join_page_s),
                "decode_under_load": percentiles(self.decode_s), "failed_requests_retried": self.failed_requests,
                "resent_already_stored": self.already_stored,
                "restarts": self.restarts, "p99_ms": percentiles(self.answer_s)["p99_ms"]}


USER_EVERY = 0.5
"""The explorer user starts a reconstruction every this many seconds (or when the last one ends, if later)."""


def explorer_user(url: str, run: str, stop, out) -> None:
    """One explorer user reconstructing a sentence every USER_EVERY seconds until ``stop``; puts the latencies (s)
    of the answered requests on ``out``."""
    seen, tic = [], time.perf_counter()
    with httpx.Client(timeout=60) as client:
        while not stop.wait(max(0.0, USER_EVERY - (time.perf_counter() - tic))):
            tic = time.perf_counter()
            try:
                r = client.post(f"{url}/api/runs/{run}/reconstruct", json={"sentence": SENTENCE, "samples": 3})
            except httpx.TransportError:  # the server is down (kill phase)
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                seen.append(time.perf_counter() - tic)
    out.put(seen)


async def idle_decodes(url: str, run: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(n):
            tic = time.perf_counter()
            r = await client.post(f"{url}/api/runs/{run}/reconstruct", json={"sentence": SENTENCE, "samples": 3})
            r.raise_for_status()
            out.append(time.perf_counter() - tic)
    return out


def run_loop(coro):
    """Run ``coro`` on uvloop's event loop where it is installed (the web extra brings it), else asyncio's: the
    raters' client then takes less of the cores it shares with the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def make_study(db: Path, questions: int) -> str:
    rng = random.Random(0)
    words = "the food was service great bad friendly slow we will come back never again place staff".split()
    systems = {name: [" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) for _ in range(2500)]
               for name in ("human", "vae", "mu_forcing")}
    return StudyStore(db).create_study("groups", "load test", build_items("groups", systems), questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raters", type=int, default=200)
    ap.add_argument("--questions", type=int, default=50)
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "quick")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--phases", default="steady,paced,killed",
                    help="any of steady, paced and killed (comma-separated); the report needs all three")
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="answers/s that the raters of the paced phase offer together (the target throughput)")
    ap.add_argument("--baseline-src", type=Path, help="the src/ folder of another textvae (e.g. a worktree of an "
                                                       "older commit): its server runs the steady phase first, in "
                                                       "this same run, for the side-by-side ratios")
    ap.add_argument("--baseline-run", type=Path, help="with --baseline-src: a copy of --run whose config.yaml that "
                                                       "version reads (default: --run)")
    args = ap.parse_args()
    run = ensure_run(args.run)
    report = {"machine": machine_info("cpu"), "run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run)}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        (runs / "quick").symlink_to(run.resolve(), target_is_directory=True)
        baseline_runs = Path(tmp) / "baseline_runs"
        baseline_runs.mkdir()
        (baseline_runs / "quick").symlink_to((args.baseline_run or run).resolve(), target_is_directory=True)
        phases = [("steady", (), None, None), ("paced", (), None, args.rate),
                  ("killed", (1 / 3, 2 / 3), None, None)]  # killed: SIGKILL at 1/3 and 2/3
        phases = [x for x in phases if x[0] in args.phases.split(",")]
        if args.baseline_src:
            phases.insert(0, ("baseline", (), args.baseline_src.resolve(), None))
        for name, kill_at, src, rate in phases:
            db = Path(tmp) / f"{name}.sqlite"
            sid = make_study(db, args.questions)
            port = free_port()
            folder = baseline_runs if name == "baseline" else runs
            proc, startup = start_server(folder, db, port, src)
            try:
                idle = asyncio.run(idle_decodes(f"http://127.0.0.1:{port}", "quick", 20))
                print(f"{name}: {args.raters} raters x {args.questions} answers ...", file=sys.stderr, flush=True)
                phase = Phase(args, folder, db, sid, port, proc, kill_at, src, rate)
                res = run_loop(phase.go("quick"))
                proc = phase.proc
            finally:
                proc.terminate()
                proc.wait()
            res["startup_s"] = startup
            res["decode_idle"] = percentiles(idle)
            report[name] = res
            print(json.dumps({k: res[k] for k in ("acknowledged", "stored", "answers_per_s", "p99_ms")}),
                  file=sys.stderr, flush=True)
    for name in ("steady", "paced", "killed"):
        if name in report:
            print(json.dumps({"phase": name, **headline(report[name])}), file=sys.stderr, flush=True)
    if not {"steady", "paced", "killed"} <= report.keys():  # a quick look at some phases: nothing written
        return
    s = report["steady"]
    p, k = report["paced"], report["killed"]
    report.update({"raters": args.raters, "rate": args.rate, "acknowledged": s["acknowledged"] + k["acknowledged"],
                   "stored": s["stored"] + k["stored"], "answers_per_s": s["answers_per_s"],
                   **{key: v for key, v in headline(p).items() if key != "answers_per_s"},
                   "saturated": headline(s)})
    if "baseline" in report:
        b = report["baseline"]
        report["side_by_side"] = {
            "baseline_src": str(args.baseline_src), "answers_per_s": [b["answers_per_s"], s["answers_per_s"]],
            "answers_per_s_ratio": s["answers_per_s"] / b["answers_per_s"],
            "p99_ms": [b["answer"]["p99_ms"], s["answer"]["p99_ms"]],
            "question_p99_ms": [b["question"]["p99_ms"], s["question"]["p99_ms"]],
            "join_p99_ms": [b["join"]["p99_ms"], s["join"]["p99_ms"]],
            "decode_p99_ms": [b["decode_under_load"].get("p99_ms"), s["decode_under_load"].get("p99_ms")]}
    report["claims"] = [
        {"claim": "every answer the server acknowledged is stored (no server restart)",
         "holds": s["acknowledged"] == s["stored"] == args.raters * args.questions and s["acknowledged_missing"] == 0,
         "figures": {k2: s[k2] for k2 in ("acknowledged", "stored", "acknowledged_missing")}},
        {"claim": "every acknowledged answer survives kill -9 and a restart, twice, counted once",
         "holds": k["acknowledged_missing"] == 0 and k["acknowledged"] == k["stored"] == args.raters * args.questions
         and len(k["restarts"]) == 2,
         "figures": {k2: k[k2] for k2 in ("acknowledged", "stored", "acknowledged_missing", "stored_unacknowledged")}
         | {"acknowledged_at_kills": [x["acknowledged_at_kill"] for x in k["restarts"]]}},
        {"claim": "target: at least 1,000 answers/s (steady: every rater answers the moment it is answered)",
         "holds": s["answers_per_s"] >= 1000, "figures": {"answers_per_s": s["answers_per_s"]}},
    ]
    spread = f"arriving over {args.raters / args.rate:.1f} s"
    for name, x, joining in ((f"paced at {args.rate:,.0f} answers/s", p, spread),
                             ("steady, saturated", s, f"{args.raters} at once")):
        report["claims"] += [
            {"claim": f"target ({name}): answer and question p99 at most 100 ms",
             "holds": x["answer"]["p99_ms"] <= 100 and x["question"]["p99_ms"] <= 100,
             "figures": {"answers_per_s": x["answers_per_s"], "answer_p99_ms": x["answer"]["p99_ms"],
                         "question_p99_ms": x["question"]["p99_ms"]}},
            {"claim": f"target ({name}): joining a study ({joining}) has a p99 of at most 200 ms",
             "holds": x["join"]["p99_ms"] <= 200,
             "figures": {"join_p99_ms": x["join"]["p99_ms"], "join_page_p99_ms": x["join_page"]["p99_ms"]}},
            {"claim": f"target ({name}): a decode in the explorer has a p99 of at most 3x its idle p50",
             "holds": x["decode_under_load"].get("p99_ms", 1e9) <= 3 * x["decode_idle"]["p50_ms"],
             "figures": {"idle_p50_ms": x["decode_idle"]["p50_ms"],
                         "load_p50_ms": x["decode_under_load"].get("p50_ms"),
                         "load_p99_ms": x["decode_under_load"].get("p99_ms")}},
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "web.json", report)
    write_text_atomic(args.out / "web.md", markdown(report))
    print(f"wrote {args.out / 'web.md'}", file=sys.stderr)


LIMITS = [
    "## Where the time goes",
    "",
    "Profiled with py-spy and timed inside the server (2026-12-04, the same 2-core machine).",
    "",
    "- **The load generator** was the first limit: its one httpx client pooled all 200 connections and scanned "
    "them on every request (54% of its time). Each rater now has an aiohttp client of its own, on uvloop; it still "
    "takes about half of the two cores (about 250 us of CPU a request), which the server cannot use.",
    "- **Model work** ran in the server's thread pool and waited for the interpreter lock behind every rater's "
    "request (decode p99 1.2-1.3 s against 34 ms idle); it now runs in a model process of the server's own, behind "
    "a bounded queue (503 when full).",
    "- **Question pages** read five rows through a thread of the io pool each time (35% of the server's samples "
    "were the rater lookup). The store now keeps each rater's assignment and answered positions, and each item's "
    "sentences, between requests (`textvae.study.cache`): a question is answered on the event loop without the "
    "database (2.5 us against 25 us, and no hop between threads). What is kept follows each commit, so it is what "
    "the database holds as long as one server writes to it; a transaction that fails forgets it, and an answer "
    "batch whose changed rows disagree with it (another process wrote) is decided by the database, one answer at "
    "a time. Server CPU per request: 270 -> 200 us.",
    "- **The writer thread starved**: every SQLite statement, and every row a query hands over, lets go of the "
    "interpreter lock and must take it back from a busy event loop (up to the 5 ms switch interval). Timed inside "
    "the server, a group commit of 32 answers took 7 ms (0.7 ms an answer, 16 us alone), and a join, which read "
    "1,500 candidate items a row at a time and updated 50 one statement each, took 0.85 ms. Now a batch of "
    "answers is one INSERT, a join reads the study in one row and keeps each item's load in memory (numpy: the "
    "least assigned, ties at random, checked against the raters' count so that a rater added by another process "
    "is seen), and its assignments are one INSERT: 0.27 ms a join alone (was 0.64), 7 us an answer.",
    "- **Joins held up answers**: a burst of 200 joins in one transaction made every answer behind it wait for "
    "all of them. A transaction now takes at most 32 joins beside all waiting answers.",
    "",
    "What is left is the CPU of two cores shared by the server (about 0.9 of a core), the load generator (about "
    "1.1) and the model process. In the steady phase every rater sends its next request the moment the last is "
    "answered, so 200 requests are always in flight and by Little's law the mean latency is 200 / (requests per "
    "second): about 45 ms at 4,400 requests/s, with a p99 about three times that; the answer and question targets "
    "cannot hold there, and 200 joins at once take 200-340 ms at p99. At the target rate (the paced phase) they "
    "mostly hold, but not in every run: across this session's eight paced runs with the final code the answer p99 "
    "was 43-119 ms (over 100 ms in 2 of 8), question p99 9-46 ms, join p99 71-187 ms and decode p99 1.7-2.4x its "
    "idle p50. The tail is the start: timed by when each answer finished, answers in the first second, while the "
    "200 raters are still joining, had a p99 of 89-130 ms, and those after it 19-58 ms. Runs vary by about 10% in "
    "answers/s and by up to 2x in p99 on this shared VM.",
]
"""What the profile of this benchmark found (issue 33), written under the table."""


def markdown(r: dict) -> str:
    m, s, k = r["machine"], r["steady"], r["killed"]

    def row(name: str, x: dict) -> str:
        return (f"| {name} | {x['acknowledged']:,} | {x['stored']:,} | {x['acknowledged_missing']} | "
                f"{x['answers_per_s']:.0f} | {x['answer']['p50_ms']:.1f} | {x['answer']['p99_ms']:.1f} | "
                f"{x['question']['p50_ms']:.1f} | {x['question']['p99_ms']:.1f} | {x['join']['p99_ms']:.1f} | "
                f"{x['decode_idle']['p50_ms']:.0f} | {x['decode_under_load'].get('p50_ms', float('nan')):.0f} | "
                f"{x['decode_under_load'].get('p99_ms', float('nan')):.0f} | {x['wall_s']:.1f} |")

    lines = [
        "# textvae web under load",
        "",
        f"Measured {m['date']} on {m.get('cpu', '?')} ({m.get('cpu_count', '?')} logical CPUs, load average "
        f"{m.get('loadavg_at_start', ['?'])[0]} at start), client and server on the same machine, 127.0.0.1. "
        "Regenerate with `python benchmarks/web.py` (see its docstring for the method).",
        "",
        f"{r['raters']} simulated raters join one blind groups study (mu-Forcing's Fig. 7 kind: 3 systems, 1,500 "
        f"questions) and answer {s['questions']} questions each, all at once, one connection each: "
        f"{r['raters'] * (2 + 2 * s['questions']):,} requests per phase (each rater a client of its own: the join "
        "page, the join, then a question and an answer at a time). Meanwhile one explorer user, a process of its "
        f"own, reconstructs a sentence (posterior mean + 3 samples, greedy) from `{r['run']}` every 0.5 s. Every "
        "answer is committed (SQLite WAL, synchronous=FULL) before its 200; answers and joins that arrive together "
        "share one transaction (group commit), and decodes run in a model process of the server's own.",
        "",
        "| phase | acknowledged | stored | acknowledged but missing | answers/s | answer p50 ms | answer p99 ms | "
        "question p50 ms | question p99 ms | join p99 ms | decode idle p50 ms | decode under load p50 ms | p99 ms | "
        "wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        row("steady (saturated: each rater asks again the moment it is answered; 200 join at once)", s),
        row(f"paced at {r['rate']:,.0f} answers/s (raters arrive over the first {r['raters'] / r['rate']:.1f} s, "
            f"then each answers every {r['raters'] / r['rate']:.1f} s)", r["paced"]),
        row("killed twice (at 1/3 and 2/3) and restarted", k),
        *([row("steady, the baseline server (`--baseline-src`)", r["baseline"])] if "baseline" in r else []),
        "",
        "Kill phase: the server was killed with SIGKILL twice, once "
        + " and once ".join(f"{x['acknowledged_at_kill']:,} answers had been acknowledged (it answered again "
                            f"{x['down_s']:.1f} s later)" for x in k["restarts"])
        + f", each time restarted (start-up of a fresh process: {k['startup_s']:.1f} s). Raters retried "
        f"{k['failed_requests_retried']:,} failed requests while it was down; the latencies above count only "
        f"requests that got an answer. Answers stored whose acknowledgement was lost in a kill and that were sent "
        f"again: {k['resent_already_stored']} (acknowledged on the retry, stored once); stored but never "
        f"acknowledged: {k['stored_unacknowledged']}.",
        "",
        *([f"Side by side in this run, the same load against the baseline server ({r['side_by_side']['baseline_src']})"
           f" and this one: {r['side_by_side']['answers_per_s'][0]:.0f} -> {r['side_by_side']['answers_per_s'][1]:.0f}"
           f" answers/s ({r['side_by_side']['answers_per_s_ratio']:.1f}x); answer p99 "
           f"{r['side_by_side']['p99_ms'][0]:.0f} -> {r['side_by_side']['p99_ms'][1]:.0f} ms, join p99 "
           f"{r['side_by_side']['join_p99_ms'][0]:.0f} -> {r['side_by_side']['join_p99_ms'][1]:.0f} ms, decode p99 "
           f"{r['side_by_side']['decode_p99_ms'][0]:.0f} -> {r['side_by_side']['decode_p99_ms'][1]:.0f} ms.", ""]
          if "side_by_side" in r else []),
        *LIMITS,
        "",
        "## Claims",
        "",
        "| claim | holds | figures |",
        "|---|---|---|",
        *(f"| {c['claim']} | {'yes' if c['holds'] else 'no'} | "
          f"{', '.join(f'{a}: {b:.1f}' if isinstance(b, float) else f'{a}: {b}' for a, b in c['figures'].items())} |"
          for c in r["claims"]),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown-only"]:  # web.md again from web.json (after an edit of the text), no load run
        write_text_atomic(ROOT / "benchmarks" / "web.md", markdown(json.loads((ROOT / "benchmarks" / "web.json")
                                                                               .read_text())))
    else:
        main()
