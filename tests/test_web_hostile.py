"""The bugs a hostile tester found in textvae web (issue 33), each pinned: the studies table, huge question
positions, chunked bodies too large, run names that are not URL-safe, server paths in messages, joins without
limit, missing security headers, the organiser token in URLs, and the question page's numbering."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from webhelpers import train_runs  # noqa: E402

from textvae.web import create_app  # noqa: E402

SYSTEMS = {"human": [f"people wrote sentence number {i} ." for i in range(20)],
           "model": [f"model made sentence {i} ." for i in range(20)]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    runs = train_runs(tmp_path_factory.mktemp("hostile"))
    shutil.copytree(runs / "vae", runs / "run#1")  # names a hostile or careless user gives runs
    shutil.copytree(runs / "vae", runs / "what?x")
    return runs


def _client(runs, tmp_path, **options) -> TestClient:
    app = create_app(runs, tmp_path / "eval.sqlite", **options)
    c = TestClient(app)
    c.token = app.state.store.organiser_token
    c.app_ = app
    return c


def _study(c, **extra) -> str:
    body = {"kind": "groups", "name": "a study", "systems": SYSTEMS, "questions": 5, **extra}
    r = c.post("/api/studies", json=body, headers={"authorization": f"Bearer {c.token}"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_the_studies_page_shows_the_item_count(runs, tmp_path):
    c = _client(runs, tmp_path)
    _study(c)
    page = c.get("/studies", params={"token": c.token})
    assert page.status_code == 200 and "built-in method" not in page.text
    assert "<td>4</td>" in page.text  # 20 sentences of each system in groups of 5


@pytest.mark.parametrize("pos", [9223372036854775808, 10**30, -1, 100_001])
def test_question_positions_out_of_range_are_a_4xx_on_both_routes(runs, tmp_path, pos):
    c = _client(runs, tmp_path)
    token = c.post(f"/api/studies/{_study(c)}/join").json()["rater"]
    r = c.post(f"/api/r/{token}", json={"pos": pos, "choice": "left"})
    assert 400 <= r.status_code < 500, r.text
    r = c.post(f"/r/{token}", data={"pos": str(pos), "choice": "left"}, follow_redirects=False)
    assert 400 <= r.status_code < 500, r.text
    assert c.app_.state.store.answer_progress(token, 0, "left")[0]  # the store still works


def test_a_position_past_the_raters_questions_is_a_404_not_a_crash(runs, tmp_path):
    c = _client(runs, tmp_path)
    token = c.post(f"/api/studies/{_study(c)}/join").json()["rater"]
    r = c.post(f"/api/r/{token}", json={"pos": 99_999, "choice": "left"})
    assert r.status_code == 404 and "question" in r.json()["detail"]


def test_a_chunked_body_too_large_is_a_413(runs, tmp_path):
    c = _client(runs, tmp_path)

    def chunks():
        for _ in range(16):
            yield b" " * 65_536

    r = c.post("/api/runs/vae/sample", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"]

    def small():
        yield b'{"n": 2, '
        yield b'"max_len": 5}'

    r = c.post("/api/runs/vae/sample", content=small(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and len(r.json()["sentences"]) == 2  # a chunked body within the limit is read


def test_run_names_with_hash_or_question_mark_are_linked_escaped_and_served(runs, tmp_path):
    c = _client(runs, tmp_path)
    index = c.get("/").text
    assert 'href="/runs/run%231"' in index and 'href="/runs/what%3Fx"' in index
    assert c.get("/runs/run%231").status_code == 200 and c.get("/runs/what%3Fx").status_code == 200
    r = c.post("/api/runs/run%231/sample", json={"n": 1, "max_len": 5})
    assert r.status_code == 200 and len(r.json()["sentences"]) == 1


def test_errors_name_the_thing_not_the_server_path(runs, tmp_path):
    c = _client(runs, tmp_path)
    for path in ("/runs/..%2F..%2Fetc", "/api/runs/nope/sample", "/s/nope", "/api/r/nope"):
        r = c.post(path, json={"n": 1}) if path.startswith("/api/runs") else c.get(path)
        assert r.status_code == 404, path
        for secret in (str(runs), str(runs.resolve()), str(tmp_path), "eval.sqlite"):
            assert secret not in r.text, (path, r.text)
    r = c.post("/api/runs/vae/canvas", json={"sentence": "the cat"})  # a TextVAEError naming the run folder
    assert r.status_code == 400 and str(runs) not in r.text and "canvas" in r.json()["detail"]


def test_joins_are_limited_per_address_and_per_study(runs, tmp_path):
    c = _client(runs, tmp_path, join_rate=3)
    sid = _study(c, max_raters=100)
    for _ in range(3):
        assert c.post(f"/api/studies/{sid}/join").status_code == 200
    r = c.post(f"/api/studies/{sid}/join")
    assert r.status_code == 429 and "at most 3 a minute" in r.json()["detail"] and int(r.headers["retry-after"]) >= 1
    assert c.post(f"/s/{sid}", follow_redirects=False).status_code == 429  # the form route too
    (tmp_path / "capped").mkdir()
    c = _client(runs, tmp_path / "capped", join_rate=0)
    sid = _study(c, max_raters=2)
    assert [c.post(f"/api/studies/{sid}/join").status_code for _ in range(3)] == [200, 200, 409]
    assert "all the raters it takes (2)" in c.post(f"/api/studies/{sid}/join").json()["detail"]


def test_the_rate_limit_forgets_old_joins():
    from textvae.web.limits import RateLimit

    limit = RateLimit(2, 60.0)
    assert limit.wait("a", now=0.0) == 0 and limit.wait("a", now=1.0) == 0
    assert limit.wait("a", now=2.0) == pytest.approx(58.0) and limit.wait("b", now=2.0) == 0
    assert limit.wait("a", now=60.5) == 0  # the join at t=0 has left the window
    assert RateLimit(0, 60.0).wait("a") == 0


def test_every_response_carries_the_security_headers(runs, tmp_path):
    c = _client(runs, tmp_path)
    for r in (c.get("/"), c.get("/api/runs"), c.get("/s/nope"), c.post("/api/runs/vae/sample", json={"n": 1})):
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"


def test_the_organiser_token_moves_from_the_url_to_a_cookie(runs, tmp_path):
    c = _client(runs, tmp_path)
    sid = _study(c)
    r = c.get(f"/studies/{sid}/results", params={"token": c.token, "x": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/studies/{sid}/results?x=1"
    cookie = r.headers["set-cookie"]
    assert "textvae_organiser=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = c.get(f"/studies/{sid}/results")  # the cookie alone opens it
    assert page.status_code == 200 and "token=" not in page.text and c.token not in page.text
    studies = c.get("/studies")
    assert studies.status_code == 200 and "token=" not in studies.text
    c.cookies.clear()
    assert c.get("/studies").status_code == 403


def test_the_question_page_numbers_agree_after_answers_out_of_order(runs, tmp_path):
    c = _client(runs, tmp_path)
    token = c.post(f"/api/studies/{_study(c)}/join").json()["rater"]
    r = c.post(f"/api/r/{token}", json={"pos": 1, "choice": "left"})  # the second question answered first
    assert r.status_code == 200 and r.json()["total"] == 4
    page = c.get(f"/r/{token}").text  # shows the first question: the rater's second answer
    assert "<title>textvae: question 2 of 4</title>" in page and "Question 2 of 4" in page


# --- under load: answers committed together, model work bounded ------------------------------------------------


def test_the_answer_writer_commits_answers_of_many_threads_together_each_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from textvae.study import StudyStore, build_items
    from textvae.study.store import AnswerWriter

    store = StudyStore(tmp_path / "e.sqlite")
    sid = store.create_study("groups", "s", build_items("groups", SYSTEMS), 4)
    raters = [store.add_rater(sid) for _ in range(8)]
    writer = AnswerWriter(store)
    commits = []
    many = store.write_many
    store.write_many = lambda jobs: commits.append(len(jobs)) or many(jobs)
    jobs = [(t, pos, "left") for t in raters for pos in range(4)] * 2  # every answer twice
    jobs.append((raters[0], 0, "maybe"))  # refused alone: the others of its batch stand
    with ThreadPoolExecutor(16) as pool:
        futures = list(pool.map(lambda job: writer.submit(*job), jobs))
    results = []
    for f in futures[:-1]:
        results.append(f.result(timeout=30))
    with pytest.raises(Exception, match="choice: must be one of"):
        futures[-1].result(timeout=30)
    writer.close()
    assert sum(stored for stored, _, _ in results) == 32  # each (rater, question) stored once
    assert all(store.progress(t) == (4, 4) for t in raters)
    assert sum(commits) == len(jobs) and len(commits) < len(jobs)  # fewer commits than answers: grouped


def test_model_work_waits_in_a_bounded_queue_and_the_rest_gets_a_503(runs, tmp_path):
    import asyncio
    import threading

    from textvae.web.workers import Busy, Workers

    gate = threading.Event()
    w = Workers(None, model_queue=2)

    async def go():
        first = asyncio.ensure_future(w.run_model(gate.wait, 30))
        second = asyncio.ensure_future(w.run_model(lambda: 2))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await w.run_model(lambda: 3)
        gate.set()
        return await first, await second, await w.run_model(lambda: 4)

    assert asyncio.run(go()) == (True, 2, 4)
    w.close()
    c = _client(runs, tmp_path)
    c.app_.state.workers.model_queue = 0  # as if the queue were full
    r = c.post("/api/runs/vae/sample", json={"n": 1})
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and "busy" in r.json()["detail"]
    token = c.post(f"/api/studies/{_study(c)}/join").json()["rater"]  # raters are not held up by it
    assert c.post(f"/api/r/{token}", json={"pos": 0, "choice": "tie"}).json()["stored"] is True


def test_in_a_process_of_its_own_the_model_worker_answers_as_the_thread_does(runs, tmp_path):
    """textvae web's default: decodes in a spawned process (its own interpreter lock), with the same results and
    the same one-line errors as in a thread."""
    body = {"n": 2, "max_len": 6, "seed": 3}
    with TestClient(create_app(runs, tmp_path / "a.sqlite")) as thread, \
            TestClient(create_app(runs, tmp_path / "b.sqlite", model_process=True, threads=1)) as process:
        assert process.app.state.workers.process
        got = process.post("/api/runs/vae/sample", json=body)
        assert got.status_code == 200 and got.json() == thread.post("/api/runs/vae/sample", json=body).json()
        r = process.post("/api/runs/nope/sample", json=body)
        assert r.status_code == 404 and r.json()["detail"] == "no run 'nope' here"
        r = process.post("/api/runs/vae/canvas", json={"sentence": "the cat"})
        assert r.status_code == 400 and "canvas" in r.json()["detail"] and str(runs) not in r.text


# --- the organiser in the browser ------------------------------------------------------------------------------


def test_the_organiser_creates_a_study_and_invite_links_from_the_studies_page(runs, tmp_path):
    c = _client(runs, tmp_path)
    c.get("/studies", params={"token": c.token})  # the cookie
    form = {"kind": "groups", "name": "from the page", "questions": "3", "max_raters": "10", "group_size": "5",
            "system_1": "human", "sentences_1": "\n".join(SYSTEMS["human"]), "system_2": "model",
            "sentences_2": "\n".join(SYSTEMS["model"]) + "\n\n", "system_3": "", "sentences_3": ""}
    r = c.post("/studies", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/studies"
    (study,) = [s for s in c.app_.state.store.studies() if s["name"] == "from the page"]
    assert (study["items"], study["questions"], study["max_raters"]) == (4, 3, 10)
    page = c.post(f"/studies/{study['id']}/invite", data={"n": "3"})
    assert page.status_code == 200
    links = [x.split("/r/")[1].split("<")[0] for x in page.text.split("<code>") if "/r/" in x]
    assert len(links) == 3 and all(c.get(f"/api/r/{t}").json()["total"] == 3 for t in links)
    bad = c.post("/studies", data={**form, "sentences_2": ""})
    assert bad.status_code == 400 and "system 2: give both" in bad.text
    bad = c.post("/studies", data={**form, "kind": "votes"})
    assert bad.status_code == 400 and "the study form: kind" in bad.text
    c.cookies.clear()
    assert c.post("/studies", data=form).status_code == 403
    assert c.post(f"/studies/{study['id']}/invite", data={"n": "1"}).status_code == 403


def test_every_result_kind_has_intervals_and_a_test():
    from textvae.study.results import _pairs, _sense, _sense_tests, wilson

    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)  # Wilson 1927, z=1.96
    assert wilson(0, 0) is None and wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    pair = lambda choice: {"systems": ["a", "b"], "choice": choice}  # noqa: E731
    (row,) = _pairs([pair("a")] * 8 + [pair("b")] * 2 + [pair("tie")] * 5)
    assert row["win_share"] == 0.8 and row["win_share_ci"] == wilson(8, 10) and row["p_value"] == pytest.approx(
        0.109375)
    sense = [{"systems": [s], "sentences": ["x y"], "choice": c} for s, c in
             [("a", "yes")] * 9 + [("a", "no")] + [("b", "yes")] * 2 + [("b", "no")] * 8]
    systems = _sense(sense)
    assert systems[0]["ci_all"] == wilson(9, 10) and systems[1]["ci_all"] == wilson(2, 10)
    (test,) = _sense_tests(systems)
    assert test["p_value"] == pytest.approx(0.005477, abs=1e-6)  # Fisher exact, [[9, 1], [2, 8]]
