"""The JSON API (``/api/v1``): for recipient bodies, the source body and every role's tools."""

from __future__ import annotations

from fastapi import APIRouter

from accord.web.api import governance, recipient, staff, subject

router = APIRouter(prefix="/api/v1")
router.include_router(recipient.router)
router.include_router(staff.router)
router.include_router(subject.router)
router.include_router(governance.router)

__all__ = ["router"]
