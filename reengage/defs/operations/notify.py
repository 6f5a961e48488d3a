"""Say something to the people on call: always to the log, and to a Slack-compatible webhook if set.

`REENGAGE_ALERT_WEBHOOK_URL` (Slack incoming webhook, or anything that accepts its
`{"text": ..., "blocks": [...]}` JSON) turns the webhook on. The URL is a secret (the
token is in the path), so it is never logged. A webhook that is down or slow is
logged and never raised: an alert must not fail the sensor that sends it, or the
next alert would not be sent either.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from reengage import settings

WEBHOOK_VAR = settings.ALERT_WEBHOOK_URL
TIMEOUT_VAR = settings.ALERT_TIMEOUT_SECONDS
# Defence in depth: alert texts are built from names and counts, but error messages are free text.
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
SECRET = re.compile(r"\bSG\.[\w-]{8,}(\.[\w-]+)?")  # SendGrid API keys
MAX_TEXT = 3000  # Slack's limit for a section block's text

logger = logging.getLogger("reengage.alerts")


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert: logged always; posted, failed or not configured for the webhook."""

    text: str
    webhook: str  # "posted", "failed: <why>", or "not configured"


def redact(text: str) -> str:
    return SECRET.sub("[api key]", EMAIL.sub("[email]", text))


def slack_payload(text: str) -> dict:
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}}],
    }


def send_alert(text: str, log: logging.Logger | None = None) -> Delivery:
    """Log `text` (redacted) as a warning, then POST it to the webhook when one is configured."""
    log = log or logger
    text = redact(text)
    log.warning(text)
    url = settings.alert_webhook_url()
    if not url:
        return Delivery(text=text, webhook="not configured")
    timeout = settings.alert_timeout_seconds()
    request = urllib.request.Request(
        url,
        data=json.dumps(slack_payload(text)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as err:
        outcome = f"failed: the webhook answered HTTP {err.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        outcome = f"failed: {type(reason).__name__} ({_short(reason)})"
    else:
        return Delivery(text=text, webhook="posted")
    log.error(f"alert webhook ({WEBHOOK_VAR}) {outcome}; the alert above is in the log only")
    return Delivery(text=text, webhook=outcome)


def _short(reason: object) -> str:
    # URLError reasons can quote the URL, which holds the webhook's token: keep only a short cause.
    text = str(reason)
    url = settings.alert_webhook_url()
    return (text.replace(url, "[webhook]") if url else text)[:120]
