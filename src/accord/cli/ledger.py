"""`accord ledger key|head|proof|consistency|check-proof` and `accord verify`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accord.cli.common import (
    DatabaseOption,
    KeyOption,
    database_url,
    key_path,
    out,
    ready_database,
)
from accord.errors import AccordError, CheckFailed, InputError
from accord.ledger import PUBLISH_HEADS_ENV

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from accord.ledger import publish
    from accord.ledger.signing import AnyKey, SignedTreeHead

TrustedKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The ledger's public key (PEM, from `accord ledger key`) that proofs must be "
        "signed with.",
        show_default=False,
    ),
]


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
    url = ready_database(database)
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


def read_published(
    location: str, what: str = "--published"
) -> tuple[publish.Destination, list[publish.Record]]:
    """The destination a location names and the records published there, oldest first
    (`accord.ledger.publish`): a file of JSON (one, or a list) or JSON Lines, each a signed
    tree head or what `accord ledger head` prints; a folder; an HTTP(S) URL of one; an S3
    prefix."""
    from accord import uri
    from accord.ledger import publish

    target = publish.destination(location, what)
    if isinstance(target, publish.LinesFile | publish.LocalFolder) and not uri.is_http(location):
        path = Path(location.removeprefix("file://")).expanduser()
        if not path.exists():
            raise InputError.single(path, "no such file or folder")
    records = target.records()
    if not records:
        raise AccordError(f"{location}: holds no signed tree head")
    return target, records


def check_proof_file(file: Path, trusted: Ed25519PublicKey | None) -> list[str]:
    """Check every bundle in a file; the lines to print, or CheckFailed naming the first failure."""
    from accord.ledger import bundle

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
        from accord.ledger import signing

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
        from accord.ledger import log, signing
        from accord.store import db

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
        from accord.ledger import log, signing
        from accord.store import db

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
        from accord.ledger import log
        from accord.store import db

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
        from accord.ledger import signing

        trusted = signing.load_public_key(key) if key is not None else None
        for line in check_proof_file(file, trusted):
            out.print(line, markup=False)

    @ledger_app.command("publish")
    def publish_cmd(
        database: DatabaseOption = None,
        to: Annotated[
            str | None,
            typer.Option(
                "--to",
                help=f"Where to publish (default: {PUBLISH_HEADS_ENV}): a .jsonl file, a folder, "
                "or s3://bucket/prefix.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Publish every signed tree head the destination does not hold yet, in order.

        Every command that signs a head already does this once it commits; this retries
        what a failed publication left pending.
        """
        from accord.ledger import publish

        url = _connected(database)
        target = publish.destination(to, "--to") if to is not None else publish.configured()
        if target is None:
            raise AccordError(f"nowhere to publish: set {PUBLISH_HEADS_ENV} or pass --to")
        if not target.writable:
            raise AccordError(f"--to {target}: an HTTP URL is read only; publish to a folder or S3")
        done = publish.publish(url, target)
        if done:
            out.print(
                f"published {len(done):,} signed tree head{'s' if len(done) != 1 else ''} to "
                f"{target} (the newest at {done[-1].size:,} leaves)",
                markup=False,
            )
        else:
            out.print(f"nothing to publish: {target} holds every signed tree head", markup=False)

    @ledger_app.command("witness")
    def witness_cmd(
        heads: Annotated[
            str,
            typer.Argument(
                help="The published heads: a .jsonl file, a folder, its http(s) URL, or "
                "s3://bucket/prefix."
            ),
        ],
        key: Annotated[
            Path,
            typer.Option(
                "--key",
                help="The witness's own Ed25519 key (PEM); created, mode 0600, if absent.",
            ),
        ],
        log_key: Annotated[
            Path,
            typer.Option(
                "--log-key", help="The ledger's public key (PEM, from `accord ledger key`)."
            ),
        ],
        state: Annotated[
            Path,
            typer.Option(
                "--state", help="The witness's state file: the last size and root it co-signed."
            ),
        ],
        name: Annotated[
            str | None,
            typer.Option("--name", help="The witness's name, shown with its co-signatures."),
        ] = None,
        cosignatures: Annotated[
            str | None,
            typer.Option(
                "--cosignatures",
                help="Where to write the co-signature (default: next to the heads).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Co-sign the newest published head once it is checked: signed by the ledger key,
        and consistent with the last head this witness co-signed (exit 1 if not)."""
        from accord.ledger import publish, signing, witness

        source = publish.destination(heads, "HEADS")
        write_to = publish.destination(cosignatures, "--cosignatures") if cosignatures else source
        if not write_to.writable:
            raise AccordError(
                f"{write_to}: an HTTP URL is read only; pass --cosignatures FOLDER to write to"
            )
        if not state.parent.is_dir():
            raise AccordError(f"--state {state}: folder {state.parent} does not exist")
        created = not key.exists()
        private = signing.load_or_create_key(key)
        public = signing.load_public_key(log_key)
        label = name or f"witness-{signing.key_id(private)[:16]}"
        try:
            done, before = witness.cosign(source, private, public, state, label, write_to)
        except witness.Refused as exc:
            raise CheckFailed(f"witness {label} refused: {exc}") from None
        if created:
            out.print(f"created witness key {key}", markup=False)
        if done is None:
            assert before is not None
            out.print(
                f"witness {label}: nothing new since the head at {before.tree_size:,} leaves",
                markup=False,
            )
            return
        since = (
            f"consistent with the {before.tree_size:,} leaves it co-signed before"
            if before is not None
            else "its first: every published head checked from the first"
        )
        out.print(
            f"witness {label}: co-signed the head at {done.tree_size:,} leaves "
            f"(root {done.root.hex()[:16]}…), {since}; written to {write_to}",
            markup=False,
        )

    @app.command("verify")
    def verify_cmd(
        database: DatabaseOption = None,
        key: KeyOption = None,
        published: Annotated[
            str | None,
            typer.Option(
                "--published",
                help="Signed heads kept outside the database: a JSON or JSON Lines file, a "
                f"folder, its http(s) URL, or s3://bucket/prefix (default: {PUBLISH_HEADS_ENV}, if "
                "set). The ledger must still extend each.",
                show_default=False,
            ),
        ] = None,
        witness_keys: Annotated[
            list[Path] | None,
            typer.Option(
                "--witness-key",
                help="A witness's public key (PEM): its co-signature must be published with "
                "the heads and agree with the ledger (repeat for more witnesses).",
                show_default=False,
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
        from accord.ledger import keys, log, publish, signing
        from accord.store import db

        url = _connected(database)
        processes = workers if workers is not None else _idle_cores()
        path = key_path(key, url)
        public = signing.load_public_key(path) if key is not None or keys.available(path) else None
        configured = publish.configured()
        witnesses = [signing.load_public_key(p) for p in witness_keys or []]
        target: publish.Destination | None = None
        records: list[publish.Record] = []
        if published is not None:
            target, records = read_published(published)
        elif configured is not None:
            target, records = configured, configured.records()
        if witnesses and target is None:
            raise AccordError(f"--witness-key: pass --published too (or set {PUBLISH_HEADS_ENV})")
        ours = target is not None and configured is not None and (str(target) == str(configured))
        heads = [r.head for r in records]
        with db.connect(url) as conn:
            if public is None and log.latest_head(conn) is not None:
                raise AccordError(
                    f"no ledger key at {path} to check the signed tree heads with: pass --key"
                )
            result = log.verify(conn, public, workers=processes)
            contradicted = log.check_published(conn, heads, public) if result.ok else None
            unpublished = (
                publish.pending(conn, records[-1] if records else None)
                if ours and result.ok and contradicted is None
                else []
            )
            cosigned, problem = (
                _check_cosignatures(conn, target, witnesses, public)
                if target is not None and result.ok and contradicted is None
                else ([], None)
            )
        if contradicted is not None:
            raise CheckFailed(f"ledger check failed: {contradicted}")
        if not result.ok:
            more = result.problem_count - 1
            suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
            raise CheckFailed(f"ledger check failed: {result.first_problem}{suffix}")
        if unpublished:
            n = len(unpublished)
            raise CheckFailed(
                f"ledger check failed: {n:,} signed tree head{'s are' if n != 1 else ' is'} not "
                f"yet published to {target} (at {unpublished[0].size:,}"
                + (f" to {unpublished[-1].size:,}" if n > 1 else "")
                + " leaves): `accord ledger publish` publishes them"
            )
        if problem is not None:
            raise CheckFailed(f"ledger check failed: {problem}")
        out.print(
            f"ledger intact: {result.leaves:,} leaves ({result.disclosures:,} disclosures, "
            f"{result.recalls:,} recalls), {result.heads:,} signed tree heads, "
            f"root {result.root.hex()}"
            + (f"; extends all {len(heads):,} published heads" if heads else "")
            + "".join(f"; {c}" for c in cosigned),
            markup=False,
        )


def _check_cosignatures(
    conn: Any,
    target: publish.Destination,
    witnesses: list[Ed25519PublicKey],
    ledger_key: AnyKey | None,
) -> tuple[list[str], str | None]:
    """What to say about the witnesses' co-signatures at ``target``, and the first problem.

    Each witness given must have co-signed a head of this ledger (its key id) whose root
    is the ledger's at that size; co-signatures by witnesses not given are reported as
    found, unchecked.
    """
    from accord.ledger import log, signing

    size = log.tree_size(conn)
    said: list[str] = []
    given = {signing.key_id(w): w for w in witnesses}
    for witness_id, witness_key in given.items():
        found = target.cosignatures_by(witness_id)
        label = f"witness key {witness_id[:16]}…"
        if found is None:
            return said, f"no co-signature by {label} at {target}"
        label = f"witness {found.witness} ({witness_id[:16]}…)"
        if not found.verify(witness_key):
            return said, f"the co-signature by {label} does not verify under its key"
        if ledger_key is not None and found.log_key_id != signing.key_id(ledger_key):
            return said, f"{label} co-signed a head of another ledger key"
        where = f"{label} co-signed the head at {found.tree_size:,} leaves"
        if found.tree_size > size:
            return said, f"{where}, but the ledger now holds only {size:,} leaves"
        if log.root(conn, found.tree_size) != found.root:
            return said, (
                f"{where}, and the ledger's first {found.tree_size:,} leaves no longer hash "
                "to its root"
            )
        said.append(f"co-signed at {found.tree_size:,} leaves by {found.witness} (checked)")
    for found in target.cosignatures():
        if found.witness_key_id not in given:
            said.append(
                f"co-signed at {found.tree_size:,} leaves by {found.witness} "
                f"({found.witness_key_id[:16]}…, not checked: pass --witness-key)"
            )
    return said, None


def _idle_cores() -> int:
    """2 if this machine has a core to spare for a second verifying process, else 1.

    Two processes halve the wall time on an idle two-core machine but lose to one on a
    busy machine, so the 1-minute load average decides.
    """
    cores = os.cpu_count() or 1
    return 2 if cores >= 2 and os.getloadavg()[0] <= cores - 1 else 1


def _head_json(head: SignedTreeHead | None) -> dict[str, Any] | None:
    return head.to_json() if head is not None else None
