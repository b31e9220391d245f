//! The outbox's background task: one loop that takes events, paces them,
//! renders and spools the mails, and sends the oldest spooled mail, one at a
//! time, retrying with backoff until a server accepts it. Sending runs in
//! its own task, so events are taken while a server is slow; spool writes
//! run on the blocking pool, so no fsync stalls the daemon's runtime.
//!
//! Durable from the moment it is logged: events the pacer holds are
//! written to the spool's `pending.jsonl` within [`JOURNAL_EVERY`] of being
//! taken (at once when none was written in the last second, so one write
//! and fsync a second at most in a storm), and again with every mail
//! spooled. A start takes back what a crash left there.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::{Instant, sleep_until};

use super::deliver::{Deliver, Limits, Retry, Status, log_mail};
use super::digest;
use super::event::Event;
use super::pace::{Outgoing, Pacer, UNSENT_MAX};
use super::render::{self, Context, Mail, Stamp};
use super::smtp::SendError;
use super::spool::Spool;

type Answer = Result<String, SendError>;

/// How long a send in flight may still take at shutdown.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest an event waits to be written to `pending.jsonl`, and the
/// least time between two such writes.
pub const JOURNAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A send in progress: which spooled mail, and the task sending it.
struct Flight {
    seq: u64,
    handle: JoinHandle<Answer>,
}

/// What woke the loop.
enum Wake {
    Stop,
    Event(Option<Box<(Event, Instant)>>),
    Done(u64, Result<Answer, JoinError>),
    Journal,
    Pace,
    Try,
}

pub(super) struct Task<D> {
    deliver: Arc<D>,
    /// `None` only while a blocking spool operation has it.
    spool: Option<Spool>,
    pacer: Pacer,
    limits: Limits,
    retry: Retry,
    ctx: Context,
    /// The Message-ID domain: the From address's (see `Deliver`).
    domain: String,
    failures: u32,
    next_try: Option<Instant>,
    flight: Option<Flight>,
    /// When the pacer's unsent events are to be written next (`None`:
    /// the file is up to date), and when they last were.
    journal_due: Option<Instant>,
    journal_last: Option<Instant>,
    status: watch::Sender<Status>,
}

impl<D: Deliver> Task<D> {
    pub(super) fn new(
        deliver: Arc<D>,
        spool: Spool,
        limits: Limits,
        retry: Retry,
        ctx: Context,
        status: watch::Sender<Status>,
    ) -> Self {
        let mut spool = spool;
        let mut pacer = Pacer::new(limits.coalesce, limits.max_per_hour);
        let unsent = spool.take_unsent();
        if !unsent.is_empty() {
            tracing::warn!(
                events = unsent.len(),
                "mail events logged before a crash and not yet mailed: mailing them now"
            );
            pacer.restore(unsent, Instant::now().into_std());
        }
        Task {
            domain: deliver.message_domain(),
            deliver,
            spool: Some(spool),
            pacer,
            limits,
            retry,
            ctx,
            failures: 0,
            next_try: None,
            flight: None,
            journal_due: None,
            journal_last: None,
            status,
        }
    }

    pub(super) async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<(Event, Instant)>,
        mut stop: oneshot::Receiver<()>,
    ) {
        loop {
            match self.wait(&mut rx, &mut stop).await {
                Wake::Stop | Wake::Event(None) => break,
                Wake::Event(Some(b)) => self.accept(b.0, b.1).await,
                Wake::Done(seq, answer) => self.finished(seq, answer).await,
                Wake::Journal => self.journal().await,
                Wake::Pace => self.pace().await,
                Wake::Try => self.attempt(),
            }
        }
        self.stop(rx).await;
    }

    async fn wait(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<(Event, Instant)>,
        stop: &mut oneshot::Receiver<()>,
    ) -> Wake {
        let pace_due = self.pacer.next_due().map(Instant::from_std);
        let try_due = self.try_due();
        let journal_due = self.journal_due;
        tokio::select! {
            biased;
            _ = stop => Wake::Stop,
            // Before events: a steady stream of them must not starve it.
            _ = sleep_opt(journal_due) => Wake::Journal,
            e = rx.recv() => Wake::Event(e.map(Box::new)),
            (seq, answer) = join(&mut self.flight) => Wake::Done(seq, answer),
            _ = sleep_opt(pace_due) => Wake::Pace,
            _ = sleep_opt(try_due) => Wake::Try,
        }
    }

    /// Takes an event into pacing and schedules its write to the spool;
    /// beyond [`UNSENT_MAX`] waiting events, spools them all as mails.
    async fn accept(&mut self, e: Event, at: Instant) {
        let (kind, group) = (e.kind, e.group.clone());
        if !self.pacer.push(e, at.into_std()) {
            tracing::debug!(event = ?kind, group = ?group, "not mailed: repeat within a failure streak");
            return;
        }
        if self.pacer.unsent_len() > UNSENT_MAX {
            tracing::warn!(
                waiting = self.pacer.unsent_len(),
                "more than {UNSENT_MAX} mail events wait for pacing: all spooled as mails now"
            );
            let mails: Vec<Mail> = self.pacer.flush().into_iter().map(|o| self.render(o)).collect();
            return self.enqueue(mails).await;
        }
        self.schedule_journal();
    }

    /// Asks for a write of the unsent events: at once if none was written
    /// within [`JOURNAL_EVERY`], else that long after the last one.
    fn schedule_journal(&mut self) {
        if self.journal_due.is_none() && self.spool.as_ref().is_some_and(Spool::is_persistent) {
            let now = Instant::now();
            let next = self.journal_last.map_or(now, |t| t + JOURNAL_EVERY);
            self.journal_due = Some(next.max(now));
        }
    }

    /// Writes the events pacing holds to the spool (`pending.jsonl`).
    async fn journal(&mut self) {
        self.journal_due = None;
        self.journal_last = Some(Instant::now());
        let unsent = self.pacer.unsent();
        let written = self.with_spool(move |s| s.save_unsent(&unsent)).await;
        let spool_error = written
            .err()
            .map(|e| format!("cannot write the mail spool's pending events: {e}; they are kept in memory"));
        if let Some(e) = &spool_error {
            tracing::warn!("{e}");
        }
        self.update(|s| {
            s.spool_error = spool_error;
            s.pending_writes += 1;
        });
    }

    /// Renders whatever pacing releases now and spools it.
    async fn pace(&mut self) {
        let outs = self.pacer.poll(Instant::now().into_std());
        if outs.is_empty() {
            // Events may have moved from the batch to a digest's hold.
            if self.pacer.unsent_len() > 0 {
                self.schedule_journal();
            }
            return;
        }
        let mails: Vec<Mail> = outs.into_iter().map(|o| self.render(o)).collect();
        self.enqueue(mails).await;
    }

    fn render(&self, out: Outgoing) -> Mail {
        let stamp = Stamp::new(&self.domain, SystemTime::now());
        match out {
            Outgoing::Batch(events) => render::batch(&events, &self.ctx, stamp),
            Outgoing::Digest { key, events } => {
                digest::hourly(&key.label(), &events, self.limits.max_per_hour, &self.ctx, stamp)
            }
        }
    }

    /// Spools mails (before any attempt), folds old group mails if the
    /// spool is over its limit, and records the events still unsent (those
    /// in the mails are no longer pending), in one trip to the blocking pool.
    async fn enqueue(&mut self, mails: Vec<Mail>) {
        let (ctx, max, domain) = (self.ctx.clone(), self.limits.spool_max, self.domain.clone());
        let busy = self.flight.as_ref().map(|f| f.seq);
        let (count, unsent) = (mails.len() as u64, self.pacer.unsent());
        self.journal_due = None;
        self.journal_last = Some(Instant::now());
        let (written, folded) = self
            .with_spool(move |spool| {
                // Every mail is pushed (kept in memory) even when a write
                // fails; the first failure is reported.
                let mut written: io::Result<()> = Ok(());
                for m in mails {
                    let r = spool.push(m).1;
                    written = written.and(r);
                }
                let fold = |ms: &[Mail]| digest::spool(ms, max, &ctx, Stamp::new(&domain, SystemTime::now()));
                let folded = spool.fold_over(max as usize, busy, fold);
                // A mail not written keeps its events in `pending.jsonl`.
                (written.and_then(|()| spool.save_unsent(&unsent)), folded)
            })
            .await;
        let spool_error = written
            .err()
            .map(|e| format!("cannot write the mail spool: {e}; mail kept in memory"));
        if let Some(e) = &spool_error {
            tracing::warn!("{e}");
        }
        let folded = report_folded(folded, max);
        self.update(|s| {
            s.spool_error = spool_error;
            s.rendered += count;
            s.folded += folded;
        });
    }

    /// When the oldest mail is to be tried: at once, or after the backoff.
    fn try_due(&self) -> Option<Instant> {
        let idle = self.flight.is_none() && self.spool.as_ref().is_some_and(|s| !s.is_empty());
        idle.then(|| self.next_try.unwrap_or_else(Instant::now))
    }

    fn attempt(&mut self) {
        let Some(entry) = self.spool.as_ref().and_then(|s| s.front()) else {
            return;
        };
        let (seq, mail) = (entry.seq, entry.mail.clone());
        let deliver = Arc::clone(&self.deliver);
        let handle = tokio::spawn(async move { deliver.deliver(&mail).await });
        self.flight = Some(Flight { seq, handle });
    }

    async fn finished(&mut self, seq: u64, answer: Result<Answer, JoinError>) {
        self.flight = None;
        let answer = answer.unwrap_or_else(|e| {
            Err(SendError::new(
                super::smtp::Reason::Other,
                format!("send task failed: {e}"),
            ))
        });
        match answer {
            Ok(text) => self.accepted(seq, text).await,
            Err(e) => self.failed(seq, e),
        }
    }

    async fn accepted(&mut self, seq: u64, answer: String) {
        if let Some(e) = self.spool.as_ref().and_then(|s| s.get(seq)) {
            tracing::info!(message_id = %e.mail.message_id, subject = %e.mail.subject, %answer, "mail accepted");
        }
        if let Err(e) = self.with_spool(move |s| s.remove(seq)).await {
            tracing::warn!("mail accepted but its spool file stays (sent again after a restart): {e}");
        }
        self.failures = 0;
        self.next_try = None;
        self.update(|s| {
            s.failing = None;
            s.accepted += 1;
        });
    }

    fn failed(&mut self, seq: u64, e: SendError) {
        self.failures += 1;
        let delay = self.retry.delay(self.failures, fastrand::f64());
        self.next_try = Some(Instant::now() + delay);
        let (subject, message_id) = self
            .spool
            .as_ref()
            .and_then(|s| s.get(seq))
            .map(|e| (e.mail.subject.clone(), e.mail.message_id.clone()))
            .unzip();
        // The Message-ID too: a connection lost after the server took the
        // mail sends it again, and the two copies share it.
        tracing::warn!(reason = %e, subject = ?subject, message_id = ?message_id, failures = self.failures, retry_in = ?delay, "mail not sent");
        self.update(|s| s.failing = Some(e.to_string()));
    }

    /// At shutdown: give the send in flight `STOP_GRACE` to finish (a mail
    /// the server accepts as we stop is then not sent again at the next
    /// start), else abandon it (its mail stays spooled); take the events
    /// still queued, and spool everything pacing holds.
    async fn stop(mut self, mut rx: mpsc::UnboundedReceiver<(Event, Instant)>) {
        if let Some(mut f) = self.flight.take() {
            match tokio::time::timeout(STOP_GRACE, &mut f.handle).await {
                Ok(answer) => self.finished(f.seq, answer).await,
                Err(_) => f.handle.abort(),
            }
        }
        while let Ok((e, at)) = rx.try_recv() {
            self.accept(e, at).await;
        }
        let mails: Vec<Mail> = self.pacer.flush().into_iter().map(|o| self.render(o)).collect();
        if !mails.is_empty() || self.journal_due.is_some() {
            // Also removes `pending.jsonl`: every event is in a mail now.
            self.enqueue(mails).await;
        }
        if let Some(spool) = self.spool.as_ref().filter(|s| !s.is_persistent()) {
            for e in spool.entries() {
                log_mail(&e.mail, "mail not sent before shutdown; logged instead");
            }
        }
    }

    /// Runs `f` on the spool on the blocking pool (file writes and fsyncs).
    async fn with_spool<T: Send + 'static>(&mut self, f: impl FnOnce(&mut Spool) -> T + Send + 'static) -> T {
        let mut spool = self.spool.take().expect("spool is home between operations");
        let (spool, out) = tokio::task::spawn_blocking(move || {
            let out = f(&mut spool);
            (spool, out)
        })
        .await
        .expect("spool operations do not panic");
        self.spool = Some(spool);
        out
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        let queued = self.spool.as_ref().map_or(0, Spool::len);
        self.status.send_modify(|s| {
            f(s);
            s.queued = queued;
        });
    }
}

/// Logs what folding the spool did; returns how many mails it folded.
fn report_folded(folded: io::Result<usize>, spool_max: u32) -> u64 {
    let folded = match folded {
        Ok(n) => n as u64,
        Err(e) => {
            tracing::warn!("cannot fold the mail spool: {e}");
            0
        }
    };
    if folded > 0 {
        tracing::warn!(
            folded,
            spool_max,
            "mail spool over its limit: oldest group mails folded into a digest"
        );
    }
    folded
}

async fn join(flight: &mut Option<Flight>) -> (u64, Result<Answer, JoinError>) {
    match flight {
        Some(f) => (f.seq, (&mut f.handle).await),
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}
