//! What the outbox and its background task (`delivery`) share, so neither
//! imports the other's internals: the [`Deliver`] seam, retry pacing, the
//! limits and the status the task reports.

use std::future::Future;
use std::time::Duration;

use super::render::{LOGGED_ONLY_DOMAIN, Mail};
use super::smtp::{Client, SendError};
use super::types::MailSettings;

/// Sends one mail somewhere. The SMTP [`Client`] in the daemon, [`LogOnly`]
/// without `[mail]`, fakes in tests.
pub trait Deliver: Send + Sync + 'static {
    /// `Ok` is the server's answer.
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send;

    /// The domain of Message-IDs: the From address's where there is one;
    /// by default the reserved [`LOGGED_ONLY_DOMAIN`].
    fn message_domain(&self) -> String {
        LOGGED_ONLY_DOMAIN.to_owned()
    }
}

impl Deliver for Client {
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send {
        self.send(mail)
    }

    fn message_domain(&self) -> String {
        Client::message_domain(self)
    }
}

/// Without `[mail]`: every mail that would be sent is logged in full.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOnly;

impl Deliver for LogOnly {
    fn deliver(&self, mail: &Mail) -> impl Future<Output = Result<String, SendError>> + Send {
        log_mail(mail, "mail not sent: no [mail] section; logged instead");
        std::future::ready(Ok("logged".to_owned()))
    }
}

/// Logs a whole mail at info level.
pub fn log_mail(mail: &Mail, why: &str) {
    tracing::info!(
        message_id = %mail.message_id,
        subject = %mail.subject,
        body = %mail.body,
        "{why}"
    );
}

/// Retry pacing after a failed attempt: `first` doubling up to `max`, each
/// delay spread by ±`jitter` (a fraction) so that several hosts do not
/// retry in step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    pub first: Duration,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for Retry {
    /// 10 s doubling to 10 min, ±20 %.
    fn default() -> Self {
        Retry {
            first: Duration::from_secs(10),
            max: Duration::from_secs(600),
            jitter: 0.2,
        }
    }
}

impl Retry {
    /// The wait after the `failures`-th failure in a row; `unit` is a
    /// random number in [0, 1].
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let base = self.first.saturating_mul(1u32 << doublings).min(self.max);
        let factor = 1.0 - self.jitter + 2.0 * self.jitter * unit.clamp(0.0, 1.0);
        base.mul_f64(factor.max(0.0)).min(self.max)
    }
}

/// Pacing and spool limits; from `[mail]`, or the defaults without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub coalesce: Duration,
    pub max_per_hour: u32,
    pub spool_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            coalesce: Duration::from_secs(10),
            max_per_hour: 6,
            spool_max: 1000,
        }
    }
}

impl From<&MailSettings> for Limits {
    fn from(s: &MailSettings) -> Self {
        Limits {
            coalesce: s.coalesce,
            max_per_hour: s.max_per_hour,
            spool_max: s.spool_max,
        }
    }
}

/// What the outbox is up to, for `status` and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Mails rendered and waiting (spooled) to be accepted.
    pub queued: usize,
    /// The last attempt's failure, until an attempt succeeds.
    pub failing: Option<String>,
    /// The last spool write failure, until a write succeeds.
    pub spool_error: Option<String>,
    /// Mails rendered (and spooled) so far.
    pub rendered: u64,
    pub accepted: u64,
    /// Group mails folded into spool digests so far.
    pub folded: u64,
    /// Timed writes of the spool's pending events (`pending.jsonl`) so
    /// far; those that go with a spooled mail are not counted.
    pub pending_writes: u64,
}
