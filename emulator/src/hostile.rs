//! Hostile replies: HTTP 200 with a body that a broken or malicious
//! firewall (or something in the path) might send: endless, huge,
//! truncated, not XML, nested too deep. Every byte handed to the
//! connection is counted, so a test can see where the client stopped
//! reading.

use crate::config::Fault;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

const MIB: u64 = 1024 * 1024;
/// The filler of endless and huge bodies, one chunk at a time.
const FILLER: &str = "<Status code=\"200\">Configuration applied successfully.</Status>\n";
const CHUNK: usize = 64 * 1024;
/// Levels of nesting of the deep reply (the body stays under 1 MiB).
pub const DEEP_LEVELS: usize = 100_000;

/// A reply body that may stream without end, stop early or fail midway.
pub struct Stream {
    /// Sent first, whole.
    head: Option<Bytes>,
    /// Filler bytes still to send after the head; `None`: without end.
    remaining: Option<u64>,
    /// After everything, wait a moment (so what was sent reaches the
    /// client) and fail: hyper then closes the connection, short of the
    /// length it announced.
    cut: bool,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The length announced in Content-Length, if any.
    announced: Option<u64>,
    filler: Bytes,
    sent: Arc<AtomicU64>,
}

/// Why a truncated body ends.
#[derive(Debug)]
pub struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body cut short on purpose")
    }
}

impl std::error::Error for Cut {}

impl Stream {
    fn new(head: impl Into<Bytes>, remaining: Option<u64>, cut: bool, sent: Arc<AtomicU64>) -> Stream {
        let head: Bytes = head.into();
        let announced = remaining.map(|r| head.len() as u64 + r);
        Stream {
            head: Some(head),
            remaining,
            cut,
            pause: None,
            announced,
            filler: Bytes::from(FILLER.repeat(CHUNK / FILLER.len())),
            sent,
        }
    }

    /// The body a hostile fault sends in place of `answer`, or `None` for
    /// other faults.
    pub fn for_fault(fault: &Fault, answer: &str, sent: &Arc<AtomicU64>) -> Option<Stream> {
        let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response APIVersion=\"1905.1\">\n";
        let sent = sent.clone();
        let stream = match fault {
            Fault::Endless => Stream::new(head, None, false, sent),
            Fault::Huge(mib) => Stream::new(head, Some(mib * MIB), false, sent),
            Fault::Truncated => {
                let half = Bytes::copy_from_slice(&answer.as_bytes()[..answer.len() / 2]);
                let mut s = Stream::new(half, Some(0), true, sent);
                s.announced = Some(answer.len() as u64);
                s
            }
            Fault::NotXml => Stream::new(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>502 Bad Gateway</title></head>\n\
                 <body><h1>502 Bad Gateway</h1><p>The upstream answered \u{0}\u{1} garbage & <<>>\n",
                Some(0),
                false,
                sent,
            ),
            Fault::Deep => {
                let mut doc = String::from(head);
                doc.push_str(&"<a>".repeat(DEEP_LEVELS));
                doc.push_str(&"</a>".repeat(DEEP_LEVELS));
                doc.push_str("</Response>\n");
                Stream::new(doc, Some(0), false, sent)
            }
            _ => return None,
        };
        Some(stream)
    }
}

impl Body for Stream {
    type Data = Bytes;
    type Error = Cut;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Cut>>> {
        let this = self.get_mut();
        let data = if let Some(head) = this.head.take() {
            head
        } else {
            match this.remaining {
                Some(0) if this.cut => {
                    let pause = this
                        .pause
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(std::time::Duration::from_millis(100))));
                    if pause.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.cut = false;
                    return Poll::Ready(Some(Err(Cut)));
                }
                Some(0) => return Poll::Ready(None),
                Some(ref mut left) => {
                    let n = (*left).min(this.filler.len() as u64);
                    *left -= n;
                    this.filler.slice(..n as usize)
                }
                None => this.filler.clone(),
            }
        };
        this.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.remaining == Some(0) && !self.cut
    }

    fn size_hint(&self) -> SizeHint {
        match self.announced {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
