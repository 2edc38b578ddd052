"""Load test of `textvae web` on 127.0.0.1: simulated raters answering a blind study concurrently while a user
decodes in the explorer, then the same with the server killed (SIGKILL) and restarted in the middle.

    python benchmarks/web.py [--raters 200] [--questions 50] [--run runs/quick]

Each phase is bounded: every rater joins, then answers its questions one after another (fetch the question, post
a choice), so a phase makes exactly raters x (1 + 2 x questions) requests and stops. Raters run concurrently (one
asyncio task each, one HTTP connection each). Meanwhile one explorer user reconstructs a sentence over and over.
An answer counts as acknowledged when the server answered 200; after the phase the database is read directly and
every acknowledged (rater, question) must be in it. In the kill phase, a rater whose request fails (the server is
down) retries it until the server is back; the first answer stands, so a retried answer that was stored before
the kill is acknowledged then (stored: false) and counted once.

The server is `python -m textvae.cli web` in its own process (uvicorn, one process, FastAPI's thread pool), the
explorer serves the README's quick demo run (a 256-unit LSTM VAE over a 3,000-word vocabulary; trained for 200
steps here if runs/quick is missing). Client and server share this machine's cores.
Writes benchmarks/web.md and benchmarks/web.json."""

from __future__ import annotations

import argparse
import asyncio
import json
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


def start_server(runs: Path, db: Path, port: int) -> tuple[subprocess.Popen, float]:
    """Start `textvae web`; returns it and the seconds until it answered."""
    tic = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "textvae.cli", "web", "--runs", str(runs), "--db", str(db),
                             "--port", str(port), "--join-rate", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # every simulated rater joins from 127.0.0.1
    with httpx.Client(timeout=2) as c:
        while True:
            try:
                if c.get(f"http://127.0.0.1:{port}/api/runs").status_code == 200:
                    return proc, time.perf_counter() - tic
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


def percentiles(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    a = np.array(xs) * 1000
    return {"n": len(xs), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max())}


class Phase:
    """One bounded load phase against the server at ``port``; ``kill_at`` (a fraction of all answers) kills and
    restarts the server once that many are acknowledged."""

    def __init__(self, args, runs: Path, db: Path, sid: str, port: int, proc, kill_at: float | None) -> None:
        self.args, self.runs, self.db, self.sid, self.port, self.proc = args, runs, db, sid, port, proc
        self.url = f"http://127.0.0.1:{port}"
        self.kill_at = kill_at
        self.acked: set[tuple[str, int]] = set()
        self.answer_s: list[float] = []
        self.question_s: list[float] = []
        self.decode_s: list[float] = []
        self.failed_requests = 0
        self.already_stored = 0
        self.restart: dict | None = None
        self.running = True
        self.rng = random.Random(0)

    async def call(self, client: httpx.AsyncClient, method: str, path: str, **kw) -> tuple[httpx.Response, float]:
        """One request, retried while the server is down (kill phase), with its latency in seconds."""
        deadline = time.perf_counter() + 120
        while True:
            tic = time.perf_counter()
            try:
                r = await client.request(method, self.url + path, **kw)
                if r.status_code < 500:
                    return r, time.perf_counter() - tic
            except httpx.TransportError:
                pass
            self.failed_requests += 1
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{method} {path}: the server did not come back")
            await asyncio.sleep(0.05)

    async def rater(self, client: httpx.AsyncClient) -> None:
        r, _ = await self.call(client, "POST", f"/api/studies/{self.sid}/join")
        token = r.json()["rater"]
        while True:
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
        if self.kill_at is None or self.restart is not None or len(self.acked) < self.kill_at * total:
            return
        self.restart = {"acknowledged_at_kill": len(self.acked)}
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        tic = time.perf_counter()
        self.proc, up = await asyncio.to_thread(start_server, self.runs, self.db, self.port)
        self.restart["down_s"] = time.perf_counter() - tic

    async def explorer_user(self, client: httpx.AsyncClient, run: str) -> None:
        while self.running:
            r, dt = await self.call(client, "POST", f"/api/runs/{run}/reconstruct",
                                    json={"sentence": SENTENCE, "samples": 3})
            if r.status_code == 200:
                self.decode_s.append(dt)

    async def go(self, run: str) -> dict:
        limits = httpx.Limits(max_connections=self.args.raters + 2, max_keepalive_connections=self.args.raters + 2)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            user = asyncio.create_task(self.explorer_user(client, run))
            tic = time.perf_counter()
            await asyncio.gather(*(self.rater(client) for _ in range(self.args.raters)))
            wall = time.perf_counter() - tic
            self.running = False
            await user
        with sqlite3.connect(self.db) as db:
            stored = set(db.execute("SELECT b.rater, b.pos FROM answers b JOIN raters r ON r.token = b.rater "
                                    "WHERE r.study = ?", (self.sid,)).fetchall())
        return {"raters": self.args.raters, "questions": self.args.questions,
                "requests": self.args.raters * (1 + 2 * self.args.questions) + (self.failed_requests or 0),
                "acknowledged": len(self.acked), "stored": len(stored),
                "acknowledged_missing": len(self.acked - stored), "stored_unacknowledged": len(stored - self.acked),
                "wall_s": wall, "answers_per_s": len(self.acked) / wall,
                "answer": percentiles(self.answer_s), "question": percentiles(self.question_s),
                "decode_under_load": percentiles(self.decode_s), "failed_requests_retried": self.failed_requests,
                "resent_already_stored": self.already_stored,
                "restart": self.restart, "p99_ms": percentiles(self.answer_s)["p99_ms"]}


async def idle_decodes(url: str, run: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(n):
            tic = time.perf_counter()
            r = await client.post(f"{url}/api/runs/{run}/reconstruct", json={"sentence": SENTENCE, "samples": 3})
            r.raise_for_status()
            out.append(time.perf_counter() - tic)
    return out


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
    args = ap.parse_args()
    run = ensure_run(args.run)
    report = {"machine": machine_info("cpu"), "run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run)}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        (runs / "quick").symlink_to(run.resolve(), target_is_directory=True)
        for name, kill_at in (("steady", None), ("killed", 0.5)):
            db = Path(tmp) / f"{name}.sqlite"
            sid = make_study(db, args.questions)
            port = free_port()
            proc, startup = start_server(runs, db, port)
            try:
                idle = asyncio.run(idle_decodes(f"http://127.0.0.1:{port}", "quick", 20))
                print(f"{name}: {args.raters} raters x {args.questions} answers ...", file=sys.stderr, flush=True)
                phase = Phase(args, runs, db, sid, port, proc, kill_at)
                res = asyncio.run(phase.go("quick"))
                proc = phase.proc
            finally:
                proc.terminate()
                proc.wait()
            res["startup_s"] = startup
            res["decode_idle"] = percentiles(idle)
            report[name] = res
            print(json.dumps({k: res[k] for k in ("acknowledged", "stored", "answers_per_s", "p99_ms")}),
                  file=sys.stderr, flush=True)
    s, k = report["steady"], report["killed"]
    report.update({"raters": args.raters, "acknowledged": s["acknowledged"] + k["acknowledged"],
                   "stored": s["stored"] + k["stored"], "p99_ms": s["p99_ms"]})
    report["claims"] = [
        {"claim": "every answer the server acknowledged is stored (no server restart)",
         "holds": s["acknowledged"] == s["stored"] == args.raters * args.questions and s["acknowledged_missing"] == 0,
         "figures": {k2: s[k2] for k2 in ("acknowledged", "stored", "acknowledged_missing")}},
        {"claim": "every acknowledged answer survives kill -9 and a restart, counted once",
         "holds": k["acknowledged_missing"] == 0 and k["acknowledged"] == k["stored"] == args.raters * args.questions,
         "figures": {k2: k[k2] for k2 in ("acknowledged", "stored", "acknowledged_missing", "stored_unacknowledged")}
         | {"acknowledged_at_kill": (k["restart"] or {}).get("acknowledged_at_kill")}},
        {"claim": "a decode in the explorer stays usable under rater load (p99 under 10x its idle p50)",
         "holds": s["decode_under_load"].get("p99_ms", 1e9) < 10 * s["decode_idle"]["p50_ms"],
         "figures": {"idle_p50_ms": s["decode_idle"]["p50_ms"], "load_p50_ms": s["decode_under_load"].get("p50_ms"),
                     "load_p99_ms": s["decode_under_load"].get("p99_ms")}},
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "web.json", report)
    write_text_atomic(args.out / "web.md", markdown(report))
    print(f"wrote {args.out / 'web.md'}", file=sys.stderr)


def markdown(r: dict) -> str:
    m, s, k = r["machine"], r["steady"], r["killed"]

    def row(name: str, x: dict) -> str:
        return (f"| {name} | {x['acknowledged']:,} | {x['stored']:,} | {x['acknowledged_missing']} | "
                f"{x['answers_per_s']:.0f} | {x['answer']['p50_ms']:.1f} | {x['answer']['p99_ms']:.1f} | "
                f"{x['question']['p50_ms']:.1f} | {x['question']['p99_ms']:.1f} | "
                f"{x['decode_idle']['p50_ms']:.0f} | {x['decode_under_load'].get('p50_ms', float('nan')):.0f} | "
                f"{x['decode_under_load'].get('p99_ms', float('nan')):.0f} | {x['wall_s']:.1f} |")

    restart = k["restart"] or {}
    lines = [
        "# textvae web under load",
        "",
        f"Measured {m['date']} on {m.get('cpu', '?')} ({m.get('cpu_count', '?')} logical CPUs, load average "
        f"{m.get('loadavg_at_start', ['?'])[0]} at start), client and server on the same machine, 127.0.0.1. "
        "Regenerate with `python benchmarks/web.py` (see its docstring for the method).",
        "",
        f"{r['raters']} simulated raters join one blind groups study (mu-Forcing's Fig. 7 kind: 3 systems, 1,500 "
        f"questions) and answer {s['questions']} questions each, all at once, one connection each: "
        f"{r['raters'] * (1 + 2 * s['questions']):,} requests per phase. Meanwhile one explorer user reconstructs a "
        f"sentence (posterior mean + 3 samples, greedy) from `{r['run']}` again and again. Every answer is one "
        "SQLite transaction (WAL, synchronous=FULL) committed before the 200.",
        "",
        "| phase | acknowledged | stored | acknowledged but missing | answers/s | answer p50 ms | answer p99 ms | "
        "question p50 ms | question p99 ms | decode idle p50 ms | decode under load p50 ms | p99 ms | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        row("steady", s),
        row("killed at half and restarted", k),
        "",
        f"Kill phase: the server was killed with SIGKILL once {restart.get('acknowledged_at_kill', '?'):,} answers "
        f"had been acknowledged, and restarted; it answered again {restart.get('down_s', float('nan')):.1f} s later "
        f"(start-up of a fresh process: {k['startup_s']:.1f} s). Raters retried {k['failed_requests_retried']:,} "
        "failed requests while it was down; the latencies above count only requests that got an answer. Answers "
        f"stored whose acknowledgement was lost in the kill and that were sent again: {k['resent_already_stored']} "
        f"(acknowledged on the retry, stored once); stored but never acknowledged: {k['stored_unacknowledged']}.",
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
    main()
