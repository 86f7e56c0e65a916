"""The sender's retry schedule and its end, worked out by hand (resolvers/jobs/webhooks.py's outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from resolvers.jobs.webhooks import SenderConfig, backoff, outcome
from resolvers.webhooks import signing
from storage.models.webhooks import Attempt, Delivery, DeliveryStatus

T0 = datetime(2026, 4, 1, tzinfo=UTC)
CONFIG = SenderConfig(max_attempts=4, retry_base_seconds=30)


def pending(*attempts: Attempt, requeued_at: datetime | None = None) -> Delivery:
    return Delivery(project_id="p", id="whd_1", webhook_id="wh_1", event="anomaly.detected", event_id="evt_1",
                    body="{}", attempts=list(attempts), next_attempt_at=T0, created_at=T0, requeued_at=requeued_at)


def failed_at(minutes: float) -> Attempt:
    return Attempt(at=T0 + timedelta(minutes=minutes), status_code=500, error="HTTP 500")


def test_the_default_schedule_doubles_from_30_seconds_and_is_capped_at_6_hours() -> None:
    waits = [backoff(SenderConfig(), n).total_seconds() for n in range(1, 8)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920]
    assert backoff(SenderConfig(), 20) == timedelta(hours=6)


def test_each_failure_reschedules_until_the_last_attempt_fails_for_good() -> None:
    d = pending()
    for n, minutes in enumerate((0, 1, 3), start=1):
        d = outcome(CONFIG, d, failed_at(minutes))
        assert d.status == DeliveryStatus.PENDING and len(d.attempts) == n
        assert d.next_attempt_at == T0 + timedelta(minutes=minutes, seconds=30 * 2 ** (n - 1))
    d = outcome(CONFIG, d, failed_at(6))
    assert d.status == DeliveryStatus.FAILED and len(d.attempts) == 4


def test_success_delivers_and_a_gone_endpoint_fails_at_once() -> None:
    ok = Attempt(at=T0, status_code=204)
    done = outcome(CONFIG, pending(failed_at(0)), ok)
    assert (done.status, done.delivered_at, done.last_status_code) == (DeliveryStatus.DELIVERED, T0, 204)
    gone = outcome(CONFIG, pending(), Attempt(at=T0, error="the endpoint was deleted"), gone=True)
    assert gone.status == DeliveryStatus.FAILED


def test_a_redelivery_counts_attempts_and_backoff_afresh() -> None:
    again = T0 + timedelta(hours=1)
    d = pending(*(failed_at(m) for m in range(4)), requeued_at=again)
    d = outcome(CONFIG, d, Attempt(at=again, status_code=500, error="HTTP 500"))
    assert d.status == DeliveryStatus.PENDING and d.next_attempt_at == again + timedelta(seconds=30)


def test_a_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    # From openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_k
    header = signing.sign("whsec_k", b'{"a":1}', timestamp=1_700_000_000)
    assert header == "t=1700000000,v1=a252a4340d8bbbdbac8643a2812cc7d628ad79bfba544bff054ac2fa10f795a2"
    assert signing.verify("whsec_k", header, b'{"a":1}', now=1_700_000_100)
    assert not signing.verify("whsec_k", header, b'{"a":1}', now=1_700_000_301)  # too old: a replay
    assert not signing.verify("whsec_k", "v1=abc", b'{"a":1}') and not signing.verify("whsec_k", "", b"")
