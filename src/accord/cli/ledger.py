"""`accord ledger key|head|proof|consistency|check-proof` and `accord verify`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.cli.common import DatabaseOption, database_url, out
from accord.errors import AccordError, CheckFailed, InputError
from accord.ledger import bundle, keys, log, signing
from accord.store import db

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The ledger's Ed25519 key file, PEM (else ACCORD_LEDGER_KEY, else the path "
        "`accord init` kept with the database, else accord-ledger.key).",
        show_default=False,
    ),
]
TrustedKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The ledger's public key (PEM, from `accord ledger key`) that proofs must be "
        "signed with.",
        show_default=False,
    ),
]


def key_path(key: Path | None, url: str | None = None) -> Path:
    """The command's ledger key (`accord.ledger.keys`), put in use for the whole command.

    With ``url``, a key path kept with that database counts too.
    """
    path = keys.resolve_for(url, key) if url is not None else keys.resolve(None, key)
    keys.use(path)
    return path


def _emit(doc: Any, out_file: Path | None) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AccordError(f"cannot write {out_file}: {exc.strerror}") from None
    out.print(f"wrote {out_file}", markup=False)


def _connected(database: str | None) -> str:
    url = database_url(database)
    db.require_schema(url)
    return url


def _read_json(file: Path) -> Any:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InputError.single(file, "no such file") from None
    except OSError as exc:
        raise InputError.single(file, f"cannot read: {exc.strerror}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError.single(file, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError.single(file, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:  # Python's parser recurses once per level of nesting
        raise InputError.single(file, "JSON nested too deeply to be a proof or a report") from None


def read_published_heads(file: Path) -> list[signing.SignedTreeHead]:
    """Heads from a file of JSON (one, or a list) or JSON Lines, each a signed tree head
    or what `accord ledger head` prints (its ``signed_head``)."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError.single(file, "no such file") from None
    except OSError as exc:
        raise InputError.single(file, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError.single(file, "not UTF-8 text") from None
    docs: list[tuple[int | None, Any]]
    try:
        whole = json.loads(text)
        docs = [(None, d) for d in (whole if isinstance(whole, list) else [whole])]
    except json.JSONDecodeError:
        docs = []
        for number, written in enumerate(text.splitlines(), start=1):
            if not written.strip():
                continue
            try:
                docs.append((number, json.loads(written)))
            except json.JSONDecodeError as exc:
                raise InputError.single(
                    file, f"line {number} is not JSON: {exc.msg}", row=number
                ) from None
    heads: list[signing.SignedTreeHead] = []
    for position, (line, doc) in enumerate(docs, start=1):
        if isinstance(doc, dict) and "signed_head" in doc:
            doc = doc["signed_head"]
        where = f"line {line}" if line is not None else f"head {position}"
        if doc is None:
            raise InputError.single(file, f"{where} holds no signed head", row=line)
        try:
            heads.append(signing.SignedTreeHead.from_json(doc))
        except ValueError as exc:
            raise InputError.single(
                file, f"{where} is not a signed tree head: {exc}", row=line
            ) from None
    if not heads:
        raise InputError.single(file, "holds no signed tree head")
    return heads


def check_proof_file(file: Path, trusted: Ed25519PublicKey | None) -> list[str]:
    """Check every bundle in a file; the lines to print, or CheckFailed naming the first failure."""
    doc = _read_json(file)
    found = bundle.bundles_in(doc)
    if not found:
        raise InputError.single(
            file, "holds no proof bundle (a bundle, or a report with disclosures[*].proof)"
        )
    lines: list[str] = []
    failures: list[str] = []
    for where, proof in found:
        if proof is None:
            failures.append(f"{where}: there is no proof to check")
            lines.append(f"FAILED    {where}: there is no proof to check")
            continue
        try:
            result = bundle.check_bundle(proof, trusted)
        except bundle.MalformedBundle as exc:
            column = where if where != "bundle" else None
            raise InputError.single(file, f"not a proof bundle: {exc}", column=column) from None
        if result.ok and where != "bundle":
            section, index = where.split("[", 1)
            entry = doc[section][int(index.split("]", 1)[0])]
            differs = bundle.shown_matches_proof(section, entry, proof)
            if differs is not None:
                result = bundle.BundleCheck(result.label, differs)
        if result.ok:
            lines.append(f"verified  {result.label}")
        else:
            failures.append(f"{where}: {result.label}: {result.problem}")
            lines.append(f"FAILED    {result.label}: {result.problem}")
    if failures:
        suffix = f" ({len(failures)} of {len(found)} proofs failed)" if len(found) > 1 else ""
        for line in lines:
            out.print(line, markup=False)
        raise CheckFailed(f"{file}: {failures[0]}{suffix}")
    return lines


def register(app: typer.Typer) -> None:
    ledger_app = typer.Typer(
        help="The verifiable disclosure ledger: keys, signed tree heads and proofs.",
        no_args_is_help=True,
    )
    app.add_typer(ledger_app, name="ledger")

    @ledger_app.command("key")
    def key_cmd(key: KeyOption = None, database: DatabaseOption = None) -> None:
        """Print the ledger's public key (PEM), for auditors and `check-proof --key`."""
        path = key_path(key, database_url(database))
        typer.echo(signing.public_key_pem(signing.load_public_key(path)), nl=False)

    @ledger_app.command("head")
    def head_cmd(
        database: DatabaseOption = None,
        sign: Annotated[
            bool, typer.Option("--sign", help="Sign the ledger as it stands first.")
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Print the latest signed tree head (JSON), and how many leaves it does not cover."""
        url = _connected(database)
        private = signing.load_private_key(key_path(key, url)) if sign else None
        with db.connect(url) as conn:
            signed = log.sign_head(conn, private) if private is not None else log.latest_head(conn)
            size = log.tree_size(conn)
        _emit(
            {
                "ledger_size": size,
                "signed_head": signed.to_json() if signed is not None else None,
                "unsigned_leaves": size - (signed.size if signed is not None else 0),
            },
            None,
        )

    @ledger_app.command("proof")
    def proof_cmd(
        entry_id: Annotated[str, typer.Argument(help="A disclosure id (or a recall id).")],
        database: DatabaseOption = None,
        key: KeyOption = None,
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")
        ] = None,
    ) -> None:
        """Print a self-contained proof that a disclosure is in the signed ledger (JSON)."""
        url = _connected(database)
        signer = signing.load_key(key_path(key, url))
        with db.connect(url) as conn:
            kind = log.entry_kind(conn, entry_id)
            doc = log.proof_bundle(conn, kind, entry_id, key=signer)
        _emit(doc, out_file)

    @ledger_app.command("consistency")
    def consistency_cmd(
        first: Annotated[int, typer.Argument(help="The earlier tree size.")],
        second: Annotated[
            int | None, typer.Argument(help="The later tree size (default: the whole ledger).")
        ] = None,
        database: DatabaseOption = None,
    ) -> None:
        """Print a proof that the ledger at SECOND leaves extends the ledger at FIRST (JSON)."""
        url = _connected(database)
        with db.connect(url) as conn:
            second = log.tree_size(conn) if second is None else second
            proof = log.consistency_proof(conn, first, second)
            doc = {
                "first": first,
                "second": second,
                "first_root": log.root(conn, first).hex(),
                "second_root": log.root(conn, second).hex(),
                "proof": [p.hex() for p in proof],
                "first_head": _head_json(log.head_at(conn, first)),
                "second_head": _head_json(log.head_at(conn, second)),
            }
        _emit(doc, None)

    @ledger_app.command("check-proof")
    def check_proof_cmd(
        file: Annotated[Path, typer.Argument(help="A proof bundle, or a subject access report.")],
        key: TrustedKeyOption = None,
    ) -> None:
        """Check proof bundles without the database: exit 0 if all verify, 1 if one fails."""
        trusted = signing.load_public_key(key) if key is not None else None
        for line in check_proof_file(file, trusted):
            out.print(line, markup=False)

    @app.command("verify")
    def verify_cmd(
        database: DatabaseOption = None,
        key: KeyOption = None,
        published: Annotated[
            Path | None,
            typer.Option(
                "--published",
                help="Signed heads kept outside the database (JSON or JSON Lines, as "
                "`accord ledger head` prints them): the ledger must still extend each.",
            ),
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers",
                min=1,
                help="Processes to check rows in (default: 2 when a second core is idle, else 1).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Recompute the ledger and check every disclosure against it; exit 0 only if intact."""
        url = _connected(database)
        processes = workers if workers is not None else _idle_cores()
        path = key_path(key, url)
        public = signing.load_public_key(path) if key is not None or path.exists() else None
        with db.connect(url) as conn:
            if public is None and log.latest_head(conn) is not None:
                raise AccordError(
                    f"no ledger key at {path} to check the signed tree heads with: pass --key"
                )
            heads = read_published_heads(published) if published is not None else []
            result = log.verify(conn, public, workers=processes)
            contradicted = log.check_published(conn, heads, public) if result.ok else None
        if contradicted is not None:
            raise CheckFailed(f"ledger check failed: {contradicted}")
        if not result.ok:
            more = result.problem_count - 1
            suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
            raise CheckFailed(f"ledger check failed: {result.first_problem}{suffix}")
        out.print(
            f"ledger intact: {result.leaves:,} leaves ({result.disclosures:,} disclosures, "
            f"{result.recalls:,} recalls), {result.heads:,} signed tree heads, "
            f"root {result.root.hex()}"
            + (f"; extends all {len(heads):,} published heads" if heads else ""),
            markup=False,
        )


def _idle_cores() -> int:
    """2 if this machine has a core to spare for a second verifying process, else 1.

    Two processes halve the wall time on an idle two-core machine but lose to one on a
    busy machine, so the 1-minute load average decides.
    """
    cores = os.cpu_count() or 1
    return 2 if cores >= 2 and os.getloadavg()[0] <= cores - 1 else 1


def _head_json(head: signing.SignedTreeHead | None) -> dict[str, Any] | None:
    return head.to_json() if head is not None else None
