//! What an attempt's result means: done, try again when, or give up; and what it means for
//! the webhook.

use std::time::Duration;

use chrono::{DateTime, Utc};
use faxrelay_core::retry::RetrySchedule;
use faxrelay_storage::dispatch::{NextStep, WebhookEffect};

use crate::attempt::AttemptResult;

/// `Retry-After` is honoured within these bounds.
pub const RETRY_AFTER_MIN: Duration = Duration::from_secs(1);
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// The decision after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: NextStep,
    pub webhook: WebhookEffect,
}

/// A webhook's `last_success_at` is refreshed at most this often.
const SUCCESS_PRECISION: Duration = Duration::from_secs(60);

/// What the webhook's history says.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHealth {
    /// When its current streak of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// How long a streak may last before the webhook is disabled.
    pub disable_after: Duration,
}

/// Decides after an attempt that made `attempts_in_schedule` attempts under `schedule`.
pub fn decide(
    result: &AttemptResult,
    attempts_in_schedule: u32,
    schedule: &RetrySchedule,
    health: WebhookHealth,
    now: DateTime<Utc>,
) -> Decision {
    if result.is_success() {
        // Busy webhooks succeed many times a second; their row is written only when its
        // health changes or `last_success_at` is a minute old.
        let fresh = health
            .last_success_at
            .is_some_and(|at| (now - at).to_std().unwrap_or_default() < SUCCESS_PRECISION);
        let webhook = if health.failing_since.is_none() && fresh {
            WebhookEffect::Unchanged
        } else {
            WebhookEffect::Succeeded
        };
        return Decision {
            next: NextStep::Succeeded,
            webhook,
        };
    }
    if result.status == Some(410) {
        return Decision {
            next: NextStep::Dead,
            webhook: WebhookEffect::Disable("the endpoint answered 410 Gone".to_owned()),
        };
    }
    let webhook = match health.failing_since {
        Some(since) if (now - since).to_std().unwrap_or_default() >= health.disable_after => {
            WebhookEffect::Disable(format!(
                "failing without a single success since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
        }
        // The streak's start is already on record.
        Some(_) => WebhookEffect::Unchanged,
        None => WebhookEffect::Failed,
    };
    let Some(scheduled) = schedule.delay_after(attempts_in_schedule as usize) else {
        return Decision {
            next: NextStep::Dead,
            webhook,
        };
    };
    let asked = match result.status {
        Some(429 | 503) => result
            .retry_after
            .map(|wait| wait.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX)),
        _ => None,
    };
    let delay = asked.unwrap_or(scheduled);
    Decision {
        next: NextStep::RetryAt(now + delay),
        webhook,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Option<u16>) -> AttemptResult {
        AttemptResult {
            status,
            ..AttemptResult::default()
        }
    }

    fn healthy() -> WebhookHealth {
        WebhookHealth {
            failing_since: None,
            last_success_at: None,
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }

    fn schedule() -> RetrySchedule {
        "0s,10s,20s".parse().expect("schedule")
    }

    #[test]
    fn success_is_final() {
        let decision = decide(&result(Some(204)), 1, &schedule(), healthy(), Utc::now());
        assert_eq!(
            decision,
            Decision {
                next: NextStep::Succeeded,
                webhook: WebhookEffect::Succeeded
            }
        );
    }

    #[test]
    fn failures_follow_the_schedule_then_die() {
        let now = Utc::now();
        for failure in [result(Some(500)), result(Some(404)), result(None)] {
            match decide(&failure, 1, &schedule(), healthy(), now).next {
                NextStep::RetryAt(at) => {
                    let delay = (at - now).num_milliseconds();
                    assert!((8_000..=12_000).contains(&delay), "{delay}");
                }
                other => panic!("expected a retry, got {other:?}"),
            }
            assert_eq!(
                decide(&failure, 3, &schedule(), healthy(), now).next,
                NextStep::Dead
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_within_bounds_on_429_and_503() {
        let now = Utc::now();
        let mut busy = result(Some(429));
        busy.retry_after = Some(Duration::from_secs(2));
        assert_eq!(
            decide(&busy, 1, &schedule(), healthy(), now).next,
            NextStep::RetryAt(now + Duration::from_secs(2))
        );
        busy.retry_after = Some(Duration::from_secs(86_400));
        assert_eq!(
            decide(&busy, 1, &schedule(), healthy(), now).next,
            NextStep::RetryAt(now + RETRY_AFTER_MAX)
        );
        let mut error = result(Some(500));
        error.retry_after = Some(Duration::from_secs(2));
        assert_ne!(
            decide(&error, 1, &schedule(), healthy(), now).next,
            NextStep::RetryAt(now + Duration::from_secs(2))
        );
    }

    #[test]
    fn gone_disables_the_webhook() {
        let decision = decide(&result(Some(410)), 1, &schedule(), healthy(), Utc::now());
        assert_eq!(decision.next, NextStep::Dead);
        assert!(
            matches!(decision.webhook, WebhookEffect::Disable(reason) if reason.contains("410"))
        );
    }

    #[test]
    fn a_long_failure_streak_disables_the_webhook() {
        let now = Utc::now();
        let health = WebhookHealth {
            failing_since: Some(now - chrono::Duration::days(6)),
            ..healthy()
        };
        assert!(matches!(
            decide(&result(Some(500)), 1, &schedule(), health, now).webhook,
            WebhookEffect::Disable(_)
        ));
        let recent = WebhookHealth {
            failing_since: Some(now - chrono::Duration::days(1)),
            ..health
        };
        assert_eq!(
            decide(&result(Some(500)), 1, &schedule(), recent, now).webhook,
            WebhookEffect::Unchanged,
            "the streak is on record already"
        );
        assert_eq!(
            decide(&result(Some(500)), 1, &schedule(), healthy(), now).webhook,
            WebhookEffect::Failed,
            "a streak begins"
        );
    }

    #[test]
    fn a_webhook_row_is_written_only_when_its_health_changes() {
        let now = Utc::now();
        let busy = WebhookHealth {
            last_success_at: Some(now - chrono::Duration::seconds(5)),
            ..healthy()
        };
        let success = |health| decide(&result(Some(200)), 1, &schedule(), health, now).webhook;
        assert_eq!(success(busy), WebhookEffect::Unchanged);
        let quiet = WebhookHealth {
            last_success_at: Some(now - chrono::Duration::minutes(5)),
            ..healthy()
        };
        assert_eq!(success(quiet), WebhookEffect::Succeeded);
        let recovering = WebhookHealth {
            failing_since: Some(now),
            ..busy
        };
        assert_eq!(success(recovering), WebhookEffect::Succeeded);
        assert_eq!(success(healthy()), WebhookEffect::Succeeded);
    }
}
