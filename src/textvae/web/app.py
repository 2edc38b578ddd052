"""The FastAPI app: the explorer (pages under /runs, JSON under /api/runs), the rater pages of a study (/s/ID to
join, /r/TOKEN to answer), the organiser's pages and API behind the organiser token, and the guards every request
passes (body size, bounded fields, one-line errors, security headers). Model work runs on one bounded worker,
database reads on a small pool of their own and answers through a group commit (``textvae.web.workers``), never on
the event loop, so a slow decode never blocks a rater."""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from textvae.errors import TextVAEError
from textvae.study import StudyStore, build_items, results, results_csv, results_plot
from textvae.study.store import MAX_POS, AnswerWriter, NotFound, StudyFull
from textvae.web.explorer import Explorer
from textvae.web.limits import (
    JOIN_RATE,
    MAX_BODY,
    AnswerRequest,
    AttributeRequest,
    CanvasRequest,
    ImputeRequest,
    InterpolateRequest,
    RateLimit,
    ReconstructRequest,
    SampleRequest,
    StudyRequest,
)
from textvae.web.workers import Busy, Workers

STUDY_BODY = 16 * 1024 * 1024
"""Largest body of a study creation request (the API's or the studies page's form), bytes."""


class HTTPMiddleware:
    """An ASGI middleware that passes everything but HTTP through and handles HTTP in :meth:`http`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        return await self.http(scope, receive, send)

    async def http(self, scope, receive, send):
        raise NotImplementedError


class BodyLimit(HTTPMiddleware):
    """A request whose body exceeds the limit (declared or streamed) gets 413 and is not read on."""

    async def http(self, scope, receive, send):
        limit = STUDY_BODY if scope["path"] in ("/api/studies", "/studies") else MAX_BODY
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit)(scope, receive, send)
        if declared is not None or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        # no Content-Length (a chunked body): read it here, up to the limit, before any route parses it, so that
        # a body too large is a 413 and not the parser's 400
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > limit:
                return await _too_large(limit)(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
"""Sent with every response: no framing (clickjacking), no script or style from elsewhere, and no Referer that
could carry a rater's link or the organiser's page to another site."""


class SecurityHeaders(HTTPMiddleware):
    """:data:`SECURITY_HEADERS` on every HTTP response."""

    async def http(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body too large: at most {limit} bytes"}, status_code=413)


def _validation_message(exc: RequestValidationError | ValidationError) -> str:
    """The first three field errors of a request's (or a model's) validation, as 'field: message; ...'."""
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


ORGANISER_COOKIE = "textvae_organiser"
"""The cookie that keeps the organiser's token after a first visit with ?token=... (HttpOnly, SameSite=Strict)."""


def create_app(runs: str | Path, db: str | Path, device: str = "cpu", cache: int = 4,
               join_rate: int = JOIN_RATE, model_process: bool = False, threads: int = 0) -> FastAPI:
    """The app serving the runs under ``runs`` (opened on ``device``, ``cache`` kept open) and the studies in the
    SQLite file ``db``; one address may join studies at most ``join_rate`` times a minute (0: no limit). Model work
    runs on one worker thread, or with ``model_process`` in a process of its own (``threads``: its torch threads;
    ``textvae web`` does this), see ``textvae.web.workers``."""
    explorer = Explorer(runs, device, cache)
    store = StudyStore(db)
    joins = RateLimit(join_rate, 60.0)
    writer = AnswerWriter(store)
    workers = Workers(explorer, process=model_process, threads=threads)
    here = resources.files("textvae.web")
    templates = Jinja2Templates(directory=str(here / "templates"))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        writer.close()  # what is waiting is committed first
        workers.close()

    app = FastAPI(title="textvae", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    hidden = sorted({str(explorer.root), str(explorer.root.resolve()), str(store.path), str(store.path.resolve())},
                    key=len, reverse=True)

    def public(message: str) -> str:
        """A message fit for anyone: server paths (the runs folder, the database file) left out."""
        for path in hidden:
            message = message.replace(path + "/", "").replace(path, "the server's folder")
        return message

    app.mount("/static", StaticFiles(directory=str(here / "static")), name="static")
    app.state.explorer, app.state.store, app.state.workers = explorer, store, workers

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, template, context, status_code=status)

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api/")

    def error(request: Request, status: int, message: str, headers: dict | None = None):
        message = public(message)
        if wants_html(request):
            response = page(request, "error.html", status, message=message)
        else:
            response = JSONResponse({"detail": message}, status_code=status)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return error(request, 404, str(exc))

    @app.exception_handler(StudyFull)
    async def full(request: Request, exc: StudyFull):
        return error(request, 409, str(exc))

    @app.exception_handler(_Throttled)
    async def throttled(request: Request, exc: _Throttled):
        return error(request, 429, f"too many joins from this address: at most {join_rate} a minute; try again in "
                                   f"{exc.wait:.0f} s", {"retry-after": str(max(1, round(exc.wait)))})

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return error(request, 503, f"the explorer is busy ({workers.model_queue} requests waiting for the model); "
                                   f"try again in a moment", {"retry-after": "1"})

    @app.exception_handler(TextVAEError)
    async def bad_input(request: Request, exc: TextVAEError):
        return error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    def organiser(request: Request) -> None:
        """The organiser's token from an Authorization: Bearer header, the cookie a first visit set, or ?token=
        (a page visited so is redirected to itself without the token, which then travels in the cookie only)."""
        given = (request.headers.get("authorization", "").removeprefix("Bearer ")
                 or request.cookies.get(ORGANISER_COOKIE) or request.query_params.get("token") or "")
        if not secrets.compare_digest(given.encode(), store.organiser_token.encode()):
            raise _Forbidden
        if wants_html(request) and "token" in request.query_params:
            raise _TokenInURL

    @app.exception_handler(_TokenInURL)
    async def keep_token(request: Request, exc: _TokenInURL):
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(ORGANISER_COOKIE, request.query_params["token"], httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @app.exception_handler(_Forbidden)
    async def forbidden(request: Request, exc: _Forbidden):
        return error(request, 403, "this needs the organiser token (the link `textvae web` printed, or an "
                                   "Authorization: Bearer header)")

    # ---- explorer: every model call on the model worker, never beside the raters ---------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        return page(request, "index.html", runs=await workers.run_io(explorer.runs))

    @app.get("/api/runs")
    async def list_runs():
        return {"runs": await workers.run_io(explorer.runs)}

    @app.get("/runs/{name:path}", response_class=HTMLResponse)
    async def explore(request: Request, name: str):
        return page(request, "explorer.html", name=name, features=await workers.call("page", name, None))

    @app.post("/api/runs/{name:path}/sample")
    async def sample(name: str, req: SampleRequest):
        return await workers.call("sample", name, req)

    @app.post("/api/runs/{name:path}/reconstruct")
    async def reconstruct(name: str, req: ReconstructRequest):
        return await workers.call("reconstruct", name, req)

    @app.post("/api/runs/{name:path}/interpolate")
    async def interpolate(name: str, req: InterpolateRequest):
        return await workers.call("interpolate", name, req)

    @app.post("/api/runs/{name:path}/attribute")
    async def attribute(name: str, req: AttributeRequest):
        return await workers.call("attribute", name, req)

    @app.post("/api/runs/{name:path}/impute")
    async def impute(name: str, req: ImputeRequest):
        if req.blank not in req.sentence:
            raise TextVAEError(f"sentence: has no blank ({req.blank}) to fill")
        return await workers.call("impute", name, req)

    @app.post("/api/runs/{name:path}/canvas")
    async def canvas(name: str, req: CanvasRequest):
        return await workers.call("canvas", name, req)

    # ---- raters: reads and joins on the io pool, answers through the group commit -------------------------------
    @app.get("/s/{sid}", response_class=HTMLResponse)
    async def join_page(request: Request, sid: str):
        study = store.cached_brief(sid) or await workers.run_io(store.study_brief, sid)
        return page(request, "join.html", study=study)

    async def add_rater(request: Request, sid: str) -> str:
        wait = joins.wait(request.client.host if request.client else "")
        if wait:
            raise _Throttled(wait)
        return await asyncio.wrap_future(writer.join(sid))  # on the one writing thread, between answers

    @app.post("/s/{sid}")
    async def join(request: Request, sid: str):
        return RedirectResponse(f"/r/{await add_rater(request, sid)}", status_code=303)

    @app.post("/api/studies/{sid}/join")
    async def join_api(request: Request, sid: str):
        return plain_json({"rater": await add_rater(request, sid)})

    async def state(token: str) -> tuple:
        # a kept rater's question is read without the database, on the event loop (no hop to the io pool)
        return store.cached_state(token) or await workers.run_io(store.state, token)

    @app.get("/r/{token}", response_class=HTMLResponse)
    async def question(request: Request, token: str):
        q, done, total = await state(token)
        if q is None:
            return page(request, "done.html", total=total)
        return page(request, "question.html", q=q, token=token, done=done)

    async def answer(token: str, pos: int, choice: str) -> tuple[bool, int, int]:
        return await asyncio.wrap_future(writer.submit(token, pos, choice))  # resolved after its commit

    @app.post("/r/{token}")
    async def answer_form(token: str, pos: int = Form(..., ge=0, le=MAX_POS),
                          choice: str = Form(..., max_length=10)):
        await answer(token, pos, choice)
        return RedirectResponse(f"/r/{token}", status_code=303)

    @app.get("/api/r/{token}")
    async def question_api(token: str):
        q, done, total = await state(token)
        return plain_json({"answered": done, "total": total, "question": None if q is None else q.__dict__})

    @app.post("/api/r/{token}")
    async def answer_api(token: str, req: AnswerRequest):
        stored, done, total = await answer(token, req.pos, req.choice)
        return plain_json({"stored": stored, "answered": done, "total": total})

    # ---- organiser ----------------------------------------------------------------------------------------------
    @app.get("/studies", response_class=HTMLResponse)
    def studies_page(request: Request):
        organiser(request)
        return page(request, "studies.html", studies=store.studies())

    @app.post("/studies")
    async def create_study_form(request: Request):
        """The studies page's form: a study from up to three systems' sentences (one a line)."""
        organiser(request)
        form = await request.form()
        systems = {}
        for i in (1, 2, 3):
            name = str(form.get(f"system_{i}", "")).strip()
            lines = [x.strip() for x in str(form.get(f"sentences_{i}", "")).splitlines() if x.strip()]
            if name and lines:
                systems[name] = lines
            elif name or lines:
                raise TextVAEError(f"system {i}: give both its name and its sentences")
        inputs = [x.strip() for x in str(form.get("inputs", "")).splitlines() if x.strip()] or None
        try:
            req = StudyRequest(kind=form.get("kind", ""), name=form.get("name", ""), systems=systems, inputs=inputs,
                               group_size=form.get("group_size") or 5, questions=form.get("questions") or 50,
                               max_raters=form.get("max_raters") or 0)  # numbers as typed: the model checks them
        except ValidationError as exc:
            raise TextVAEError(f"the study form: {_validation_message(exc)}") from None
        items = build_items(req.kind, req.systems, req.inputs, req.group_size)
        await workers.run_io(store.create_study, req.kind, req.name, items, req.questions, req.max_raters)
        return RedirectResponse("/studies", status_code=303)

    @app.post("/studies/{sid}/invite", response_class=HTMLResponse)
    async def invite(request: Request, sid: str):
        """``n`` rater links for study ``sid`` (each a rater of its own, made now)."""
        organiser(request)
        form = await request.form()
        n = str(form.get("n", "1"))
        if not n.isdigit() or not 1 <= int(n) <= 200:
            raise TextVAEError(f"n: the number of links must be 1-200, got {n!r}")
        study = await workers.run_io(store.study_brief, sid)
        links = [await asyncio.wrap_future(writer.join(sid)) for _ in range(int(n))]
        base = f"{request.url.scheme}://{request.url.netloc}"
        return page(request, "invite.html", study=study, links=links, base=base)

    @app.post("/api/studies")
    def create_study(request: Request, req: StudyRequest):
        organiser(request)
        items = build_items(req.kind, req.systems, req.inputs, req.group_size)
        sid = store.create_study(req.kind, req.name, items, req.questions, req.max_raters)
        return {"id": sid, "items": len(items), "join": f"/s/{sid}"}

    @app.get("/api/studies/{sid}/results")
    def results_api(request: Request, sid: str):
        organiser(request)
        return results(store, sid)

    @app.get("/studies/{sid}/results", response_class=HTMLResponse)
    def results_page(request: Request, sid: str):
        organiser(request)
        return page(request, "results.html", res=results(store, sid))

    @app.get("/studies/{sid}/results.png")
    def results_png(request: Request, sid: str):
        organiser(request)
        return Response(results_plot(results(store, sid)), media_type="image/png")

    @app.get("/studies/{sid}/answers.csv")
    def answers_csv(request: Request, sid: str):
        organiser(request)
        return Response(results_csv(store, sid), media_type="text/csv",
                        headers={"content-disposition": f'attachment; filename="study-{sid}.csv"'})

    return app


def plain_json(obj) -> Response:
    """A JSON response of plain data (str, numbers, lists, dicts) serialised at once: the raters' routes, the
    busiest, skip FastAPI's encoder, which walks every value first."""
    return Response(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), media_type="application/json")


class _Forbidden(Exception):
    pass


class _TokenInURL(Exception):
    """The organiser's token came in the URL of a page: moved to a cookie by a redirect."""


class _Throttled(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait
