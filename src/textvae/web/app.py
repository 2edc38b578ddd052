"""The FastAPI app: the explorer (pages under /runs, JSON under /api/runs), the rater pages of a study (/s/ID to
join, /r/TOKEN to answer), the organiser's pages and API behind the organiser token, and the guards every request
passes (body size, bounded fields, one-line errors). Model work and database writes run in FastAPI's thread pool
(plain ``def`` routes), never on the event loop, so one slow decode never blocks other users."""

from __future__ import annotations

import secrets
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from textvae import session as sessions
from textvae.errors import TextVAEError
from textvae.study import StudyStore, build_items, results, results_csv, results_plot
from textvae.study.store import NotFound
from textvae.web.explorer import Explorer
from textvae.web.limits import (
    MAX_BODY,
    AnswerRequest,
    AttributeRequest,
    CanvasRequest,
    ImputeRequest,
    InterpolateRequest,
    ReconstructRequest,
    SampleRequest,
    StudyRequest,
)

STUDY_BODY = 16 * 1024 * 1024
"""Largest body of a study creation request, bytes."""


class BodyLimit:
    """ASGI middleware: a request whose body exceeds the limit (declared or streamed) gets 413 and is not read on."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = STUDY_BODY if scope["path"] == "/api/studies" else MAX_BODY
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(limit)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body too large: at most {limit} bytes"}, status_code=413)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(runs: str | Path, db: str | Path, device: str = "cpu", cache: int = 4) -> FastAPI:
    """The app serving the runs under ``runs`` (opened on ``device``, ``cache`` kept open) and the studies in the
    SQLite file ``db``."""
    explorer = Explorer(runs, device, cache)
    store = StudyStore(db)
    here = resources.files("textvae.web")
    templates = Jinja2Templates(directory=str(here / "templates"))
    app = FastAPI(title="textvae", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)
    app.mount("/static", StaticFiles(directory=str(here / "static")), name="static")
    app.state.explorer, app.state.store = explorer, store

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, template, context, status_code=status)

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api/")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        if wants_html(request):
            return page(request, "error.html", 404, message=str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(TextVAEError)
    async def bad_input(request: Request, exc: TextVAEError):
        if wants_html(request):
            return page(request, "error.html", 400, message=str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    def organiser(request: Request) -> None:
        given = request.query_params.get("token") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if not secrets.compare_digest(given.encode(), store.organiser_token.encode()):
            raise _Forbidden

    @app.exception_handler(_Forbidden)
    async def forbidden(request: Request, exc: _Forbidden):
        message = "this needs the organiser token (?token=... or an Authorization: Bearer header)"
        if wants_html(request):
            return page(request, "error.html", 403, message=message)
        return JSONResponse({"detail": message}, status_code=403)

    # ---- explorer -----------------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        return page(request, "index.html", runs=explorer.runs())

    @app.get("/api/runs")
    def list_runs():
        return {"runs": explorer.runs()}

    @app.get("/runs/{name:path}", response_class=HTMLResponse)
    def explore(request: Request, name: str):
        s = explorer.session(name)
        return page(request, "explorer.html", name=name, features=explorer.features(s))

    @app.post("/api/runs/{name:path}/sample")
    def sample(name: str, req: SampleRequest):
        return sessions.sample(explorer.session(name), req.n, req.options(), req.seed, req.stretch)

    @app.post("/api/runs/{name:path}/reconstruct")
    def reconstruct(name: str, req: ReconstructRequest):
        return sessions.reconstruct(explorer.session(name), [req.sentence], req.options(), req.samples, req.seed)

    @app.post("/api/runs/{name:path}/interpolate")
    def interpolate(name: str, req: InterpolateRequest):
        return sessions.interpolate(explorer.session(name), req.a, req.b, req.steps, req.options())

    @app.post("/api/runs/{name:path}/attribute")
    def attribute(name: str, req: AttributeRequest):
        s = explorer.session(name)
        if req.from_label or req.to_label:
            if not (req.from_label and req.to_label):
                raise TextVAEError("from_label and to_label: give both, or neither and two lists of sentences")
            source, target = (sessions.labelled_lines(s, "train", x)[:2000] for x in (req.from_label, req.to_label))
            return sessions.attribute_transfer(s, source, target, req.apply, req.scale, req.options(),
                                               corpus=True, apply_corpus=False)
        if not req.source or not req.target:
            raise TextVAEError("source and target: give sentences of both attributes (or from_label and to_label)")
        return sessions.attribute_transfer(s, req.source, req.target, req.apply, req.scale, req.options())

    @app.post("/api/runs/{name:path}/impute")
    def impute(name: str, req: ImputeRequest):
        s = explorer.session(name)
        if req.blank not in req.sentence:
            raise TextVAEError(f"sentence: has no blank ({req.blank}) to fill")
        return sessions.impute(s, [req.sentence], marker=req.blank)

    @app.post("/api/runs/{name:path}/canvas")
    def canvas(name: str, req: CanvasRequest):
        return sessions.canvas(explorer.session(name), req.sentence, req.seed, width=req.width)

    # ---- raters -------------------------------------------------------------------------------------------------
    @app.get("/s/{sid}", response_class=HTMLResponse)
    def join_page(request: Request, sid: str):
        return page(request, "join.html", study=store.study(sid))

    @app.post("/s/{sid}")
    def join(sid: str):
        return RedirectResponse(f"/r/{store.add_rater(sid)}", status_code=303)

    @app.post("/api/studies/{sid}/join")
    def join_api(sid: str):
        return {"rater": store.add_rater(sid)}

    @app.get("/r/{token}", response_class=HTMLResponse)
    def question(request: Request, token: str):
        q, done, total = store.state(token)
        if q is None:
            return page(request, "done.html", total=total)
        return page(request, "question.html", q=q, token=token, done=done)

    @app.post("/r/{token}")
    def answer_form(token: str, pos: int = Form(...), choice: str = Form(...)):
        store.answer(token, pos, choice)
        return RedirectResponse(f"/r/{token}", status_code=303)

    @app.get("/api/r/{token}")
    def question_api(token: str):
        q, done, total = store.state(token)
        return {"answered": done, "total": total, "question": None if q is None else q.__dict__}

    @app.post("/api/r/{token}")
    def answer_api(token: str, req: AnswerRequest):
        stored, done, total = store.answer_progress(token, req.pos, req.choice)
        return {"stored": stored, "answered": done, "total": total}

    # ---- organiser ----------------------------------------------------------------------------------------------
    @app.get("/studies", response_class=HTMLResponse)
    def studies_page(request: Request):
        organiser(request)
        return page(request, "studies.html", studies=store.studies(), token=request.query_params.get("token", ""))

    @app.post("/api/studies")
    def create_study(request: Request, req: StudyRequest):
        organiser(request)
        items = build_items(req.kind, req.systems, req.inputs, req.group_size)
        sid = store.create_study(req.kind, req.name, items, req.questions)
        return {"id": sid, "items": len(items), "join": f"/s/{sid}"}

    @app.get("/api/studies/{sid}/results")
    def results_api(request: Request, sid: str):
        organiser(request)
        return results(store, sid)

    @app.get("/studies/{sid}/results", response_class=HTMLResponse)
    def results_page(request: Request, sid: str):
        organiser(request)
        return page(request, "results.html", res=results(store, sid), token=request.query_params.get("token", ""))

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


class _Forbidden(Exception):
    pass
