"""Debian's Chromium as every browser test launches it (scripts/test-prerequisites installs it).

Headless, without a sandbox (tests run in containers) and without the background traffic
a fresh profile starts: no QUIC, no first-run screens, no component updates, no sync.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
