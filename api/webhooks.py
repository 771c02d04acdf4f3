"""Twilio webhooks: message status callbacks and inbound WhatsApp messages.

Both verify ``X-Twilio-Signature`` before reading anything else: a missing or
wrong signature gets 403 and changes nothing.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from engine.alerting import callbacks, replies, signatures
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models.base import utcnow
from engine.settings import get_settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _verified_form(request: Request) -> FormData:
    settings = get_settings()
    signature = request.headers.get("X-Twilio-Signature")
    client = request.client.host if request.client else "unknown"
    if not signature:
        log.warning("%s from %s without X-Twilio-Signature: rejected", request.url.path, client)
        raise HTTPException(403, "missing X-Twilio-Signature header")
    form = await request.form()
    url = signatures.public_url(settings, str(request.url), request.url.path,
                                request.url.query)
    settings_header = request.headers.get("X-Twilio-Webhooks-Signature-Settings")
    if not signatures.verify(settings, url, form, signature, settings_header):
        log.warning("%s from %s with an invalid X-Twilio-Signature for %s: rejected",
                    request.url.path, client, url)
        raise HTTPException(
            403,
            f"invalid X-Twilio-Signature for {url}; check that PUBLIC_BASE_URL is the URL "
            "Twilio calls and TWILIO_AUTH_TOKEN is the account's token",
        )
    return form


def _apply_status(fields: dict[str, str]) -> str:
    update = callbacks.StatusUpdate.from_form(fields)
    with session_scope() as session:
        return callbacks.apply_status(session, update, utcnow(), get_settings())


def _handle_inbound(fields: dict[str, str]) -> replies.InboundResult:
    with session_scope() as session:
        return replies.handle_inbound(session, fields, utcnow())


_WEBHOOK_RESPONSES = {
    400: {"description": "A form field Twilio always sends is missing or invalid."},
    403: {"description": "The X-Twilio-Signature header is missing or does not match."},
}


@router.post("/status", responses=_WEBHOOK_RESPONSES)
async def status_callback(request: Request) -> Response:
    """Record a message status (sent, delivered, read, failed) that Twilio reports."""
    form = await _verified_form(request)
    try:
        result = await run_in_threadpool(_apply_status, dict(form))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return Response(content=result, media_type="text/plain")


@router.post("/inbound", responses=_WEBHOOK_RESPONSES)
async def inbound_message(request: Request, background: BackgroundTasks) -> Response:
    """Handle a customer's WhatsApp message and queue the reply."""
    form = await _verified_form(request)
    try:
        result = await run_in_threadpool(_handle_inbound, dict(form))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if result.reply_alert_id is not None:
        # The reply goes out right after this response instead of at the next
        # dispatch run. Claims keep a parallel dispatcher from sending it twice.
        background.add_task(dispatch_once, alert_ids=[result.reply_alert_id],
                            run_housekeeping=False)
    return Response(content=EMPTY_TWIML, media_type="text/xml")
