"""The subject access letter: plain words, accessible HTML, and a PDF a person can read.

The PDF is rendered to PNG with poppler's ``pdftoppm`` (installed by
scripts/test-prerequisites) and each page checked for ink; its text is extracted with
pypdf and compared with the report it was made from.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from pypdf import PdfReader
from test_rights import OVERSTAYER, WINDRUSH, Scenario, build_scenario, key  # noqa: F401

from accord import gate, scores
from accord.cli import main
from accord.formats import schema
from accord.linkage import model as linkage_model
from accord.rights import assemble, explain, render

HEADINGS = [
    "What we hold about you",
    "Who we shared it with and why",
    "What they did",
    "What we corrected",
    "What was withheld and why",
    "How to challenge this",
]


@pytest.fixture
def scenario(db_url: str, key: Ed25519PrivateKey, tmp_path: Path) -> Scenario:  # noqa: F811
    return build_scenario(db_url, key, tmp_path)


class Letter(HTMLParser):
    """Headings, visible text (outside <style>, ids and code), and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.headings: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.urls: list[str] = []
        self.lang: str | None = None
        self.header_cells_without_scope = 0
        self.style = ""
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        for name in ("src", "href", "action", "poster", "data"):
            if a.get(name):
                self.urls.append(str(a[name]))
        if tag == "th" and "scope" not in a:
            self.header_cells_without_scope += 1
        hidden = tag in ("style", "code", "script") or "id" in (a.get("class") or "").split()
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            return
        self.stack.append((tag, hidden or any(h for _, h in self.stack)))
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = [tag]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append((self._heading[0], " ".join("".join(self._heading[1:]).split())))
            self._heading = None
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "style":
            self.style += data
            return
        if self._heading is not None:
            self._heading.append(data)
        if not (self.stack and self.stack[-1][1]):
            self.text.append(data)


def _letter(html: str) -> Letter:
    parser = Letter()
    parser.feed(html)
    return parser


def _produce(s: Scenario, person: str, fmt: str) -> tuple[assemble.SubjectAccessReport, bytes]:
    return assemble.produce(s.url, person, produced_by="test", output_format=fmt)


# --- plain words ------------------------------------------------------------------------------


def test_every_code_the_system_writes_has_words() -> None:
    """A code without words would reach a letter spelled out: every known one has words."""
    policy = yaml.safe_load(
        (Path(schema.__file__).parents[1] / "data" / "policy.yaml").read_text(encoding="utf-8")
    )
    codes = [r["code"] for r in policy["admission_rules"]]
    codes += [v for k, v in vars(gate).items() if k.isupper() and isinstance(v, str)
              and k not in ("OUTCOMES",) and "_" in v]  # fmt: skip
    codes += list(schema.EVENT_TYPES) + list(schema.REFUSAL_REASONS)
    codes += ["manual_check_approved", "manual_check_rejected", "dispute_upheld",
              "re_review_upheld"]  # fmt: skip
    codes += [scores.REVIEW_KIND, scores.ADVERSE_USE, scores.EXPIRED, scores.DESTROYED]
    missing = [c for c in codes if c not in explain.REASONS]
    assert missing == []
    for table, values in (
        (explain.ACTIONS, schema.ACTIONS),
        (explain.DECISIONS, schema.DECISIONS),
        (explain.LEAVE, schema.LEAVE),
        (explain.APPEAL, schema.APPEAL_STATUSES),
        (explain.REMEDY, ("none_needed", "outstanding", "remedied")),
        (explain.POOL_STATUS, ("admitted", "excluded", "quarantined", "manual_check",
                               "withdrawn")),
        (explain.REVIEW_KINDS, ("manual_check", "uncertain_match", "ambiguous_match",
                                "long_residence", "dispute", "re_review",
                                "dispute_resolution", scores.REVIEW_KIND)),
    ):  # fmt: skip
        assert [v for v in values if v not in table] == []


def test_every_linkage_level_label_has_words() -> None:
    labels = [lv.label for c in linkage_model.COMPARISONS for lv in c.levels]
    assert labels
    for label in labels:
        assert not explain.level_words(label).startswith("was compared ("), label


def test_unknown_codes_are_spelled_out_never_blank() -> None:
    assert explain.reason("new_rule_2027") == "new rule 2027"
    assert explain.reason("departed,appeal_pending") == (
        f"{explain.REASONS['departed']}; {explain.REASONS['appeal_pending']}"
    )
    assert explain.decided_by("rule:automatic").startswith("decided automatically")
    assert explain.decided_by("A. Okafor, B. Lindqvist") == "approved by A. Okafor and B. Lindqvist"
    assert explain.reviewers("rule:automatic") == []


@pytest.mark.parametrize(
    "p", [0.5, 0.9, 0.95, 0.99, 0.999, 0.99949, 0.9995, 0.99995, 0.9999996, 1 - 1e-9]
)
def test_a_probability_below_one_is_never_called_100_percent(p: float) -> None:
    shown = explain.percent(p)
    assert shown != "100%" and float(shown.rstrip("%").split()[-1]) <= 100
    words = explain.probability_words(p)
    assert shown in words and "1 in " in words


def test_stronger_evidence_reads_stronger() -> None:
    lines = explain.comparison_lines(
        [{"comparison": "family_name", "level": "exact match", "match_weight": w}
         for w in (9.0, 3.0, 1.0, 0.0, -1.0, -3.0, -9.0)]
    )  # fmt: skip
    effects = [line["effect"] for line in lines]
    assert effects[0].startswith("made it much more likely")
    assert effects[1].startswith("made it more likely")
    assert effects[2].startswith("made it slightly more likely")
    assert effects[3] == "made little difference either way"
    assert effects[4].startswith("made it slightly less likely")
    assert effects[5].startswith("made it less likely")
    assert effects[6].startswith("made it much less likely")


# --- the HTML letter --------------------------------------------------------------------------


def _contrast(fg: str, bg: str) -> float:
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("person", [WINDRUSH, OVERSTAYER])
def test_the_letter_is_plain_accessible_and_self_contained(scenario: Scenario, person: str) -> None:
    report, data = _produce(scenario, person, "html")
    html = data.decode("utf-8")
    letter = _letter(html)
    assert letter.lang == "en-GB"
    h2 = [text for tag, text in letter.headings if tag == "h2"]
    assert [h for h in h2 if h in HEADINGS] == HEADINGS
    assert letter.headings[0][0] == "h1"
    assert letter.header_cells_without_scope == 0
    # No network at view time: only in-page links, no external stylesheet, font or image.
    assert letter.urls and all(u.startswith("#") for u in letter.urls)
    assert "url(" not in letter.style and "@import" not in letter.style
    # Sizes that scale with the reader's settings (200% zoom): no fixed pixel widths.
    assert not re.search(r"(?<![-\w])(width|font-size)\s*:\s*\d+px", letter.style)
    # Contrast: every text colour on white, and body text on the tinted boxes, AAA or AA.
    colours = set(re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", letter.style))
    assert colours
    for colour in colours:
        assert _contrast(colour, "#ffffff") >= 4.5, colour
    for tint in re.findall(r"background:\s*(#[0-9a-fA-F]{6})", letter.style):
        assert _contrast("#1b1b1b", tint) >= 7, tint
    # Plain words: no reason code, status code or rule name in the visible text.
    visible = " ".join(" ".join(letter.text).split())
    assert not re.findall(r"\b[a-z]+_[a-z_0-9]+\b", visible)
    assert "rule:" not in visible
    # It says what the report says.
    for d in report.disclosures:
        assert d.agreement.title in visible and d.agreement.legal_basis in visible
        assert d.recipient_words[1:] in visible
        for x in d.decided.decisions:
            assert x.reviewer in visible and x.reason in visible
    for r in report.recalls:
        assert r.remedy_words[1:] in visible
    for a in report.actions:
        assert a.action_words[1:] in visible
    assert report.challenge.where in visible
    if report.challenge.sharing_frozen:
        assert "frozen" in visible


def test_a_withheld_item_is_in_the_letter_with_its_reason(scenario: Scenario) -> None:
    victim = scenario.disclosure_of[(OVERSTAYER, "home-office-to-bank")]
    argv = ["exemption", "apply", OVERSTAYER, "--item", f"disclosure:{victim}",
            "--exemption", "Schedule 2, paragraph 2", "--justification",
            "An investigation would be prejudiced", "--by", "Dana Reyes",
            "--database", scenario.url]  # fmt: skip
    assert main(argv) == 0
    report, data = _produce(scenario, OVERSTAYER, "html")
    visible = " ".join(" ".join(_letter(data.decode("utf-8")).text).split())
    assert "An investigation would be prejudiced" in visible and "Dana Reyes" in visible
    assert "Schedule 2, paragraph 2" in visible
    assert "Nothing has been withheld" not in visible
    assert len(report.withheld) >= 2  # the disclosure, and the recall that would reveal it


# --- the PDF ------------------------------------------------------------------------------------


def test_the_pdf_letter_has_readable_pages(scenario: Scenario, tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: run scripts/test-prerequisites"
    out = tmp_path / "letter.pdf"
    argv = ["subject-access", WINDRUSH, "--format", "pdf", "--out", str(out),
            "--database", scenario.url]  # fmt: skip
    assert main(argv) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    reader = PdfReader(out)
    pages = len(reader.pages)
    assert pages >= 2
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    flat = " ".join(text.split())
    for heading in HEADINGS:
        assert heading in flat
    doc = json.loads(render.to_json(assemble.produce(scenario.url, WINDRUSH, produced_by="t")[0]))
    assert "Hortense Maud Campbell-Lewis" in flat
    for d in doc["disclosures"]:
        assert d["agreement"]["title"] in flat
    assert f"Page 1 of {pages}" in flat and f"Page {pages} of {pages}" in flat
    for i, page in enumerate(reader.pages, start=1):
        assert (page.extract_text() or "").strip(), f"page {i} has no text"
    # Rendered as a person sees it: every page has ink, none is a solid block.
    subprocess.run([pdftoppm, "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages
    for image in images:
        with Image.open(image) as im:
            grey = im.convert("L")
            width, height = grey.size
            assert height > width  # portrait A4
            histogram = grey.histogram()
            dark = sum(histogram[:128]) / (width * height)
            assert 0.003 < dark < 0.5, (image.name, dark)


def test_the_pdf_is_made_from_the_html_without_fetching_anything(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image or stylesheet URL slipped into the letter is refused, not fetched."""
    report, _ = _produce(scenario, OVERSTAYER, "json")
    original = render.to_html

    def with_remote_image(r: Any) -> str:
        return original(r).replace(
            "<main>", '<main><img alt="" src="http://127.0.0.1:9/tracker.png">'
        )

    monkeypatch.setattr(render, "to_html", with_remote_image)
    import urllib.request

    attempts: list[Any] = []

    def no_network(self: Any, request: Any, *_a: Any, **_k: Any) -> Any:
        attempts.append(request)
        raise OSError("no network in tests")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_network)
    pdf = render.to_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert attempts == []
