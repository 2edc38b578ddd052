"""textvae web and textvae study: the explorer's API, the bounds on what a request may ask, a whole blind study
through the rater and organiser APIs (sides hidden and swapped, answers counted once, results with an exact
binomial test), concurrency (a slow decode never blocks an answer) and durability (an acknowledged answer survives
kill -9)."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
import httpx  # noqa: E402
from typer.testing import CliRunner  # noqa: E402
from webhelpers import serve, train_runs  # noqa: E402

from textvae.cli import app as cli  # noqa: E402
from textvae.study import StudyStore, build_items, results  # noqa: E402
from textvae.study.results import binomial_p  # noqa: E402
from textvae.web import create_app  # noqa: E402

runner = CliRunner()
SYSTEMS = {"human": [f"people wrote sentence number {i} ." for i in range(20)],
           "model": [f"model made {i} <script>alert({i})</script>" for i in range(20)]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return train_runs(tmp_path_factory.mktemp("web"))


@pytest.fixture
def client(runs, tmp_path):
    from fastapi.testclient import TestClient

    app = create_app(runs, tmp_path / "eval.sqlite")
    with TestClient(app) as c:
        c.token = app.state.store.organiser_token
        c.store = app.state.store
        yield c


def _auth(c) -> dict:
    return {"authorization": f"Bearer {c.token}"}


def _study(c, kind: str = "groups", **extra) -> str:
    body = {"kind": kind, "name": "a study", "systems": SYSTEMS, **extra}
    r = c.post("/api/studies", json=body, headers=_auth(c))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_explorer_answers_every_feature_of_each_run(client):
    assert sorted(r["name"] for r in client.get("/api/runs").json()["runs"]) == ["autr", "vae"]
    opts = {"method": "beam", "width": 3, "max_len": 12}
    r = client.post("/api/runs/vae/sample", json={"n": 3, **opts})
    assert r.status_code == 200 and len(r.json()["sentences"]) == 3
    r = client.post("/api/runs/vae/reconstruct", json={"sentence": "the cat sees a dog", "samples": 2})
    assert r.status_code == 200 and r.json()["examples"][0]["input"] == "the cat sees a dog"
    r = client.post("/api/runs/vae/interpolate", json={"a": "the cat", "b": "a dog runs", "steps": 4})
    assert r.status_code == 200 and [s["t"] for s in r.json()["steps"]] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    r = client.post("/api/runs/vae/attribute", json={"source": ["the cat"], "target": ["a dog"], "apply": ["the cat"]})
    assert r.status_code == 200 and len(r.json()["rows"]) == 1
    r = client.post("/api/runs/vae/impute", json={"sentence": "the ___ sees a ___"})
    out = r.json()["sentences"][0]
    words = out["output"].split()
    assert r.status_code == 200 and len(out["filled"]) == 2 and len(words) == 5 and words[::2] == ["the", "sees",
                                                                                                  words[4]]
    assert words[3] == "a" and "___" not in words
    r = client.post("/api/runs/autr/canvas", json={"sentence": "the cat sees", "width": 2})
    assert r.status_code == 200 and r.json()["steps"] == 5
    r = client.post("/api/runs/vae/canvas", json={})
    assert r.status_code == 400 and "AUTR" in r.json()["detail"]
    page = client.get("/runs/autr")
    assert page.status_code == 200 and 'data-action="canvas"' in page.text
    assert 'data-action="canvas"' not in client.get("/runs/vae").text


@pytest.mark.parametrize("path, body, status, says", [
    ("/api/runs/vae/sample", {"n": 1000}, 422, "n: Input should be less than or equal to 20"),
    ("/api/runs/vae/sample", {"method": "beam", "width": 10000}, 422, "width"),
    ("/api/runs/vae/sample", {"max_len": 10000}, 422, "max_len"),
    ("/api/runs/vae/sample", {"method": "telepathy"}, 422, "method"),
    ("/api/runs/vae/sample", {"n": 2, "extra": 1}, 422, "extra: Extra inputs are not permitted"),
    ("/api/runs/vae/interpolate", {"a": "x", "b": "y", "steps": 10000}, 422, "steps"),
    ("/api/runs/vae/reconstruct", {"sentence": "w " * 400}, 422, "sentence"),
    ("/api/runs/vae/impute", {"sentence": "no blanks here"}, 400, "has no blank (___)"),
    ("/api/runs/nope/sample", {"n": 1}, 404, "no run 'nope'"),
])
def test_bad_requests_get_a_4xx_with_a_one_line_message(client, path, body, status, says):
    r = client.post(path, json=body)
    assert r.status_code == status and says in r.json()["detail"] and "\n" not in r.json()["detail"]


def test_oversized_and_malformed_bodies_are_refused(client):
    r = client.post("/api/runs/vae/sample", content=b"{" + b" " * 70_000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"]
    r = client.post("/api/runs/vae/sample", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = client.get("/runs/nope")
    assert r.status_code == 404 and "no run" in r.text and "Traceback" not in r.text


def test_study_creation_and_results_need_the_organiser_token(client):
    body = {"kind": "sense", "name": "s", "systems": SYSTEMS}
    assert client.post("/api/studies", json=body).status_code == 403
    assert client.post("/api/studies", json=body, headers={"authorization": "Bearer wrong"}).status_code == 403
    sid = _study(client, "sense")
    for path in (f"/api/studies/{sid}/results", f"/studies/{sid}/results", f"/studies/{sid}/answers.csv",
                 f"/studies/{sid}/results.png", "/studies"):
        client.cookies.clear()  # a visitor without the cookie a first visit with the token leaves
        assert client.get(path).status_code == 403, path
        assert client.get(path, params={"token": client.token}).status_code == 200, path
    assert client.get("/api/studies/nope/results", params={"token": client.token}).status_code == 404
    for path in ("/s/nope", "/r/nope", "/api/r/nope"):
        assert client.get(path).status_code == 404, path


def test_sentences_are_shown_as_text_never_as_markup(client):
    sid = _study(client, "sense", questions=40)
    token = client.post(f"/api/studies/{sid}/join").json()["rater"]
    seen = 0
    for _ in range(40):
        page = client.get(f"/r/{token}").text
        assert "<script>alert" not in page
        seen += "&lt;script&gt;alert(" in page
        pos = client.get(f"/api/r/{token}").json()["question"]["pos"]
        client.post(f"/api/r/{token}", json={"pos": pos, "choice": "yes"})
    assert seen == 20  # every one of the model's sentences, escaped


def test_a_whole_groups_study_maps_shown_sides_back_to_the_hidden_systems(client):
    sid = _study(client, "groups", group_size=5, questions=3)
    swapped = 0
    for _ in range(6):
        token = client.post(f"/api/studies/{sid}/join").json()["rater"]
        while (q := client.get(f"/api/r/{token}").json()["question"]) is not None:
            assert "systems" not in q and q["choices"] == ["left", "right", "tie"]
            left_is_human = q["sides"][0][0].startswith("people")
            swapped += not left_is_human
            r = client.post(f"/api/r/{token}", json={"pos": q["pos"], "choice": "left" if left_is_human else "right"})
            assert r.json()["stored"] is True
            again = client.post(f"/api/r/{token}", json={"pos": q["pos"], "choice": "tie"})  # a double submit
            assert again.status_code == 200 and again.json()["stored"] is False
        assert client.get(f"/api/r/{token}").json() == {"answered": 3, "total": 3, "question": None}
    assert 0 < swapped < 18  # sides are randomised per rater and question
    res = client.get(f"/api/studies/{sid}/results", params={"token": client.token}).json()
    (pair,) = res["pairs"]
    assert (pair["system"], pair["wins"], pair["losses"], pair["ties"]) == ("human", 18, 0, 0)
    assert pair["p_value"] == pytest.approx(2 * 0.5**18)
    rows = list(csv.reader(client.get(f"/studies/{sid}/answers.csv", params={"token": client.token}).text.splitlines()))
    assert rows[0][4] == "choice" and [row[4] for row in rows[1:]] == ["human"] * 18


def test_binomial_test_is_exact_and_two_sided():
    def exact(w: int, n: int) -> float:
        k = min(w, n - w)
        return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)

    for w, losses in ((9, 1), (1, 9), (5, 5), (30, 18), (0, 7)):
        assert binomial_p(w, losses) == pytest.approx(exact(w, w + losses), rel=1e-9)
    assert binomial_p(0, 0) == 1.0


def test_sense_results_split_by_length_as_autogen_table_4(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    systems = {"a": ["one two three", " ".join(["w"] * 11), "four five", " ".join(["v"] * 12)]}
    sid = store.create_study("sense", "s", build_items("sense", systems), questions=4)
    token = store.add_rater(sid, seed=1)
    while (q := store.next_question(token)) is not None:
        store.answer(token, q.pos, "yes" if len(q.sides[0][0].split()) <= 10 or q.sides[0][0][0] == "w" else "no")
    (row,) = results(store, sid)["systems"]
    assert (row["yes_all"], row["yes_short"], row["yes_long"]) == (0.75, 1.0, 0.5)
    assert (row["n_short"], row["n_long"]) == (2, 2)


def test_reconstruction_study_shows_the_input(client):
    inputs = [f"input {i}" for i in range(20)]
    sid = _study(client, "reconstruction", inputs=inputs, questions=2)
    token = client.post(f"/api/studies/{sid}/join").json()["rater"]
    q = client.get(f"/api/r/{token}").json()["question"]
    human = next(side[0] for side in q["sides"] if side[0].startswith("people"))
    assert q["input"] == f"input {human.split()[4]}"  # the input the two shown reconstructions are of
    page = client.get(f"/r/{token}").text
    assert q["input"] in page and "better reconstruction" in page


def test_concurrent_raters_get_their_own_balanced_assignments(tmp_path):
    store = StudyStore(tmp_path / "db.sqlite")
    sid = store.create_study("sense", "s", build_items("sense", SYSTEMS), questions=10)
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: store.add_rater(sid), range(16)))
    assert len(set(tokens)) == 16
    import sqlite3

    db = sqlite3.connect(tmp_path / "db.sqlite")
    per_rater = dict(db.execute("SELECT rater, COUNT(*) FROM assignments GROUP BY rater").fetchall())
    per_item = [n for (n,) in db.execute("SELECT COUNT(a.rater) FROM items i LEFT JOIN assignments a ON a.item = i.idx "
                                         "WHERE i.study = ? GROUP BY i.idx", (sid,))]
    assert sorted(per_rater) == sorted(tokens) and set(per_rater.values()) == {10}
    assert sum(per_item) == 160 and max(per_item) - min(per_item) <= 1  # 160 over 40 items: 4 each
    with pytest.raises(Exception, match="question 11"):
        store.answer(tokens[0], 10, "yes")


def test_a_slow_decode_never_blocks_answering(runs, tmp_path, monkeypatch):
    from textvae import session as sessions

    release, entered = threading.Event(), threading.Event()
    real = sessions.sample

    def slow(*args, **kw):
        entered.set()
        assert release.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(sessions, "sample", slow)
    app = create_app(runs, tmp_path / "eval.sqlite")
    store = app.state.store
    sid = store.create_study("sense", "s", build_items("sense", SYSTEMS), questions=5)
    token = store.add_rater(sid)
    with serve(app) as url, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, f"{url}/api/runs/vae/sample", json={"n": 1, "max_len": 5}, timeout=60)
        assert entered.wait(30)
        q = httpx.get(f"{url}/api/r/{token}", timeout=10).json()["question"]
        r = httpx.post(f"{url}/api/r/{token}", json={"pos": q["pos"], "choice": "no"}, timeout=10)
        assert r.status_code == 200 and r.json()["answered"] == 1 and not pending.done()
        release.set()
        assert pending.result(60).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(runs: Path, db: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "textvae.cli", "web", "--runs", str(runs), "--db", str(db),
                             "--port", str(port)], stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the server prints its address, then the organiser page, then serves
        if "organiser page" in line:
            break
    with httpx.Client(timeout=1) as c:
        for _ in range(300):
            try:
                if c.get(f"http://127.0.0.1:{port}/api/runs").status_code == 200:
                    return proc
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError("textvae web exited") from None
                threading.Event().wait(0.05)
    raise RuntimeError("textvae web did not answer")


def test_an_acknowledged_answer_survives_kill_9_and_a_restart(runs, tmp_path):
    db = tmp_path / "eval.sqlite"
    store = StudyStore(db)
    sid = store.create_study("sense", "s", build_items("sense", SYSTEMS), questions=40)
    token = store.add_rater(sid)
    port = _free_port()
    proc = _start(runs, db, port)
    acked = []
    try:
        for pos in range(25):
            r = httpx.post(f"http://127.0.0.1:{port}/api/r/{token}", json={"pos": pos, "choice": "yes"}, timeout=10)
            assert r.status_code == 200
            acked.append(pos)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [a["pos"] for a in StudyStore(db).answers(sid)] == acked  # everything acknowledged is there
    proc = _start(runs, db, port)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/api/r/{token}", timeout=10).json()
        assert r["answered"] == 25 and r["question"]["pos"] == 25  # the rater picks up where they stopped
    finally:
        proc.terminate()
        proc.wait()


def test_study_cli_creates_invites_and_reports(tmp_path):
    for name, lines in SYSTEMS.items():
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "eval.sqlite")
    out = runner.invoke(cli, ["study", "create", "--kind", "groups", "--system", f"human={tmp_path / 'human.txt'}",
                              "--system", f"model={tmp_path / 'model.txt'}", "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    made = json.loads(out.stdout)
    assert made["items"] == 4 and made["join"].endswith(f"/s/{made['id']}")
    out = runner.invoke(cli, ["study", "invite", made["id"], "-n", "2", "--db", db, "--json"])
    links = json.loads(out.stdout)["links"]
    store = StudyStore(db)
    token = links[0].rsplit("/", 1)[1]
    while (q := store.next_question(token)) is not None:
        store.answer(token, q.pos, "tie")
    plot, table = tmp_path / "r.png", tmp_path / "a.csv"
    out = runner.invoke(cli, ["study", "results", made["id"], "--db", db, "--plot", str(plot), "--csv", str(table)])
    assert out.exit_code == 0 and "0 wins, 4 cannot tell, 0 losses" in out.stdout
    assert plot.stat().st_size > 1000 and len(table.read_text().splitlines()) == 5


@pytest.mark.parametrize("args, says", [
    (["study", "create", "--kind", "votes", "--system", "a=x.txt"], "--kind: must be one of groups"),
    (["study", "create", "--kind", "sense", "--system", "nofile"], "must be NAME=FILE"),
    (["study", "create", "--kind", "sense", "--system", "a=missing.txt"], "missing.txt: no such file"),
    (["study", "results", "abc", "--db", "none.sqlite"], "no such database"),
    (["web", "--runs", "no-such-folder"], "--runs no-such-folder: no such folder"),
    (["web", "--port", "70000"], "--port: must be 1-65535"),
])
def test_bad_cli_input_is_one_line(args, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    out = runner.invoke(cli, args)
    assert out.exit_code == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1
