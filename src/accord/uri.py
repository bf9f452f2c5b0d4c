"""Where a batch command reads and writes: a local path, ``s3://bucket/key``, or (to read
only) an ``http(s)://`` URL.

S3 goes through boto3, which finds credentials, region and endpoint the usual way
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance or pod role;
``AWS_ENDPOINT_URL_S3`` for an S3-compatible store such as MinIO or Ceph).  HTTP goes
through the standard library.  Every failure is one line naming the URI
(:class:`~accord.errors.AccordError`, exit 2).

Inputs are copied to a private local folder under the scratch directory
(``ACCORD_SCRATCH_DIR``) first, streamed in blocks so that an object of tens of
gigabytes never sits in memory, and read from there (:func:`fetched`); outputs are
written whole to a local staging folder and then uploaded (:func:`upload_folder`), so
that nothing half-written is ever read as an output.

Why a copy, not DuckDB reading ``s3://`` itself: DuckDB reads S3 only through its httpfs
extension, which is not built into the ``duckdb`` package: DuckDB downloads it on first
use from its own extension site, which a machine that reaches only package registries
(CI, an air-gapped department) cannot, and no registry package carries it for this
DuckDB.  And a Parquet file would be fetched in ranges once per query that reads it (the
checks, the count, linkage), where the copy is fetched once.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.config import Settings
from accord.errors import AccordError
from accord.workspace import scratch_root

HTTP_TIMEOUT_S = 30
COPY_BLOCK = 8 << 20  # bytes of an input held in memory at once while it is copied


def is_s3(text: str | Path) -> bool:
    return str(text).startswith("s3://")


def is_http(text: str | Path) -> bool:
    return str(text).startswith(("http://", "https://"))


def is_remote(text: str | Path) -> bool:
    return is_s3(text) or is_http(text)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # no leading slash; "" for the bucket's root

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Location:
        prefix = self.key.rstrip("/")
        return S3Location(self.bucket, f"{prefix}/{name}" if prefix else name)


def s3_location(text: str, what: str = "") -> S3Location:
    """``s3://bucket/key`` parsed; a malformed one is one line naming ``what`` (the option)."""
    parsed = urllib.parse.urlsplit(text)
    label = f"{what} {text}" if what else text
    if parsed.scheme != "s3" or not parsed.netloc:
        raise AccordError(f"{label}: not an S3 location (s3://bucket/key)")
    if parsed.query or parsed.fragment:
        raise AccordError(f"{label}: an S3 location has no ? or # part")
    return S3Location(parsed.netloc, parsed.path.lstrip("/"))


def _s3_client() -> Any:
    try:
        import boto3
    except ModuleNotFoundError:  # pragma: no cover - boto3 is a dependency
        raise AccordError("s3:// locations need boto3, which is not installed") from None
    return boto3.client("s3")


def _s3_problem(exc: Exception) -> str:
    """A boto3/botocore failure in a few words, on one line."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "")
        return " ".join(f"{code}: {message}".strip(": ").split()) or type(exc).__name__
    return " ".join(str(exc).split()) or type(exc).__name__


def _s3_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _s3_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _is_missing(exc: Exception) -> bool:
    return _s3_code(exc) in ("NoSuchKey", "404", "NotFound")


def read_bytes(location: str, what: str = "") -> bytes | None:
    """The bytes at a local path, an S3 location or an HTTP(S) URL; None if there is
    nothing there (no such file, key or page)."""
    label = f"{what} {location}" if what else location
    if is_s3(location):
        where = s3_location(location, what)
        try:
            body = _s3_client().get_object(Bucket=where.bucket, Key=where.key)["Body"]
            return bytes(body.read())
        except _s3_errors() as exc:
            if _is_missing(exc):
                return None
            raise AccordError(f"{label}: cannot read: {_s3_problem(exc)}") from None
    if is_http(location):
        try:
            with urllib.request.urlopen(location, timeout=HTTP_TIMEOUT_S) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise AccordError(f"{label}: cannot read: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise AccordError(f"{label}: cannot read: {reason}") from None
    path = Path(location)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise AccordError(f"{label}: is a folder, not a file") from None
    except OSError as exc:
        raise AccordError(f"{label}: cannot read: {exc.strerror}") from None


def s3_put(where: S3Location, data: bytes, *, create_only: bool, what: str = "") -> bool:
    """Write an S3 object; with ``create_only``, only if no object has that key (S3's
    conditional write): False if one already had it."""
    extra = {"IfNoneMatch": "*"} if create_only else {}
    try:
        _s3_client().put_object(Bucket=where.bucket, Key=where.key, Body=data, **extra)
    except _s3_errors() as exc:
        response = getattr(exc, "response", None)
        code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
        if create_only and code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        label = f"{what} {where}" if what else str(where)
        raise AccordError(f"{label}: cannot write: {_s3_problem(exc)}") from None
    return True


def s3_keys(where: S3Location, what: str = "") -> list[str]:
    """Every key under a prefix (a folder: ``where.key`` with a trailing slash added)."""
    prefix = where.key.rstrip("/") + "/" if where.key else ""
    keys: list[str] = []
    try:
        pages = _s3_client().get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=where.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    except _s3_errors() as exc:
        label = f"{what} {where}" if what else str(where)
        raise AccordError(f"{label}: cannot list: {_s3_problem(exc)}") from None
    return keys


@contextlib.contextmanager
def fetched(location: str | Path, what: str = "") -> Iterator[Path]:
    """A local path to read ``location`` from: itself if local, else a private copy
    (named as the object is, so that its extension still says CSV or Parquet) in a
    folder of its own under the scratch directory, removed afterwards however the block
    ends.  The copy is streamed in blocks of ``COPY_BLOCK`` bytes.  A location that
    names no object, or one that cannot be read (no such bucket or object, access
    denied), is one line naming ``what`` (the option) and the URI, and leaves nothing
    behind."""
    text = str(location)
    if not is_remote(text):
        yield Path(text)
        return
    label = f"{what} {text}" if what else text
    where = s3_location(text, what) if is_s3(text) else None
    if where is not None and (not where.key or where.key.endswith("/")):
        raise AccordError(f"{label}: names no object: give s3://bucket/key")
    name = Path(urllib.parse.urlsplit(text).path).name or "input"
    folder = Path(tempfile.mkdtemp(prefix="accord-in-", dir=scratch_root(Settings())))
    try:
        local = folder / name
        if where is not None:
            _copy_s3(where, local, label)
        else:
            _copy_http(text, local, label)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_s3(where: S3Location, local: Path, label: str) -> None:
    """The object at ``where`` into the file ``local``: one GET, its body streamed."""
    try:
        body = _s3_client().get_object(Bucket=where.bucket, Key=where.key)["Body"]
        with body, local.open("wb") as fh:
            for block in body.iter_chunks(COPY_BLOCK):
                fh.write(block)
    except _s3_errors() as exc:
        code = _s3_code(exc)
        if _is_missing(exc):
            raise AccordError(f"{label}: no such object") from None
        if code == "NoSuchBucket":
            raise AccordError(f"{label}: no such bucket {where.bucket}") from None
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise AccordError(f"{label}: access denied ({_s3_problem(exc)})") from None
        raise AccordError(f"{label}: cannot read: {_s3_problem(exc)}") from None
    except OSError as exc:
        raise AccordError(
            f"{label}: cannot copy it to the scratch directory: {exc.strerror or exc}"
        ) from None


def _copy_http(url: str, local: Path, label: str) -> None:
    """The page at ``url`` into the file ``local``, streamed."""
    try:
        with (
            urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response,
            local.open("wb") as fh,
        ):
            shutil.copyfileobj(response, fh, COPY_BLOCK)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise AccordError(f"{label}: no such object") from None
        raise AccordError(f"{label}: cannot read: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise AccordError(f"{label}: cannot read: {reason}") from None


def upload_folder(local: Path, target: str, names: list[str], what: str = "--out") -> None:
    """Upload the files ``names`` (relative to ``local``) under the S3 prefix ``target``,
    each whole, in order; the first failure is one line saying how many were uploaded."""
    where = s3_location(target, what)
    done: list[str] = []
    for name in names:
        try:
            data = (local / name).read_bytes()
        except OSError as exc:
            raise AccordError(
                f"{what} {target}: cannot read staged {name}: {exc.strerror}"
            ) from None
        try:
            s3_put(where.child(name), data, create_only=False, what=what)
        except AccordError as exc:
            left = len(names) - len(done)
            raise AccordError(
                f"{exc} ({len(done)} of {len(names)} files uploaded, {left} not)"
            ) from None
        done.append(name)


def check_s3_target(target: str, what: str = "--out") -> None:
    """Refuse (exit 2) an S3 output location whose bucket cannot be reached, before a
    command commits anything it would then fail to upload."""
    where = s3_location(target, what)
    try:
        _s3_client().head_bucket(Bucket=where.bucket)
    except _s3_errors() as exc:
        problem = _s3_problem(exc)
        if problem.startswith(("404", "NoSuchBucket")):
            problem = "no such bucket"
        raise AccordError(f"{what} {target}: cannot use bucket {where.bucket}: {problem}") from None


@contextlib.contextmanager
def shown_as(names: dict[str, str]) -> Iterator[None]:
    """Errors name a remote input by its URI, not by the private local copy read."""
    try:
        yield
    except AccordError as exc:
        text = str(exc)
        for local, remote in names.items():
            text = text.replace(local, remote)
        if text == str(exc):
            raise
        renamed = AccordError(text)
        renamed.exit_code = exc.exit_code
        raise renamed from None


@contextlib.contextmanager
def output_folder(
    target: str, what: str = "--out"
) -> Iterator[tuple[Path, Callable[[list[str]], None] | None]]:
    """A local folder to write outputs into, and what delivers them.

    Local: the folder itself, nothing more to do.  S3: a private staging folder, and a
    function that uploads the named files from it (each whole; the caller names the file
    that marks a complete delivery last), removed afterwards.
    """
    if not is_s3(target):
        yield Path(target), None
        return
    check_s3_target(target, what)
    staging = Path(tempfile.mkdtemp(prefix="accord-out-"))
    try:
        yield staging, lambda names: upload_folder(staging, target, names, what)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
