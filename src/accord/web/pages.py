"""The screens: server-rendered pages for each role, over the same services as the API.

Every page works with plain HTML forms (post, then redirect); htmx, vendored as a
static file, only refreshes the live parts (the oversight counts).  Forms carry a CSRF
token bound to the session; messages after a redirect travel in a short-lived cookie
written by the server, never in the URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import inspect
import math
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from accord import auditlog, blind, formats, identity, personfile, remedy, review
from accord.config import settings
from accord.errors import AccordError, InputError, InvalidInput, LedgerKeyUnavailable
from accord.identity import Principal
from accord.linkage import words as linkage_words
from accord.oversight.metrics import collect
from accord.oversight.report import render as render_report
from accord.policy import pauses
from accord.policy.policy import load_policy
from accord.rights import explain
from accord.store.models import Agreement, ReviewItem
from accord.vocab import REVIEW_KINDS, ROLES, AgreementStatus, Decision, ItemStatus
from accord.web import inbox, oversee, present, readmodels, words
from accord.web.api.common import status_of
from accord.web.api.schemas import TEXT_PATTERN
from accord.web.api.subject import open_dispute, subject_report
from accord.web.auth import SESSION_COOKIE, SessionSigner
from accord.web.deps import (
    AppContext,
    Ctx,
    SessionCheck,
    page_form_user,
    page_session,
    page_user,
    session_principal,
    transaction,
)

router = APIRouter(include_in_schema=False)

FLASH_COOKIE = "accord_flash"
LOGIN_COOKIE = "accord_login"

HOME = {
    "reviewer": "/review",
    "caseworker": "/people",
    "recipient": "/inbox",
    "auditor": "/oversight",
    "admin": "/admin",
    "subject": "/me",
}
NAV = {
    "reviewer": [("/review", "Review queue")],
    "caseworker": [("/people", "People")],
    "recipient": [("/inbox", "Inbox")],
    "auditor": [("/oversight", "Oversight")],
    "admin": [("/admin", "Agreements and users")],
    "subject": [("/me", "My records")],
}

ReviewerPage = Annotated[Principal, Depends(page_user("reviewer"))]
ReviewerSession = Annotated[SessionCheck, Depends(page_session("reviewer"))]
ReviewerForm = Annotated[Principal, Depends(page_form_user("reviewer"))]
PeoplePage = Annotated[Principal, Depends(page_user("caseworker", "reviewer"))]
RecipientPage = Annotated[Principal, Depends(page_user("recipient"))]
RecipientForm = Annotated[Principal, Depends(page_form_user("recipient"))]
AuditorPage = Annotated[Principal, Depends(page_user("auditor"))]
AdminPage = Annotated[Principal, Depends(page_user("admin"))]
AdminForm = Annotated[Principal, Depends(page_form_user("admin"))]
SubjectPage = Annotated[Principal, Depends(page_user("subject"))]
SubjectForm = Annotated[Principal, Depends(page_form_user("subject"))]
AnyoneForm = Annotated[Principal, Depends(page_form_user(*ROLES))]


# --- rendering -------------------------------------------------------------------------


def render(
    request: Request,
    name: str,
    principal: Principal | None,
    status_code: int = 200,
    **data: Any,
) -> HTMLResponse:
    ctx: AppContext = request.app.state.accord
    cookie = request.cookies.get(SESSION_COOKIE, "")
    flash = _unflash(request.cookies.get(FLASH_COOKIE))
    context = {
        "principal": principal,
        "nav": NAV.get(principal.role, []) if principal else [],
        "csrf": ctx.signer.csrf_token(cookie) if cookie and principal else "",
        "flash": flash,
        "path": request.url.path,
        **data,
    }
    response = ctx.templates.TemplateResponse(request, name, context, status_code=status_code)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def error_page(
    request: Request, status_code: int, message: str, principal: Principal | None = None
) -> HTMLResponse:
    return render(
        request, "error.html", principal, status_code, status=status_code, message=message
    )


def form_errors(exc: InvalidInput, names: dict[str, str], otherwise: str) -> dict[str, str]:
    """A use case's invalid value as a form's error, against the form field that carries
    it (the field's id is the domain's name for it), named as the page words it (``names``:
    field -> words, e.g. ``reason`` -> "The reason"); a value the form has no field for goes
    against ``otherwise`` in the domain's own words.  Never a command-line option."""
    if exc.field in names:
        return {exc.field: exc.naming(names[exc.field])}
    return {otherwise: str(exc)}


def redirect(path: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    if flash:
        # Only text the server wrote, base64url so any character survives the cookie.
        value = base64.urlsafe_b64encode(flash[:500].encode()).decode()
        response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax")
    return response


def _unflash(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _safe_next(value: str | None, principal: Principal) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME[principal.role]


# --- signing in ------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Ctx) -> Response:
    principal = session_principal(request, ctx)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME[principal.role], status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = render(
        request, "login.html", None, next=next or "", nonce=nonce, sso=_sso_link(request, next)
    )
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)] = "",
    password: Annotated[str, Form(max_length=1024, pattern=TEXT_PATTERN)] = "",
    nonce: Annotated[str, Form(max_length=100, pattern=TEXT_PATTERN)] = "",
    next: Annotated[str, Form(max_length=2000, pattern=TEXT_PATTERN)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, nonce):
        return error_page(request, 403, "The sign-in form has expired: open it again.")
    if not username.strip() or not password:
        return _login_again(request, next, username, "Enter your username and password", 422)
    attempt = identity.sign_in(ctx.url, username, password)
    principal = attempt.principal
    with transaction(ctx.url) as conn:
        auditlog.log(
            conn,
            username if principal else "anonymous",
            "login" if principal else "login_locked" if attempt.locked_for else "login_failed",
            username=username,
        )
    if attempt.locked_for is not None:
        wait = max(1, math.ceil(attempt.locked_for.total_seconds()))
        minutes = math.ceil(wait / 60)
        response = error_page(
            request,
            429,
            "Too many failed sign-ins under this username. Try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an administrator to "
            "unlock it.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if principal is None:
        return _login_again(request, next, username, "Wrong username or password", 401)
    return signed_in(request, ctx, principal, next)


def signed_in(request: Request, ctx: AppContext, principal: Principal, next: str) -> Response:
    """Start ``principal``'s session (a local sign-in or single sign-on alike) and go on to
    ``next``, if it is a path here, else their start page."""
    done = RedirectResponse(_safe_next(next, principal), status_code=303)
    signer: SessionSigner = ctx.signer
    done.set_cookie(
        SESSION_COOKIE,
        signer.dumps(principal.username, principal.fingerprint),
        max_age=signer.max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    done.delete_cookie(LOGIN_COOKIE)
    return done


def _login_again(
    request: Request, next: str, username: str, message: str, status_code: int
) -> Response:
    """The sign-in form again, with the error summary and the username kept."""
    fresh = secrets.token_urlsafe(16)
    response = render(
        request,
        "login.html",
        None,
        status_code,
        next=next,
        nonce=fresh,
        username=username,
        errors={"username": message},
        sso=_sso_link(request, next),
    )
    response.set_cookie(LOGIN_COOKIE, fresh, max_age=3600, httponly=True, samesite="lax")
    return response


def _sso_link(request: Request, next: str | None) -> str | None:
    """Where the button to sign in through the organisation's provider goes, if set up."""
    if getattr(request.app.state, "oidc", None) is None:
        return None
    return "/login/oidc" + (f"?{urlencode({'next': next})}" if next else "")


@router.post("/logout")
def logout(principal: AnyoneForm, ctx: Ctx) -> Response:
    identity.end_sessions(ctx.url, principal.username)  # not only this browser's cookie
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- review ----------------------------------------------------------------------------

QUEUE_PAGE = 50
AGES = [(1, "More than a day"), (7, "More than a week"), (30, "More than 30 days")]
SHOW = ("mine", "all")


def queue_filter(
    kind: str | None,
    agreement: str | None,
    show: str | None,
    older_than: str | None,
    sort: str | None,
    q: str | None,
) -> readmodels.QueueFilter:
    """The workbench's filter from the query (400 for a value it cannot take)."""
    if kind and kind not in REVIEW_KINDS:
        raise HTTPException(400, f"unknown review kind {kind!r}")
    if show and show not in SHOW:
        raise HTTPException(400, f"show {show!r}: use mine or all")
    if sort and sort not in readmodels.SORTS:
        raise HTTPException(400, f"unknown order {sort!r}")
    days = None
    if older_than:
        if not older_than.isdigit() or not 1 <= int(older_than) <= 3650:
            raise HTTPException(400, "older_than is a number of days from 1 to 3650")
        days = int(older_than)
    return readmodels.QueueFilter(
        kind=kind or None,
        agreement=agreement or None,
        waiting_for_me=show != "all",
        older_than_days=days,
        sort=sort or "oldest",
        search=(q or "").strip() or None,
    )


# The queue filter's fields, each optional, with its longest value.
QUEUE_FIELDS = {"kind": 64, "agreement": 64, "show": 8, "older_than": 4, "sort": 16, "q": 64}


def _queue_filter_from(source: Callable[..., Any]) -> Callable[..., readmodels.QueueFilter]:
    """A dependency giving the queue's filter (:func:`queue_filter`) from the query
    (``source`` ``Query``) or from a form's hidden fields (``Form``), as :data:`QUEUE_FIELDS`."""

    def read(**given: str | None) -> readmodels.QueueFilter:
        return queue_filter(**given)

    fields = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, source(max_length=longest)],
        )
        for name, longest in QUEUE_FIELDS.items()
    ]
    read.__signature__ = inspect.Signature(fields)  # type: ignore[attr-defined]  # FastAPI reads it
    return read


QueueQuery = Annotated[readmodels.QueueFilter, Depends(_queue_filter_from(Query))]
QueueForm = Annotated[readmodels.QueueFilter, Depends(_queue_filter_from(Form))]


def _suffix(query: dict[str, str]) -> str:
    return "?" + urlencode(query) if query else ""


QUEUE_PARAMS = (*QUEUE_FIELDS, "after")


@router.get("/review", response_class=HTMLResponse)
async def review_queue(request: Request, caller: ReviewerSession, ctx: Ctx) -> Response:
    # The screens' hot path, as the API's batch fetch is: async (a few indexed statements
    # on the event loop, no thread hop), the session's user checked in the same
    # transaction as the read and its audit entry, the rows written by `queue_rows`.
    # Its query is read here rather than declared parameter by parameter: seven
    # optional parameters validated one by one cost more than the page's own query.
    given = request.query_params
    asked = {k: given.get(k) or None for k in QUEUE_PARAMS}
    if any(v is not None and len(v) > 64 for v in asked.values()):
        raise HTTPException(400, "a value in the address is longer than 64 characters")
    after = asked["after"]
    with transaction(ctx.url) as conn:
        principal = caller.principal(conn)
        filters = queue_filter(
            asked["kind"], asked["agreement"], asked["show"], asked["older_than"],
            asked["sort"], asked["q"],
        )  # fmt: skip
        page = readmodels.review_queue(
            conn, principal.username, after=after, limit=QUEUE_PAGE, filters=filters
        )
    query = filters.query()
    suffix = _suffix(query)
    kind_links = _KIND_LINKS
    if query:
        kind_links = {"": _suffix({k: v for k, v in query.items() if k != "kind"})}
        for k in REVIEW_KINDS:
            kind_links[k] = _suffix({**query, "kind": k})
    chips = [("" if not query else kind_links[""], not filters.kind,
              f"All kinds · {sum(page.open_by_kind.values())}")]  # fmt: skip
    chips += [
        (kind_links[k], filters.kind == k, f"{words.kind(k)} · {page.open_by_kind[k]}")
        for k in REVIEW_KINDS
        if page.open_by_kind.get(k)
    ]
    return render(
        request,
        "review_queue.html",
        principal,
        page=page,
        rows=queue_rows(page.items, dt.datetime.now(dt.UTC), suffix),
        filters=filters,
        chips=chips,
        filter_form=_filter_form(ctx.templates.env, filters, tuple(page.agreements)),
        suffix=suffix,
        next_href=f"/review{_suffix({**query, 'after': page.next_after or ''})}",
    )


_KIND_LINKS = {"": "", **{k: _suffix({"kind": k}) for k in REVIEW_KINDS}}


@functools.lru_cache(maxsize=256)
def _filter_form(
    env: jinja2.Environment, filters: readmodels.QueueFilter, agreements: tuple[str, ...]
) -> Markup:
    """The queue's filter form for one view and set of agreements: the same on almost
    every request of the reviewers' hot page, so rendered once and kept."""
    return Markup(
        env.get_template("queue_filters.html").render(
            filters=filters,
            kinds=REVIEW_KINDS,
            agreements=agreements,
            ages=AGES,
            sorts=readmodels.SORTS,
        )
    )


def queue_rows(
    items: Sequence[readmodels.QueueItem], now: dt.datetime | None = None, suffix: str = ""
) -> Markup:
    """The queue table's rows, written in one pass: the queue is the reviewers' hot page,
    and Jinja spends several times as long per row on look-ups, filters and escaping."""
    now = now or dt.datetime.now(dt.UTC)
    n = len(items)
    text = _each(
        [i.item_id for i in items]
        + [_name(i.family_name, i.given_names) for i in items]
        + [i.person_id for i in items]
        + [words.kind(i.kind) for i in items]
        + [i.agreement_id or "" for i in items]
        + [_match_cell(i) for i in items]
        + [i.reason for i in items],
        html.escape,
    )
    hrefs = _each([i.item_id for i in items], lambda v: quote(v, safe="\x00"))
    tail = html.escape(suffix)
    mine: dict[str | None, str] = {
        Decision.APPROVE: "<br>you approved",
        Decision.REJECT: "<br>you rejected",
        None: "",
    }
    ages: dict[dt.date, str] = {}
    for i in items:
        day = i.created_at.date()
        if day not in ages:
            ages[day] = words.age(i.created_at, now)
    return Markup(
        "".join(
            f'<tr>\n    <td><a class="id" href="/review/{hrefs[k]}{tail}">{text[k]}</a></td>\n'
            f"    <td>{text[n + k]}{'<br>' if text[n + k] else ''}"
            f'<span class="id">{text[2 * n + k]}</span></td>\n'
            f"    <td>{text[3 * n + k]}</td>\n"
            f"    <td>{text[4 * n + k]}</td>\n"
            f"    <td>{text[5 * n + k]}</td>\n"
            f"    <td>{text[6 * n + k]}</td>\n"
            f"    <td>{i.approvals} of {i.approvals_needed}{mine.get(i.mine, '')}</td>\n"
            f"    <td>{ages[i.created_at.date()]}</td>\n  </tr>\n"
            for k, i in enumerate(items)
        )
    )


def _name(family: str | None, given: str | None) -> str:
    return " ".join(p for p in (given, family) if p)


def _match_cell(item: readmodels.QueueItem) -> str:
    if item.blind:
        return "hidden until you decide"
    return words.chance(item.probability)


def _each(values: list[str], apply: Callable[[str], str]) -> list[str]:
    """``[apply(v) for v in values]`` in one call over them all, joined by NUL: for an
    ``apply`` that maps each character on its own and leaves NUL as it is (HTML escaping,
    URL quoting with NUL safe).  Values that hold a NUL themselves are done one by one."""
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return [apply(v) for v in values]
    return apply(joined).split("\x00")


@router.get("/review/{item_id}", response_class=HTMLResponse)
def review_item(
    request: Request,
    item_id: str,
    principal: ReviewerPage,
    ctx: Ctx,
    filters: QueueQuery,
    decided: bool = False,
) -> Response:
    return _item_page(request, ctx, item_id, principal, filters, just_decided=decided)


def _item_page(
    request: Request,
    ctx: AppContext,
    item_id: str,
    principal: Principal,
    filters: readmodels.QueueFilter,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    reason_text: str = "",
    rivals_too: bool = True,
    just_decided: bool = False,
) -> Response:
    with transaction(ctx.url) as conn:
        read = readmodels.review_item(conn, item_id, principal.username)
        # what this reviewer may see: no score before deciding an item reviewed blind
        detail = None if read is None else blind.for_reviewer(conn, read, principal.username)
        following = readmodels.next_item(conn, principal.username, item_id, filters)
        today = readmodels.decided_today(conn, principal.username)
    if detail is None:
        raise HTTPException(404, f"There is no review item {item_id}.")
    query = filters.query()
    suffix = _suffix(query)
    view = item_view(detail, principal.username)
    return render(
        request,
        "review_item.html",
        principal,
        status_code,
        d=detail,
        errors=errors,
        reason_text=reason_text,
        rivals_too=rivals_too,
        suffix=suffix,
        filter_fields=query,
        next_href=f"/review/{quote(following)}{suffix}" if following else None,
        decided_today=today,
        just_decided=just_decided,
        **view,
    )


def item_view(detail: dict[str, Any], reader: str) -> dict[str, Any]:
    """Everything the item page says about ``detail``, in words."""
    item = detail["item"]
    kind = str(item["kind"])
    approve_text, reject_text = words.buttons(kind)
    mine = next((x["decision"] for x in detail["decisions"] if x["reviewer"] == reader), None)
    person = detail.get("person") or {}
    match = detail.get("match")
    score = None
    fall = None
    if match and not detail.get("scores_withheld"):
        p = match.get("match_probability")
        evidence = match.get("evidence") or {}
        wrong = evidence.get("wrong_person") if isinstance(evidence, dict) else None
        score = {
            "chance": words.chance(p),
            "someone_else": words.someone_else(p, wrong),
            "sentences": linkage_words.summary(
                match.get("explanation") or [], evidence if isinstance(evidence, dict) else None
            ),
        }
        fall = present.waterfall(match.get("explanation") or [])
    comparison = present.comparison(detail)
    open_rivals = 0
    if comparison is not None:
        open_rivals = sum(
            1
            for c in comparison.columns[2:]
            if c.item_id and c.item_status == ItemStatus.OPEN and not c.decided_by_me
        )
    pool = detail.get("pool") or {}
    return {
        "kind_label": words.kind(kind),
        "person_name": _name(person.get("family_name"), person.get("given_names")),
        "status_words": words.ITEM_STATUS.get(str(item["status"]), str(item["status"])),
        "approve_text": approve_text,
        "reject_text": reject_text,
        "mine": mine,
        "mine_words": (approve_text if mine == Decision.APPROVE else reject_text) if mine else "",
        "presets": [(n, d, t) for n, (d, t) in enumerate(words.presets(kind), 1)],
        "detail_lines": _detail_lines(item.get("detail") or {}),
        "comparison": comparison,
        "fall": fall,
        "score": score,
        "stakes": _stakes_view(detail.get("stakes"), person),
        "open_rivals": open_rivals,
        "pool_words": words.code(words.POOL_STATUS, pool.get("status")),
    }


def _detail_lines(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """An item's ``detail`` in words; the chance and evidence are shown with the score."""
    lines: list[tuple[str, str]] = []
    for key, raw in detail.items():
        if key in ("match_probability", "evidence", "event_id", "detail") or raw in (None, "", []):
            continue
        if key == "reasons":
            lines.append(("Reasons", words.capital(words.reasons(raw))))
        elif key == "event_type":
            lines.append(("What happened", words.code(words.EVENT_TYPES, raw)))
        elif key == "event_date":
            lines.append(("On", words.day(raw)))
        elif key == "score" and isinstance(raw, dict):
            lines.append(("Score", _score_words(raw)))
        else:
            lines.append((words.field(key), words.value(key, raw)))
    if detail.get("detail"):
        lines.append(("In their words", str(detail["detail"])))
    return lines


def _score_words(score: dict[str, Any]) -> str:
    parts = [words.capital(words.value("kind", score.get("kind")))]
    if score.get("value") is not None:
        parts.append(f"value {words.value('value', score.get('value'))}")
    if score.get("role"):
        parts.append(f"about a {words.value('role', score.get('role'))}")
    if score.get("computed_at"):
        parts.append(f"worked out {words.day(str(score['computed_at'])[:10])}")
    if score.get("retain_until"):
        parts.append(f"kept until {words.day(str(score['retain_until'])[:10])}")
    return ", ".join(parts)


def _stakes_view(stakes: dict[str, Any] | None, person: dict[str, Any]) -> dict[str, Any] | None:
    """Each disclosure with its fields as sent beside the values held now."""
    if stakes is None:
        return None
    shown = []
    for d in stakes["disclosures"]:
        sent = d.get("fields") or {}
        rows = []
        for name, then in sent.items():
            now = person.get(name)
            then_w, now_w = words.value(name, then), words.value(name, now)
            rows.append((words.field(name), then_w, now_w, now is not None and then_w != now_w))
        shown.append(
            {**d, "rows": rows, "status_words": words.code(words.DISCLOSURE_STATUS, d["status"])}
        )
    return {**stakes, "disclosures": shown}


@router.post("/review/{item_id}/decide")
def decide(
    request: Request,
    item_id: str,
    principal: ReviewerForm,
    ctx: Ctx,
    filters: QueueForm,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=4000, pattern=TEXT_PATTERN)] = "",
    preset: Annotated[int | None, Form(ge=1, le=9)] = None,
    rivals_too: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    with transaction(ctx.url) as conn:
        found = conn.execute(
            select(ReviewItem.kind).where(ReviewItem.item_id == item_id)
        ).scalar_one_or_none()
    if found is None:
        raise HTTPException(404, f"There is no review item {item_id}.")
    approve_text, reject_text = words.buttons(found)
    note = reason.strip()
    errors: dict[str, str] = {}
    approve = decision == Decision.APPROVE
    if preset is not None:
        choices = words.presets(found)
        if preset > len(choices):
            errors["decision-approve"] = "Choose one of the reasons shown"
        else:
            chosen, text = choices[preset - 1]
            approve = chosen == Decision.APPROVE
            note = f"{text}. {note}" if note else text
    elif decision not in (Decision.APPROVE, Decision.REJECT):
        errors["decision-approve"] = f"Choose “{approve_text}” or “{reject_text}”"
    if errors:
        return _item_page(
            request, ctx, item_id, principal, filters, 422, errors, reason, bool(rivals_too)
        )
    try:
        outcome = review.decide(
            ctx.url, item_id, approve, principal.username, note, dt.date.today()
        )
    except LedgerKeyUnavailable:
        raise  # for the operators: the reviewer gets plain words and a reference
    except InvalidInput as exc:  # no reason given: against the form's reason field
        errors = form_errors(exc, {"reason": "The reason"}, "decide")
        return _item_page(
            request, ctx, item_id, principal, filters, 422, errors, reason, bool(rivals_too)
        )
    except AccordError as exc:
        return _item_page(
            request, ctx, item_id, principal, filters, status_of(exc, 409), {"decide": str(exc)},
            reason,
        )  # fmt: skip
    said = (
        f"{outcome.status.capitalize()} ({outcome.approvals} of {outcome.approvals_needed} "
        f"approvals): {outcome.effect}."
    )
    if rivals_too:
        said += _decide_rivals(ctx.url, item_id, principal.username, approve, note)
    query = {**filters.query(), "decided": "1"}
    return redirect(f"/review/{quote(item_id)}?{urlencode(query)}", said)


def _decide_rivals(url: str, item_id: str, reviewer: str, approved: bool, reason: str) -> str:
    """Reject the open items of the other candidates the reviewer has not decided: if this
    record is the person's the others are not, and rejecting it rejects them too."""
    with transaction(url) as conn:
        open_items = readmodels.open_rival_items(conn, item_id, reviewer)
    done, refused = 0, []
    why = f"{reason} (decided with {item_id}: " + (
        "that record is the person's, so this is not)" if approved else "none of them is)"
    )
    for other in open_items:
        try:
            review.decide(url, other, False, reviewer, why, dt.date.today())
            done += 1
        except LedgerKeyUnavailable:
            raise
        except AccordError as exc:
            refused.append(f"{other}: {exc}")
    said = f" Also rejected {done} other candidate{'s' if done != 1 else ''}." if done else ""
    if refused:
        said += " Not decided: " + "; ".join(refused) + "."
    return said


# --- people ----------------------------------------------------------------------------

PERSON_FIELDS = (
    "family_name", "given_names", "date_of_birth", "nationality", "postcode", "arrival_date",
    "latest_decision", "latest_decision_date", "refusal_reason", "appeal_status", "leave",
    "leave_expiry", "departure_date", "derived_as_of",
)  # fmt: skip


@router.get("/people", response_class=HTMLResponse)
def people_search(
    request: Request,
    principal: PeoplePage,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    if q and q.strip():
        return RedirectResponse(f"/people/{quote(q.strip(), safe='')}", status_code=303)
    return render(request, "people.html", principal)


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person(request: Request, person_id: str, principal: PeoplePage, ctx: Ctx) -> Response:
    with transaction(ctx.url) as conn:
        found = readmodels.person_file(conn, person_id, principal.username)
    if found is None:
        raise HTTPException(404, f"No person {person_id} is known to Accord.")
    held = found.person
    back = (
        ("/review", "Back to the review queue")
        if principal.role == "reviewer"
        else ("/people", "Find another person")
    )
    return render(
        request,
        "person.html",
        principal,
        p=found,
        person_name=_name(held.family_name, held.given_names) if held is not None else "",
        frozen=found.frozen,
        shown_fields=PERSON_FIELDS,
        rows=person_rows(found),
        back_href=back[0],
        back_label=back[1],
    )


def person_rows(p: personfile.PersonFile) -> dict[str, list[list[str]]]:
    """Every table of the person page as rows of words."""
    v, day, moment = words.value, words.day, words.moment
    return {
        "cases": [
            [c.case_id, v("latest_decision", c.decision), day(c.decision_date),
             v("refusal_reason", c.refusal_reason), v("appeal_status", c.appeal_status),
             v("leave", c.leave), day(c.leave_expiry), day(c.departure_date),
             words.value("data_category", c.data_category)]
            for c in p.cases
        ],
        "pool_history": [
            [words.code(words.POOL_STATUS, h.status), words.reasons(h.reasons), day(h.as_of),
             h.run_id or "", moment(h.at)]
            for h in p.pool_history
        ],
        "matches": [
            [m.register, m.record_id, words.chance(m.match_probability),
             "yes" if m.rank == 1 else "no", words.reasons(m.flags), m.run_id]
            for m in p.matches
        ],
        "review_items": [
            [r.item_id, words.kind(r.kind), words.status_of(r.status), r.reason,
             r.agreement_id or "", moment(r.created_at)]
            for r in p.review_items
        ],
        "disclosures": [
            [d.disclosure_id, d.recipient, d.agreement_id, d.record_id,
             words.chance(d.match_probability), explain.decided_by(d.decided_by),
             words.code(words.DISCLOSURE_STATUS, d.status), moment(d.disclosed_at),
             moment(d.acknowledged_at) or "not yet", v("fields", d.fields)]
            for d in p.disclosures
        ],
        "actions": [
            [a.disclosure_id, a.recipient, words.code(words.ACTIONS, a.action),
             day(a.action_date)]
            for a in p.actions
        ],
        "recalls": [
            [r.recall_id, r.disclosure_id, r.recipient, words.capital(words.reason(r.reason)),
             words.code(words.REMEDY, r.remedy_status), moment(r.recalled_at),
             moment(r.remedied_at), moment(r.acknowledged_at) or "not yet"]
            for r in p.recalls
        ],
        "events": [
            [e.event_id, words.code(words.EVENT_TYPES, e.event_type), day(e.event_date),
             e.detail or ""]
            for e in p.events
        ],
        "freezes": [
            [words.capital(words.reason(f.reason)), f.event_id or "", moment(f.opened_at),
             moment(f.lifted_at) or "still in force", f.lifted_by or ""]
            for f in p.freezes
        ],
    }  # fmt: skip


# --- recipient inbox -------------------------------------------------------------------


def _recipient(principal: Principal) -> str:
    assert principal.recipient is not None
    return principal.recipient


INBOX_PAGE = 100  # disclosures, and recalls, on one page of the inbox
ADVERSE_FIRST = ("revoked", "stopped", "closed", "refused", "reinstated", "restored", "reopened")


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for a download named ``filename``, whatever it holds.

    RFC 6266 with RFC 5987's ``filename*``: the name in UTF-8, percent-encoded, for
    every browser since 2011, and a plain ASCII ``filename`` beside it for the rest, with
    anything that could end the header or the quoted string (CR, LF, quotes,
    backslashes, other characters outside printable ASCII) replaced by ``_``.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    principal: RecipientPage,
    ctx: Ctx,
    after: Annotated[str | None, Query(max_length=64)] = None,
    recalls_after: Annotated[str | None, Query(max_length=70)] = None,
    unacknowledged: bool = False,
    report: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return _inbox(
        request, ctx, principal, after, recalls_after, unacknowledged, {"disclosure_id": report}
    )


def _inbox(
    request: Request,
    ctx: AppContext,
    principal: Principal,
    after: str | None,
    recalls_after: str | None,
    unacknowledged: bool,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    recipient = _recipient(principal)
    with transaction(ctx.url) as conn:
        batch = inbox.batch(
            conn,
            recipient,
            principal.username,
            unacknowledged=unacknowledged,
            after=after,
            limit=INBOX_PAGE,
            via="web",
        )
        recalls = inbox.recalls_outstanding_first(
            conn, recipient, principal.username, after=recalls_after, limit=INBOX_PAGE
        )
        counts = inbox.counts(conn, recipient)
    names: list[str] = []
    for item in batch.items:
        names += [k for k in item.fields if k not in names]
    choices = _record_choices(batch.items, recalls.items)
    here = {"after": after, "recalls_after": recalls_after}
    if unacknowledged:
        here["unacknowledged"] = "true"
    kept = {k: v for k, v in here.items() if v}
    return render(
        request,
        "inbox.html",
        principal,
        status_code,
        batch=batch,
        recalls=recalls,
        counts=counts,
        field_names=names,
        actions=[(a, words.ACTIONS[a]) for a in ADVERSE_FIRST],
        no_action=("none", words.ACTIONS["none"]),
        unacknowledged=unacknowledged,
        recalls_after=recalls_after,
        links=_inbox_links(after, recalls_after, unacknowledged, batch, recalls),
        report_href=lambda d: f"/inbox?{urlencode({**kept, 'report': d})}#report",
        choices=choices,
        form=form,
        errors=errors,
        error_anchor={"action": "action-revoked", "action_date": "action_date-day"},
        summary=_sent_summary,
        form_day=(
            {k: form.get(k, "") for k in ("day", "month", "year")}
            if any(form.get(k) for k in ("day", "month", "year"))
            else dt.date.today()
        ),
    )


def _sent_summary(fields: dict[str, Any]) -> str:
    """A disclosure's fields as one line: what the recipient was sent."""
    return "; ".join(
        f"{words.field(k)}: {words.value(k, v)}" for k, v in fields.items() if v not in (None, "")
    )


def _record_choices(
    batch: Sequence[inbox.BatchItem], recalls: Sequence[inbox.RecallShown]
) -> list[tuple[str, str]]:
    """The recipient's own records on this page, to report an action on: (disclosure, words)."""
    out: dict[str, str] = {}
    for r in recalls:
        out[r.disclosure_id] = (
            f"Record {r.record_id}: {_sent_summary(r.fields)} (sent {words.day(r.disclosed_at)}, "
            "recalled)"
        )
    for b in batch:
        out.setdefault(
            b.disclosure_id,
            f"Record {b.record_id}: {_sent_summary(b.fields)} (sent {words.day(b.disclosed_at)})",
        )
    return list(out.items())


def _inbox_links(
    after: str | None,
    recalls_after: str | None,
    unacknowledged: bool,
    batch: inbox.Page[inbox.BatchItem],
    recalls: inbox.Page[inbox.RecallShown],
) -> dict[str, str | None]:
    """The inbox's paging links: each list pages on its own and keeps the other's page."""

    def href(batch_at: str | None, recalls_at: str | None, anchor: str) -> str:
        query = {"after": batch_at, "recalls_after": recalls_at}
        shown = {k: v for k, v in query.items() if v is not None}
        if unacknowledged:
            shown["unacknowledged"] = "true"
        return f"/inbox?{urlencode(shown)}#{anchor}" if shown else f"/inbox#{anchor}"

    more_recalls, more_batch = recalls.next_after, batch.next_after
    return {
        "recalls_next": href(after, more_recalls, "recalls") if more_recalls else None,
        "recalls_first": href(after, None, "recalls") if recalls_after else None,
        "batch_next": href(more_batch, recalls_after, "batches") if more_batch else None,
    }


@router.get("/inbox/batch.csv")
def batch_download(
    principal: RecipientPage,
    ctx: Ctx,
    run: Annotated[str | None, Query(max_length=64)] = None,
    unacknowledged: bool = False,
) -> Response:
    recipient = _recipient(principal)
    with transaction(ctx.url) as conn:
        body = inbox.batch_csv(
            conn, recipient, principal.username, run_id=run, unacknowledged=unacknowledged
        )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(f"{recipient}.csv")},
    )


@router.post("/inbox/acknowledge")
async def acknowledge_page(request: Request, principal: RecipientForm, ctx: Ctx) -> Response:
    form = await request.form()
    every = str(form.get("all", ""))
    recipient = _recipient(principal)
    ids = [str(v) for v in form.getlist("disclosure_id")][:10_000]
    what = "disclosure"
    if every in ("disclosures", "recalls"):
        what = every[:-1]
        with transaction(ctx.url) as conn:
            ids = inbox.unacknowledged_ids(conn, recipient, what)
        if not ids:
            return redirect("/inbox", f"Every {what} was already acknowledged.")
    if not ids:
        ids = [str(v) for v in form.getlist("recall_id")][:10_000]
        what = "recall"
    if not ids:
        return redirect("/inbox", "Nothing was selected.")
    with transaction(ctx.url) as conn:
        if what == "disclosure":
            own = inbox.disclosure_ownership(conn, recipient, ids)
        else:
            own = inbox.recall_ownership(conn, recipient, ids)
        if own.foreign or own.unknown:
            raise HTTPException(403, f"Only {recipient}'s own {what}s can be acknowledged.")
        if what == "disclosure":
            done, already = inbox.acknowledge_disclosures(conn, recipient, ids, principal.username)
        else:
            done, already = inbox.acknowledge_recalls(conn, recipient, ids, principal.username)
    return redirect("/inbox", f"Acknowledged {done} {what}(s); {already} already were.")


def form_date(day: str, month: str, year: str, label: str) -> tuple[str | None, str | None]:
    """A day/month/year date input as ISO text, or the error to show (GOV.UK's words);
    ``label`` names the date ("the date you did it")."""
    parts = [p.strip() for p in (day, month, year)]
    if not any(parts):
        return None, f"Enter {label}"
    missing = [n for n, p in zip(("day", "month", "year"), parts, strict=True) if not p]
    if missing:
        return None, f"{words.capital(label)} must include a {' and '.join(missing)}"
    real = f"{words.capital(label)} must be a real date, for example 27 3 2026"
    if not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
        return None, real
    try:
        return dt.date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat(), None
    except ValueError:
        return None, real


@router.post("/inbox/actions")
def report_action(
    request: Request,
    principal: RecipientForm,
    ctx: Ctx,
    disclosure_id: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)] = "",
    action: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)] = "",
    action_date: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)] = "",
    action_date_day: Annotated[str, Form(max_length=8)] = "",
    action_date_month: Annotated[str, Form(max_length=8)] = "",
    action_date_year: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    recipient = _recipient(principal)
    kept = {
        "disclosure_id": disclosure_id,
        "action": action,
        "day": action_date_day,
        "month": action_date_month,
        "year": action_date_year,
    }
    errors: dict[str, str] = {}
    if not disclosure_id:
        errors["disclosure_id"] = "Choose the record you acted on"
    if action not in words.ACTIONS:
        errors["action"] = "Choose what you did"
    when = action_date or None
    if when is None:
        when, problem = form_date(
            action_date_day, action_date_month, action_date_year, "the date you did it"
        )
        if problem:
            errors["action_date"] = problem
    if not errors:
        # Another recipient's disclosure is refused by record_actions in the words an
        # unknown one is: the answer must not tell a recipient what another was sent.
        record: dict[str, object] = {
            "disclosure_id": disclosure_id,
            "action": action,
            "action_date": when,
        }
        try:
            table = formats.load_records([record], "actions", source="action form")
            result = remedy.record_actions(
                ctx.url, recipient, table, "action form", principal.username
            )
        except InputError as exc:
            for p in exc.problems:
                column = p.column if p.column in ("disclosure_id", "action") else "action_date"
                errors.setdefault(column, f"Not recorded: {p}")
        else:
            said = "recorded" if result.recorded else "already known"
            return redirect(
                "/inbox",
                f"Action {action} on {disclosure_id} {said}: "
                f"{words.ACTIONS[action].lower()}, {words.day(when)}.",
            )
    return _inbox(request, ctx, principal, None, None, False, kept, errors, 422)


# --- oversight -------------------------------------------------------------------------


@router.get("/oversight", response_class=HTMLResponse)
def oversight(request: Request, principal: AuditorPage, ctx: Ctx) -> Response:
    with transaction(ctx.url) as conn:
        counts = readmodels.live_counts(conn)
    return render(request, "oversight.html", principal, c=counts, partial=False)


@router.get("/oversight/panel", response_class=HTMLResponse)
def oversight_panel(request: Request, principal: AuditorPage, ctx: Ctx) -> Response:
    """The live counts alone, which the dashboard reloads every few seconds (htmx)."""
    with transaction(ctx.url) as conn:
        counts = readmodels.live_counts(conn)
    return render(request, "oversight_panel.html", principal, c=counts)


FilterQ = Annotated[str | None, Query(max_length=64)]


def _drill(
    what: str,
    recipient: FilterQ = None,
    status: FilterQ = None,
    remedy: FilterQ = None,
    kind: FilterQ = None,
) -> tuple[oversee.Drill, dict[str, str]]:
    """The list ``what`` names and the filters chosen of those it takes (a dependency)."""
    query = {"recipient": recipient, "status": status, "remedy": remedy, "kind": kind}
    drill = oversee.DRILLS.get(what)
    if drill is None:
        raise HTTPException(404, f"There is no list called {what}.")
    chosen: dict[str, str] = {}
    for name, allowed in drill.filters.items():
        v = (query.get(name) or "").strip()
        if v:
            if allowed and v not in allowed:
                raise HTTPException(400, f"{name} {v!r} is not one of {', '.join(allowed)}")
            chosen[name] = v
    return drill, chosen


Drilled = Annotated[tuple[oversee.Drill, dict[str, str]], Depends(_drill)]


@router.get("/oversight/rows/{what}.csv")
def oversight_rows_csv(
    what: str,
    principal: AuditorPage,
    ctx: Ctx,
    drilled: Drilled,
) -> Response:
    _, chosen = drilled
    with transaction(ctx.url) as conn:
        body = oversee.rows_csv(conn, what, chosen, principal.username)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(f"{what}.csv")},
    )


@router.get("/oversight/rows/{what}", response_class=HTMLResponse)
def oversight_rows(
    request: Request,
    what: str,
    principal: AuditorPage,
    ctx: Ctx,
    drilled: Drilled,
    after: FilterQ = None,
) -> Response:
    drill, chosen = drilled
    with transaction(ctx.url) as conn:
        found = oversee.rows(conn, what, chosen, principal.username, after=after)
        recipients = oversee.recipients(conn) if "recipient" in drill.filters else []
    return render(
        request,
        "oversight_rows.html",
        principal,
        what=what,
        drill=drill,
        chosen=chosen,
        found=found,
        recipients=recipients,
        choice_words=_choice_words,
        csv_href=f"/oversight/rows/{quote(what)}.csv{_suffix(chosen)}",
        next_href=f"/oversight/rows/{quote(what)}"
        + _suffix({**chosen, "after": found.next_after or ""}),
    )


def _choice_words(name: str, value: str) -> str:
    if name == "kind":
        return words.kind(value)
    if name == "remedy":
        return words.capital(words.REMEDY_SHORT.get(value, value))
    if name == "status":
        table = {
            **words.POOL_STATUS,
            **{k: words.capital(v) for k, v in words.DISCLOSURE_STATUS.items()},
        }
        return table.get(value, value)
    return value


def _audit_filter(
    request: Request, actor: FilterQ = None, action: FilterQ = None, person: FilterQ = None
) -> tuple[oversee.AuditFilter, dict[str, str], dict[str, str]]:
    """The audit log's filter from the query, with GOV.UK date inputs for from and to, its
    errors and the date fields as given (a dependency)."""
    q = request.query_params
    errors: dict[str, str] = {}
    kept: dict[str, str] = {}
    dates: dict[str, dt.date | None] = {}
    for name, what in (("since", "the first day to show"), ("until", "the last day to show")):
        parts = [q.get(f"{name}_{p}", "")[:8] for p in ("day", "month", "year")]
        kept |= {f"{name}_{p}": v for p, v in zip(("day", "month", "year"), parts, strict=True)}
        dates[name] = None
        if any(parts):
            iso, problem = form_date(parts[0], parts[1], parts[2], what)
            if problem:
                errors[name] = problem
            elif iso:
                dates[name] = dt.date.fromisoformat(iso)
    if action and action not in words.AUDIT_ACTIONS:
        errors["action"] = "Choose an action from the list"
        action = None
    f = oversee.AuditFilter(
        actor=(actor or "").strip() or None,
        action=action or None,
        person=(person or "").strip() or None,
        since=dates["since"],
        until=dates["until"],
    )
    return f, errors, kept


AuditQuery = Annotated[
    tuple[oversee.AuditFilter, dict[str, str], dict[str, str]], Depends(_audit_filter)
]


@router.get("/oversight/audit.csv")
def audit_log_csv(
    principal: AuditorPage,
    ctx: Ctx,
    audit: AuditQuery,
) -> Response:
    f, errors, _ = audit
    if errors:
        raise HTTPException(400, "; ".join(errors.values()))
    with transaction(ctx.url) as conn:
        body = oversee.audit_csv(conn, f, principal.username)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment("audit-log.csv")},
    )


@router.get("/oversight/audit", response_class=HTMLResponse)
def audit_log_page(
    request: Request,
    principal: AuditorPage,
    ctx: Ctx,
    audit: AuditQuery,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    f, errors, kept = audit
    entries: list[oversee.AuditEntry] = []
    more = None
    if not errors:
        with transaction(ctx.url) as conn:
            entries, more = oversee.audit_log(conn, f, principal.username, before=before)
    query = f.query()
    return render(
        request,
        "audit_log.html",
        principal,
        422 if errors else 200,
        entries=entries,
        f=f,
        kept=kept,
        errors=errors,
        error_anchor={"since": "since-day", "until": "until-day"},
        actions=sorted(words.AUDIT_ACTIONS.items(), key=lambda kv: kv[1]),
        csv_href=f"/oversight/audit.csv{_suffix(query)}",
        next_href=f"/oversight/audit{_suffix({**query, 'before': str(more)})}" if more else None,
    )


@router.get("/oversight/report.html")
def oversight_report(principal: AuditorPage, ctx: Ctx) -> Response:
    """The whole oversight report (`accord report`), made now, as a file to keep."""
    figures = collect(ctx.url, dt.date.today())
    return Response(
        render_report(figures).encode("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": attachment(f"oversight-{dt.date.today()}.html")},
    )


# --- the data subject ------------------------------------------------------------------

# UK GDPR Article 12(3): an answer within one month, or up to two months more for a complex
# case (the person told why within the first month).
TIMESCALE = (
    "We must answer your dispute within one month of receiving it. If it is complex we may "
    "take up to two months more, and if so we will tell you why within the first month "
    "(UK GDPR, Article 12(3))."
)


@router.get("/me", response_class=HTMLResponse)
def my_page(request: Request, principal: SubjectPage, ctx: Ctx) -> Response:
    return _my_page(request, ctx, principal)


def _my_page(
    request: Request,
    ctx: AppContext,
    principal: Principal,
    errors: dict[str, str] | None = None,
    detail: str = "",
    status_code: int = 200,
) -> Response:
    report, letter = subject_report(ctx.url, principal, "html")
    assert principal.person_id is not None
    with transaction(ctx.url) as conn:
        accessed = readmodels.access_log(conn, principal.person_id)
    return render(
        request,
        "me.html",
        principal,
        status_code,
        r=report,
        letter=letter.decode("utf-8"),
        accessed=accessed,
        dpo=settings().dpo_contact,
        timescale=TIMESCALE,
        errors=errors,
        detail=detail,
    )


def _my_report_file(
    ctx: AppContext, principal: Principal, output_format: str, media_type: str
) -> Response:
    """The person's own report as a file to keep: ``my-records.<output_format>``."""
    _, body = subject_report(ctx.url, principal, output_format)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="my-records.{output_format}"'},
    )


@router.get("/me/report.pdf")
def my_pdf(principal: SubjectPage, ctx: Ctx) -> Response:
    return _my_report_file(ctx, principal, "pdf", "application/pdf")


@router.get("/me/report.json")
def my_json(principal: SubjectPage, ctx: Ctx) -> Response:
    """The report as JSON with an inclusion proof per disclosure, for anyone to check
    against the published ledger (`accord ledger check-proof`)."""
    return _my_report_file(ctx, principal, "json", "application/json")


@router.post("/me/dispute")
def my_dispute(
    request: Request,
    principal: SubjectForm,
    ctx: Ctx,
    detail: Annotated[str, Form(max_length=4000, pattern=TEXT_PATTERN)] = "",
) -> Response:
    if not detail.strip():
        errors = {"detail": "Say what is wrong, in your own words, before sending the dispute"}
        return _my_page(request, ctx, principal, errors, detail, 422)
    out = open_dispute(ctx.url, principal, detail)
    return redirect(
        "/me",
        f"Your dispute {out.event_id} is recorded. Nothing more about you will be shared "
        "until it is resolved.",
    )


# --- admin -----------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, principal: AdminPage, ctx: Ctx) -> Response:
    return _admin(request, ctx, principal)


def _admin(
    request: Request,
    ctx: AppContext,
    principal: Principal,
    errors: dict[str, str] | None = None,
    kept: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with transaction(ctx.url) as conn:
        agreements = readmodels.agreements(conn)
    users = identity.list_users(ctx.url)
    return render(
        request,
        "admin.html",
        principal,
        status_code,
        agreements=agreements,
        users=users,
        errors=errors,
        kept=kept or {},
    )


@router.post("/admin/agreements/{agreement_id}/{verb}")
def admin_pause(
    request: Request,
    agreement_id: str,
    verb: str,
    principal: AdminForm,
    ctx: Ctx,
    reason: Annotated[str, Form(max_length=4000, pattern=TEXT_PATTERN)] = "",
    cohort: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)] = "",
) -> Response:
    if verb not in ("pause", "resume"):
        raise HTTPException(404, "Not found")
    with transaction(ctx.url) as conn:
        known = conn.scalar(
            select(Agreement.agreement_id).where(Agreement.agreement_id == agreement_id)
        )
    if known is None:
        raise HTTPException(404, f"No agreement {agreement_id}.")
    if not reason.strip():
        field = f"reason-{agreement_id}"
        return _admin(
            request,
            ctx,
            principal,
            {field: f"Say why sharing under {agreement_id} should {verb}"},
            {field: reason, f"cohort-{agreement_id}": cohort},
            422,
        )
    try:
        if verb == "pause":
            pauses.pause(
                ctx.url,
                agreement_id,
                cohort or None,
                reason,
                principal.username,
                policy=load_policy(settings().policy),
            )
        else:
            pauses.resume(ctx.url, agreement_id, cohort or None, reason, principal.username)
    except AccordError as exc:
        return redirect("/admin", f"Not done: {exc}")
    done = AgreementStatus.PAUSED if verb == "pause" else "resumed"
    return redirect("/admin", f"Agreement {agreement_id} {done}.")
