"""`textvae study create | results | invite`: blind human-evaluation studies from generated files (mu-Forcing 5.5,
AutoGen 3.2-3.3), answered on the site `textvae web` serves."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from textvae.atomic import write_text_atomic
from textvae.cli.app import AS_JSON, app, command, emit
from textvae.errors import TextVAEError

study_app = typer.Typer(no_args_is_help=True, help="Blind human-evaluation studies: create, invite, results.")
app.add_typer(study_app, name="study")

DB = typer.Option(Path("eval.sqlite"), help="SQLite file of the studies (the one `textvae web --db` serves).")
URL = typer.Option("http://127.0.0.1:8000", help="Where `textvae web` is reached, for the links printed.")


def _store(db: Path, create: bool = False):
    from textvae.study import StudyStore

    if not create and not db.is_file():
        raise TextVAEError(f"--db {db}: no such database (create a study first)")
    return StudyStore(db)


@command("create", on=study_app)
def create(kind: str = typer.Option(..., help="groups (mu-Forcing Fig. 7), reconstruction or sense (AutoGen)."),
           system: list[str] = typer.Option(..., help="NAME=FILE: a system's generated sentences, one per line "
                                                      "(repeat; names are hidden from raters)."),
           name: str = typer.Option("", help="The study's name (default: the systems compared)."),
           inputs: Optional[Path] = typer.Option(None, help="reconstruction: the input sentences, line-aligned with "
                                                            "every system's file."),
           group_size: int = typer.Option(5, help="groups: sentences per group."),
           questions: int = typer.Option(50, help="The most questions one rater answers."),
           max_raters: int = typer.Option(500, help="The most raters who may join (0: no cap); `textvae web "
                                                    "--join-rate` also limits joins from one address."),
           db: Path = DB, url: str = URL, as_json: bool = AS_JSON) -> None:
    """Create a study; prints its id, the raters' join link and the organiser's results link."""
    from textvae.study import KINDS, build_items, read_system_files
    from textvae.study.items import read_lines

    if kind not in KINDS:
        raise TextVAEError(f"--kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    systems = read_system_files(system)
    items = build_items(kind, systems, read_lines(inputs) if inputs else None, group_size)
    store = _store(db, create=True)
    title = name.strip() or " vs ".join(systems)
    if max_raters < 0:
        raise TextVAEError(f"--max-raters: must be >= 0 (0: no cap), got {max_raters}")
    if questions < 1:
        raise TextVAEError(f"--questions: must be >= 1, got {questions}")
    sid = store.create_study(kind, title, items, questions, max_raters)
    token = store.organiser_token
    out = {"id": sid, "kind": kind, "name": title, "items": len(items), "questions": questions,
           "max_raters": max_raters, "join": f"{url}/s/{sid}", "results": f"{url}/studies/{sid}/results?token={token}"}
    emit(as_json, out, [f"study {sid}: {kind}, {len(items)} questions, at most {questions} per rater",
                        f"raters join at   {out['join']}", f"results (secret) {out['results']}"])


@command("invite", on=study_app)
def invite(study: str = typer.Argument(..., help="The study's id."),
           n: int = typer.Option(1, "-n", help="How many rater links to make."),
           db: Path = DB, url: str = URL, as_json: bool = AS_JSON) -> None:
    """Make personal rater links now (for sending by mail) instead of raters joining at /s/ID."""
    if n < 1:
        raise TextVAEError(f"-n: must be >= 1, got {n}")
    store = _store(db)
    links = [f"{url}/r/{store.add_rater(study)}" for _ in range(n)]
    emit(as_json, {"study": study, "links": links}, links)


@command("results", on=study_app)
def results_(study: Optional[str] = typer.Argument(None, help="The study's id (default: list the studies)."),
             db: Path = DB, csv: Optional[Path] = typer.Option(None, help="Write every answer to this CSV file."),
             plot: Optional[Path] = typer.Option(None, help="Write a bar chart (PNG) here."),
             as_json: bool = AS_JSON) -> None:
    """Win/tie/loss per pair with a two-sided binomial test (groups, reconstruction), or the fraction judged to
    make sense per system and length (sense); without a study, the list of studies."""
    from textvae.study import results, results_csv, results_plot
    store = _store(db)
    if study is None:
        rows = store.studies()
        emit(as_json, rows, [f"{r['id']}  {r['kind']:<14} {r['name']}  ({r['items']} questions, {r['raters']} "
                             f"raters, {r['answers']} answers)" for r in rows] or ["no studies"])
        return
    res = results(store, study)
    if csv:
        write_text_atomic(csv, results_csv(store, study))
    if plot:
        results_plot(res, plot)
    emit(as_json, res, format_results(res))


def format_results(res: dict) -> list[str]:
    """Plain-text lines of :func:`textvae.study.results`."""
    s = res["study"]
    lines = [f"study {s['id']} ({s['kind']}): {s['name']}; {res['answers']} answers from {s['raters']} raters"]
    for p in res.get("pairs", []):
        share = ("-" if p["win_share"] is None else
                 f"{p['win_share']:.2f} of decided [95% CI {p['win_share_ci'][0]:.2f}-{p['win_share_ci'][1]:.2f}]")
        lines.append(f"  {p['system']} vs {p['against']}: {p['wins']} wins, {p['ties']} cannot tell, {p['losses']} "
                     f"losses; win rate {p['win_rate']:.2f}, {share}, two-sided binomial p = {p['p_value']:.3g}")
    for r in res.get("systems", []):
        frac = {k: "-" if r[f"yes_{k}"] is None else
                f"{r[f'yes_{k}']:.2f} of {r[f'n_{k}']} [{r[f'ci_{k}'][0]:.2f}-{r[f'ci_{k}'][1]:.2f}]"
                for k in ("all", "short", "long")}
        lines.append(f"  {r['system']}: makes sense {frac['all']}; <= 10 tokens {frac['short']}; > 10 tokens "
                     f"{frac['long']} (95% Wilson intervals)")
    for t in res.get("tests", []):
        lines.append(f"  {t['system']} vs {t['against']}: yes-rates differ? two-sided Fisher exact p = "
                     f"{t['p_value']:.3g}")
    if res["answers"] == 0:
        lines.append("  no answers yet")
    return lines

