"""Running Accord as a service: metrics, readiness, request ids and logs, settings checks.

* ``/metrics`` (Prometheus text format): requests counted and timed by route template
  (``/review/{item_id}``, never the address itself, so the series stay few and no id
  reaches the metrics) and status; and, read from the database at scrape time by a few
  indexed statements, the open review items, the disclosures made, the recalls whose
  remedy is outstanding and the ledger's size.  With ``accord serve --workers N`` each
  worker writes its counts to a folder `accord serve` makes (prometheus-client's
  multiprocess mode) and a scrape adds them up.
* ``/readyz``: 200 when the database answers and the ledger key signs (and is the key
  the ledger's heads are signed with); else 503 with the reason as JSON.  ``/healthz``
  stays liveness: the process answers.
* Every response carries ``X-Request-ID``: the caller's, if it is a short token, else a
  new one; with ``ACCORD_LOG_FORMAT=json`` every log line is one JSON object with that
  id, and each request is logged once (method, path, status, duration).
* :func:`check_settings`: what `accord serve` checks before starting (one line naming
  the setting, exit 2).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.config import Settings
from accord.errors import AccordError
from accord.store import db
from accord.store.models import Disclosure, LedgerLeaf, Recall, ReviewItem
from accord.vocab import ItemStatus, RemedyStatus

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOG_FORMATS = ("text", "json")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "accord_request_id", default=None
)
access_log = logging.getLogger("accord.access")

# Latency buckets around the hot paths' target (p99 under 100 ms).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "accord_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "accord_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope["path"].startswith("/static/"):
        return "/static"
    return "unmatched"  # a 404: never the address, which could be anything


class Operations:
    """ASGI middleware: request id, metrics and (with JSON logs) one access line a request.
    Plain ASGI, a few microseconds a request."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if given is not None and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            if self.log_requests:
                access_log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "request_id": rid,
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id.reset(token)


class DatabaseGauges(Collector):
    """Figures read from the database when scraped: a few indexed counts, no table scan
    but the disclosures' count."""

    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self) -> Iterable[Metric]:
        try:
            if not db.exists(self.url):  # a SQLite file gone: connecting would make one
                raise FileNotFoundError(self.url)
            with db.connect(self.url) as conn:
                open_items = conn.scalar(
                    select(func.count())
                    .select_from(ReviewItem)
                    .where(ReviewItem.status == ItemStatus.OPEN)
                )
                disclosures = conn.scalar(select(func.count()).select_from(Disclosure))
                outstanding = conn.scalar(
                    select(func.count())
                    .select_from(Recall)
                    .where(Recall.remedy_status == RemedyStatus.OUTSTANDING)
                )
                last_leaf = conn.scalar(select(func.max(LedgerLeaf.leaf_index)))
        except Exception:  # the database is down: say so, and let /readyz say why
            up = GaugeMetricFamily("accord_database_up", "1 if the database answered the scrape.")
            up.add_metric([], 0)
            yield up
            return
        figures = [
            ("accord_database_up", "1 if the database answered the scrape.", 1),
            ("accord_review_items_open", "Review items waiting for a decision.", open_items),
            ("accord_disclosures", "Disclosures made, recalled ones included.", disclosures),
            (
                "accord_recalls_remedy_outstanding",
                "Recalls whose adverse action the recipient has not yet reversed.",
                outstanding,
            ),
            (
                "accord_ledger_leaves",
                "Leaves in the verifiable ledger.",
                0 if last_leaf is None else last_leaf + 1,
            ),
        ]
        for name, doc, value in figures:
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(value or 0))
            yield gauge


def scrape(metrics: RequestMetrics, url: str) -> bytes:
    """The text a Prometheus scrape gets: every worker's requests, and the database's figures."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
    else:
        output = generate_latest(metrics.registry)
    gauges = CollectorRegistry()
    gauges.register(DatabaseGauges(url))
    return output + generate_latest(gauges)


def readiness(url: str) -> tuple[bool, dict[str, Any]]:
    """Whether this server can do its work now: the database answers, and the ledger key
    signs and is the one its heads are signed with.  The reason, when not, is words."""
    from accord.ledger import keys, signing

    if not db.exists(url):  # a SQLite file gone: connecting would make an empty one
        return False, _unavailable("the database does not answer: its file is not there")
    try:
        with db.connect(url) as conn:
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        return False, _unavailable(f"the database does not answer: {_one_line(exc)}")
    if revision != _head_revision():
        return False, _unavailable(
            f"the database is at schema {revision}, this Accord needs {_head_revision()}"
        )
    try:
        with db.connect(url) as conn:
            path = keys.resolve(conn)
            key = signing.require_key(path)
            key.sign(b"accord readiness")
            keys.refuse_foreign(conn, signing.key_id(key), path)
    except Exception as exc:
        return False, _unavailable(f"the ledger key cannot sign: {_one_line(exc)}")
    return True, {"status": "ready"}


@functools.cache
def _head_revision() -> str:
    return db.head_revision()


def _unavailable(reason: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


# --- logs ------------------------------------------------------------------------------

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and whatever
    the record carries beyond the standard fields (method, path, status, duration_ms)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's ``log_config`` for the format: None keeps uvicorn's own (text)."""
    if log_format != "json":
        return None
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "accord.web.operations.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            # Each request is logged once, by Operations, with its id and duration.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["json"], "level": "INFO"},
    }


# --- settings --------------------------------------------------------------------------


def _env_name(field: str) -> str:
    return f"ACCORD_{field.upper()}"


def load_settings() -> Settings:
    """The settings from the environment, or one line naming the setting that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "?"
        raise AccordError(f"{_env_name(field)}: {first['msg']}") from None
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        name = _env_name(found.group(1)) if found else "ACCORD_*"
        raise AccordError(f"{name}: not readable ({_one_line(exc)})") from None


def check_settings(s: Settings) -> None:
    """What `accord serve` refuses to start with, one line naming the setting."""
    from accord import sso

    if s.log_format not in LOG_FORMATS:
        raise AccordError(f"ACCORD_LOG_FORMAT: {s.log_format!r} is not text or json")
    if s.publish_heads is not None:
        from accord.ledger import publish

        publish.destination(s.publish_heads)  # a bad one would fail the first signing
    oidc = {
        "ACCORD_OIDC_DISCOVERY_URL": s.oidc_discovery_url,
        "ACCORD_OIDC_CLIENT_ID": s.oidc_client_id,
        "ACCORD_OIDC_CLIENT_SECRET": s.oidc_client_secret,
        "ACCORD_OIDC_REDIRECT_URL": s.oidc_redirect_url,
    }
    if not s.oidc_issuer:
        given = [name for name, value in oidc.items() if value] + (
            ["ACCORD_OIDC_ROLES"] if s.oidc_roles else []
        )
        if given:
            raise AccordError(f"{given[0]} is set but ACCORD_OIDC_ISSUER is not")
        return
    _check_url("ACCORD_OIDC_ISSUER", s.oidc_issuer)
    for name in ("ACCORD_OIDC_DISCOVERY_URL", "ACCORD_OIDC_REDIRECT_URL"):
        if oidc[name]:
            _check_url(name, str(oidc[name]))
    for name in ("ACCORD_OIDC_CLIENT_ID", "ACCORD_OIDC_CLIENT_SECRET"):
        if not oidc[name]:
            raise AccordError(f"{name} must be set when ACCORD_OIDC_ISSUER is")
    if "openid" not in s.oidc_scopes.split():
        raise AccordError(f"ACCORD_OIDC_SCOPES: {s.oidc_scopes!r} must include openid")
    if not s.oidc_group_claim.strip():
        raise AccordError("ACCORD_OIDC_GROUP_CLAIM must name the claim that lists groups")
    if not s.oidc_roles:
        raise AccordError(
            "ACCORD_OIDC_ROLES must map at least one group to a role, as JSON: "
            '{"group": "reviewer"}'
        )
    sso.parse_roles(s.oidc_roles)


def _check_url(name: str, value: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise AccordError(f"{name}: {value!r} is not an http(s) address")
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "http" and not local:
        raise AccordError(f"{name}: {value!r} must use https (http only on this machine)")


def log_line(logger: str, message: str) -> None:
    """One JSON log line on standard error, before logging is set up (`accord serve`)."""
    record = logging.LogRecord(logger, logging.INFO, __file__, 0, message, None, None)
    print(JsonFormatter().format(record), file=sys.stderr, flush=True)
