"""Running as a service (issue 22): /metrics, /readyz, request ids and JSON logs, and the
settings `accord serve` checks before it starts."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from web_support import RUN_AT, SECRET, WebState, login

from accord.cli import main
from accord.config import Settings
from accord.disclosure import Draft, disclose
from accord.ledger import log as ledger_log
from accord.ledger import signing
from accord.store import db
from accord.web import create_app, operations


def _value(scrape: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text scrape (0 if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in scrape.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        found = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})?", series)
        if found is None or found.group(1) != name:
            continue
        got = ",".join(sorted(filter(None, (found.group(2) or "").split(","))))
        if got == wanted:
            return float(value)
    return 0.0


def test_metrics_count_requests_by_route_and_read_the_database_when_scraped(
    web: WebState,
) -> None:
    client = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=")
    text = before.text
    assert _value(text, "accord_database_up") == 1
    assert _value(text, "accord_disclosures") == 3
    assert _value(text, "accord_review_items_open") == 2
    assert _value(text, "accord_recalls_remedy_outstanding") == 0
    leaves = _value(text, "accord_ledger_leaves")
    assert leaves >= 3
    # Requests are counted by route template, never by the address asked for.
    login(client, "rev1")
    item = web.items["uncertain_match"]
    assert client.get(f"/review/{item}").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    text = client.get("/metrics").text
    assert (
        _value(
            text,
            "accord_http_requests_total",
            route="/review/{item_id}",
            method="GET",
            status="200",
        )
        == 1
    )
    assert (
        _value(text, "accord_http_requests_total", route="unmatched", method="GET", status="404")
        == 1
    )
    assert item not in text and "/no/such/page" not in text
    assert (
        _value(
            text,
            "accord_http_request_duration_seconds_count",
            route="/review/{item_id}",
            method="GET",
        )
        == 1
    )
    # A run discloses: the next scrape says so.
    with db.connect(web.url) as conn:
        disclose(
            conn,
            [
                Draft(
                    person_id="P-4",
                    recipient="dvla",
                    agreement_id="ho-to-dvla",
                    agreement_version=1,
                    record_id="DVLA-004",
                    match_probability=0.999,
                    decided_by="rule:auto",
                    fields={"family_name": "Okafor"},
                )
            ],
            RUN_AT,
            "RUN-2",
        )
        ledger_log.sign_head(conn, signing.require_key(web.key_path))
    after = client.get("/metrics").text
    assert _value(after, "accord_disclosures") == 4
    assert _value(after, "accord_ledger_leaves") == leaves + 1


def test_every_response_carries_a_request_id_the_callers_if_it_is_usable(
    web: WebState,
) -> None:
    client = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    given = client.get("/healthz", headers={"X-Request-ID": "trace-123.abc"})
    assert given.headers["x-request-id"] == "trace-123.abc"
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    unusable = client.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert unusable.headers["x-request-id"] != "x" * 200
    assert client.get("/login").headers["x-request-id"]


def test_json_logs_are_one_object_a_line_with_the_request_id(
    web: WebState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = Settings(log_format="json")
    client = TestClient(create_app(web.url, secret=SECRET, config=config))
    with caplog.at_level(logging.INFO, logger="accord.access"):
        client.get("/healthz", headers={"X-Request-ID": "req-42"})
    (record,) = [r for r in caplog.records if r.name == "accord.access"]
    line = operations.JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-42" and entry["logger"] == "accord.access"
    assert entry["method"] == "GET" and entry["path"] == "/healthz" and entry["status"] == 200
    assert entry["level"] == "info" and entry["duration_ms"] >= 0 and entry["time"]
    assert entry["message"] == "GET /healthz 200"
    # Text logs (the default) log no request lines of their own: uvicorn's stay as they were.
    caplog.clear()
    plain = TestClient(create_app(web.url, secret=SECRET, config=Settings()))
    with caplog.at_level(logging.INFO, logger="accord.access"):
        plain.get("/healthz")
    assert not [r for r in caplog.records if r.name == "accord.access"]


def _admin(url: str) -> str:
    """The server's maintenance database, to create and drop others from."""
    return url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"


def test_readiness_needs_the_database_and_a_ledger_key_that_signs(
    web: WebState,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = web.url
    if backend == "postgresql":  # a database of its own, to drop
        url = f"{web.url}_gone"
        with psycopg.connect(_admin(web.url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
        db.upgrade(url)
    client = TestClient(create_app(url, secret=SECRET), follow_redirects=False)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    # No usable ledger key: not ready, and why.
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(tmp_path / "absent.key"))
    keyless = client.get("/readyz")
    assert keyless.status_code == 503
    assert keyless.json()["reason"].startswith("the ledger key cannot sign: no ledger signing key")
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(web.key_path))
    assert client.get("/readyz").status_code == 200
    # The database goes away.
    if backend == "sqlite":
        path = db.sqlite_file(url)
        assert path is not None
        path.unlink()
    else:
        with psycopg.connect(_admin(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["reason"].startswith("the database does not answer")
    assert client.get("/healthz").status_code == 200  # liveness: the process answers
    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and _value(scrape.text, "accord_database_up") == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACCORD_LOG_FORMAT": "xml"}, "accord: ACCORD_LOG_FORMAT: 'xml' is not text or json"),
        (
            {"ACCORD_OIDC_ISSUER": "https://login.example"},
            "accord: ACCORD_OIDC_CLIENT_ID must be set when ACCORD_OIDC_ISSUER is",
        ),
        (
            {"ACCORD_OIDC_CLIENT_ID": "accord"},
            "accord: ACCORD_OIDC_CLIENT_ID is set but ACCORD_OIDC_ISSUER is not",
        ),
        (
            {
                "ACCORD_OIDC_ISSUER": "http://login.example",
                "ACCORD_OIDC_CLIENT_ID": "a",
                "ACCORD_OIDC_CLIENT_SECRET": "b",
            },
            "accord: ACCORD_OIDC_ISSUER: 'http://login.example' must use https",
        ),
        (
            {
                "ACCORD_OIDC_ISSUER": "https://login.example",
                "ACCORD_OIDC_CLIENT_ID": "a",
                "ACCORD_OIDC_CLIENT_SECRET": "b",
            },
            "accord: ACCORD_OIDC_ROLES must map at least one group to a role",
        ),
        ({"ACCORD_OIDC_ROLES": "{not json"}, "accord: ACCORD_OIDC_ROLES: not readable"),
        (
            {
                "ACCORD_OIDC_ISSUER": "https://login.example",
                "ACCORD_OIDC_CLIENT_ID": "a",
                "ACCORD_OIDC_CLIENT_SECRET": "b",
                "ACCORD_OIDC_ROLES": '{"staff": "superuser"}',
            },
            "accord: ACCORD_OIDC_ROLES: 'superuser' is not a role",
        ),
        ({"ACCORD_WEB_SECRET": "short"}, "accord: ACCORD_WEB_SECRET must be at least 32"),
        (
            {"ACCORD_PUBLISH_HEADS": "ftp://heads.example/ledger"},
            "accord: ACCORD_PUBLISH_HEADS ftp://heads.example/ledger: heads are published to",
        ),
    ],
)
def test_serve_refuses_bad_settings_in_one_line_naming_the_setting(
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for name in list(os.environ):
        if name.startswith(("ACCORD_OIDC_", "ACCORD_LOG_", "ACCORD_WEB_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The settings are checked before the database: none is needed to be refused.
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["serve", "--database", url]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert not (tmp_path / "none.db").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.sqlite_only
def test_accord_serve_with_two_workers_logs_json_and_adds_up_their_metrics(
    web: WebState,
    tmp_path: Path,
) -> None:
    accord = shutil.which("accord") or str(Path(sys.executable).parent / "accord")
    port = _free_port()
    env = {**os.environ, "ACCORD_LOG_FORMAT": "json", "ACCORD_WEB_SECRET": SECRET}
    env.pop(operations.MULTIPROC_ENV, None)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [accord, "serve", "--port", str(port), "--workers", "2", "--database", web.url,
         "--key", str(web.key_path)],
        stderr=log, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, (
                tmp_path / "serve.log"
            ).read_text()[-3000:]
            time.sleep(0.2)
        for n in range(20):
            httpx.get(f"{base}/healthz", headers={"X-Request-ID": f"probe-{n}"})
        scrape = httpx.get(f"{base}/metrics").text
        # Counted by whichever worker answered, added up across both.
        assert (
            _value(
                scrape, "accord_http_requests_total", route="/healthz", method="GET", status="200"
            )
            == 20
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    logged = (tmp_path / "serve.log").read_text()
    entries = [json.loads(line) for line in logged.splitlines() if line.strip()]
    assert entries[0]["message"].startswith("serving ")
    probes = [e for e in entries if str(e.get("request_id", "")).startswith("probe-")]
    assert len(probes) == 20
    assert {e["path"] for e in probes} == {"/healthz"} and {e["status"] for e in probes} == {200}
