"""The screens: server-rendered pages for each role, over the same services as the API.

Every page works with plain HTML forms (post, then redirect); htmx, vendored as a
static file, only refreshes the live parts (the oversight counts).  Forms carry a CSRF
token bound to the session; messages after a redirect travel in a short-lived cookie
written by the server, never in the URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from accord import auditlog, formats, identity, remedy, review
from accord.config import settings
from accord.errors import AccordError, InputError, LedgerKeyUnavailable
from accord.formats.schema import ACTIONS
from accord.identity import Principal
from accord.policy import pauses
from accord.policy.policy import load_policy
from accord.store.models import Agreement, ReviewItem
from accord.web import inbox, readmodels
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
CaseworkerPage = Annotated[Principal, Depends(page_user("caseworker"))]
RecipientPage = Annotated[Principal, Depends(page_user("recipient"))]
RecipientForm = Annotated[Principal, Depends(page_form_user("recipient"))]
AuditorPage = Annotated[Principal, Depends(page_user("auditor"))]
AdminPage = Annotated[Principal, Depends(page_user("admin"))]
AdminForm = Annotated[Principal, Depends(page_form_user("admin"))]
SubjectPage = Annotated[Principal, Depends(page_user("subject"))]
SubjectForm = Annotated[Principal, Depends(page_form_user("subject"))]
AnyoneForm = Annotated[Principal, Depends(page_form_user(*identity.ROLES))]


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
    response = render(request, "login.html", None, next=next or "", nonce=nonce, error=None)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)],
    password: Annotated[str, Form(max_length=1024, pattern=TEXT_PATTERN)],
    nonce: Annotated[str, Form(max_length=100, pattern=TEXT_PATTERN)] = "",
    next: Annotated[str, Form(max_length=2000, pattern=TEXT_PATTERN)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, nonce):
        return error_page(request, 403, "The sign-in form has expired: open it again.")
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
        fresh = secrets.token_urlsafe(16)
        response = render(
            request,
            "login.html",
            None,
            401,
            next=next,
            nonce=fresh,
            error="Wrong username or password.",
        )
        response.set_cookie(LOGIN_COOKIE, fresh, max_age=3600, httponly=True, samesite="lax")
        return response
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


@router.post("/logout")
def logout(principal: AnyoneForm, ctx: Ctx) -> Response:
    identity.end_sessions(ctx.url, principal.username)  # not only this browser's cookie
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- review ----------------------------------------------------------------------------


@router.get("/review", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    caller: ReviewerSession,
    ctx: Ctx,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    # The screens' hot path, as the API's batch fetch is: async (a few indexed statements
    # on the event loop, no thread hop), the session's user checked in the same
    # transaction as the read and its audit entry, the rows written by `queue_rows`.
    with transaction(ctx.url) as conn:
        principal = caller.principal(conn)
        if kind is not None and kind not in review.KINDS:
            raise HTTPException(400, f"unknown review kind {kind!r}")
        page = readmodels.review_queue(conn, principal.username, kind=kind, after=after, limit=50)
    return render(
        request,
        "review_queue.html",
        principal,
        page=page,
        rows=queue_rows(page.items),
        kind=kind,
        kinds=review.KINDS,
    )


def queue_rows(items: Sequence[readmodels.QueueItem]) -> Markup:
    """The queue table's rows, written in one pass: the queue is the reviewers' hot page,
    and Jinja spends several times as long per row on look-ups, filters and escaping."""
    n = len(items)
    text = _each(
        [i.item_id for i in items]
        + [i.kind.replace("_", " ") for i in items]
        + [i.person_id for i in items]
        + [i.record_id or "" for i in items]
        + [i.agreement_id or "" for i in items]
        + [i.reason for i in items],
        html.escape,
    )
    hrefs = _each([i.item_id for i in items], lambda v: quote(v, safe="\x00"))
    return Markup(
        "".join(
            f'<tr>\n    <td><a class="id" href="/review/{hrefs[k]}">{text[k]}</a></td>\n'
            f'    <td><span class="pill">{text[n + k]}</span></td>\n'
            f'    <td class="id">{text[2 * n + k]}</td>\n'
            f'    <td class="id">{text[3 * n + k]}</td>\n'
            f"    <td>{text[4 * n + k]}</td>\n"
            f"    <td>{text[5 * n + k]}</td>\n"
            f'    <td class="num">{i.approvals} of {i.approvals_needed}</td>\n'
            f"    <td>{i.created_at.date().isoformat()}</td>\n  </tr>\n"
            for k, i in enumerate(items)
        )
    )


def _each(values: list[str], apply: Callable[[str], str]) -> list[str]:
    """``[apply(v) for v in values]`` in one call over them all, joined by NUL: for an
    ``apply`` that maps each character on its own and leaves NUL as it is (HTML escaping,
    URL quoting with NUL safe).  Values that hold a NUL themselves are done one by one."""
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return [apply(v) for v in values]
    return apply(joined).split("\x00")


@router.get("/review/{item_id}", response_class=HTMLResponse)
def review_item(request: Request, item_id: str, principal: ReviewerPage, ctx: Ctx) -> Response:
    with transaction(ctx.url) as conn:
        detail = readmodels.review_item(conn, item_id, principal.username)
    if detail is None:
        raise HTTPException(404, f"There is no review item {item_id}.")
    return render(request, "review_item.html", principal, d=detail, error=None)


@router.post("/review/{item_id}/decide")
def decide(
    request: Request,
    item_id: str,
    principal: ReviewerForm,
    ctx: Ctx,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=4000, pattern=TEXT_PATTERN)] = "",
) -> Response:
    with transaction(ctx.url) as conn:
        exists = conn.scalar(select(ReviewItem.item_id).where(ReviewItem.item_id == item_id))
    if exists is None:
        raise HTTPException(404, f"There is no review item {item_id}.")
    if not reason.strip():
        with transaction(ctx.url) as conn:
            detail = readmodels.review_item(conn, item_id, principal.username)
        message = "Say why: the reason is shown to the person concerned."
        return render(request, "review_item.html", principal, 422, d=detail, error=message)
    try:
        outcome = review.decide(
            ctx.url, item_id, decision == "approve", principal.username, reason, dt.date.today()
        )
    except LedgerKeyUnavailable:
        raise  # for the operators: the reviewer gets plain words and a reference
    except AccordError as exc:
        with transaction(ctx.url) as conn:
            detail = readmodels.review_item(conn, item_id, principal.username)
        return render(request, "review_item.html", principal, 409, d=detail, error=str(exc))
    return redirect(
        f"/review/{quote(item_id)}",
        f"{outcome.status.capitalize()} ({outcome.approvals} of {outcome.approvals_needed} "
        f"approvals): {outcome.effect}",
    )


# --- people ----------------------------------------------------------------------------


@router.get("/people", response_class=HTMLResponse)
def people_search(
    request: Request,
    principal: CaseworkerPage,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    if q and q.strip():
        return RedirectResponse(f"/people/{quote(q.strip(), safe='')}", status_code=303)
    return render(request, "people.html", principal)


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person(request: Request, person_id: str, principal: CaseworkerPage, ctx: Ctx) -> Response:
    with transaction(ctx.url) as conn:
        detail = readmodels.person(conn, person_id, principal.username)
    if detail is None:
        raise HTTPException(404, f"No person {person_id} is known to Accord.")
    return render(request, "person.html", principal, p=detail)


# --- recipient inbox -------------------------------------------------------------------


def _recipient(principal: Principal) -> str:
    assert principal.recipient is not None
    return principal.recipient


INBOX_PAGE = 100  # disclosures, and recalls, on one page of the inbox


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
    recalls_after: Annotated[str | None, Query(max_length=64)] = None,
    unacknowledged: bool = False,
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
        recalls = inbox.recalls(
            conn, recipient, principal.username, after=recalls_after, limit=INBOX_PAGE, via="web"
        )
        counts = inbox.counts(conn, recipient)
    names: list[str] = []
    for item in batch.items:
        names += [k for k in item.fields if k not in names]
    return render(
        request,
        "inbox.html",
        principal,
        batch=batch,
        recalls=recalls,
        counts=counts,
        field_names=names,
        actions=ACTIONS,
        unacknowledged=unacknowledged,
        recalls_after=recalls_after,
        links=_inbox_links(after, recalls_after, unacknowledged, batch, recalls),
        today=dt.date.today().isoformat(),
    )


def _inbox_links(
    after: str | None,
    recalls_after: str | None,
    unacknowledged: bool,
    batch: inbox.Page[inbox.BatchItem],
    recalls: inbox.Page[inbox.RecallItem],
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
    ids = [str(v) for v in form.getlist("disclosure_id")][:10_000]
    what = "disclosure"
    if not ids:
        ids = [str(v) for v in form.getlist("recall_id")][:10_000]
        what = "recall"
    if not ids:
        return redirect("/inbox", "Nothing was selected.")
    recipient = _recipient(principal)
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


@router.post("/inbox/actions")
def report_action(
    request: Request,
    principal: RecipientForm,
    ctx: Ctx,
    disclosure_id: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)],
    action: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)],
    action_date: Annotated[str, Form(max_length=64, pattern=TEXT_PATTERN)],
) -> Response:
    recipient = _recipient(principal)
    # Another recipient's disclosure is refused by record_actions in the words an unknown
    # one is: the answer must not tell a recipient what another was sent.
    record: dict[str, object] = {
        "disclosure_id": disclosure_id,
        "action": action,
        "action_date": action_date,
    }
    try:
        table = formats.load_records([record], "actions", source="action form")
        result = remedy.record_actions(ctx.url, recipient, table, "action form", principal.username)
    except InputError as exc:
        return redirect("/inbox", f"Not recorded: {exc}")
    said = "recorded" if result.recorded else "already known"
    return redirect("/inbox", f"Action {action} on {disclosure_id} {said}.")


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


# --- the data subject ------------------------------------------------------------------


@router.get("/me", response_class=HTMLResponse)
def my_page(request: Request, principal: SubjectPage, ctx: Ctx) -> Response:
    report, letter = subject_report(ctx.url, principal, "html")
    return render(request, "me.html", principal, r=report, letter=letter.decode("utf-8"))


@router.get("/me/report.pdf")
def my_pdf(principal: SubjectPage, ctx: Ctx) -> Response:
    _, pdf = subject_report(ctx.url, principal, "pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="my-records.pdf"'},
    )


@router.post("/me/dispute")
def my_dispute(
    principal: SubjectForm,
    ctx: Ctx,
    detail: Annotated[str, Form(max_length=4000, pattern=TEXT_PATTERN)] = "",
) -> Response:
    if not detail.strip():
        return redirect("/me", "Please say what is wrong before sending the dispute.")
    out = open_dispute(ctx.url, principal, detail)
    return redirect(
        "/me",
        f"Your dispute {out.event_id} is recorded. Nothing more about you will be shared "
        "until it is resolved.",
    )


# --- admin -----------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, principal: AdminPage, ctx: Ctx) -> Response:
    with transaction(ctx.url) as conn:
        agreements = readmodels.agreements(conn)
    users = identity.list_users(ctx.url)
    return render(request, "admin.html", principal, agreements=agreements, users=users)


@router.post("/admin/agreements/{agreement_id}/{verb}")
def admin_pause(
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
    done = "paused" if verb == "pause" else "resumed"
    return redirect("/admin", f"Agreement {agreement_id} {done}.")
