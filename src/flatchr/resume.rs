//! The push body as a stream: the JSON before the resume, the resume in base64 as it downloads
//! (3-byte groups carried across chunks), then the JSON after it. A push in flight holds one
//! piece of the resume, raw and encoded, never the whole file.

use actix_web::web::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::job::Failure;

/// Raw bytes encoded at a time (a multiple of 3: no padding inside the resume's base64).
const PIECE: usize = 48 * 1024;

/// What the streamed body saw: whether all of it was handed over, or why the download failed.
#[derive(Default)]
pub(super) struct Streamed {
    /// Every byte of the body was handed over.
    pub complete: bool,
    /// Why the download ended the body early.
    pub failure: Option<Failure>,
}

/// Shared between the stream and the push that reads its outcome once sent.
type Outcome = std::sync::Arc<std::sync::Mutex<Streamed>>;

pub(super) fn download_failure(e: reqwest::Error) -> Failure {
    Failure::from_reqwest("file host", &e).not_applied()
}

pub(super) fn too_large(cap: u64) -> Failure {
    Failure::permanent(format!("the resume is larger than {} MB", cap / 1_000_000))
}

/// `prefix`, the download in base64, then `suffix`. A download that fails, or that delivers
/// other than `announced` bytes, ends the stream with an error and records why in `state`.
pub(super) fn resume_stream(
    prefix: Bytes,
    download: reqwest::Response,
    suffix: Bytes,
    announced: u64,
    state: Outcome,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let start = Body {
        part: Part::Prefix,
        prefix,
        suffix,
        chunks: download.bytes_stream().boxed(),
        carry: Vec::new(),
        pending: Bytes::new(),
        seen: 0,
        announced,
        state,
    };
    futures_util::stream::unfold(start, Body::next)
}

/// Which part of the body comes next.
enum Part {
    Prefix,
    Data,
    Suffix,
    Done,
}

/// The stream's state between two pieces.
struct Body {
    /// What comes next.
    part: Part,
    /// The JSON before the resume.
    prefix: Bytes,
    /// The JSON after the resume.
    suffix: Bytes,
    /// The download, as the file host sends it.
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    /// Raw bytes short of a 3-byte group, carried to the next piece.
    carry: Vec<u8>,
    /// What is left of the chunk being encoded.
    pending: Bytes,
    /// Bytes downloaded so far.
    seen: u64,
    /// The download's `Content-Length`: what must arrive, no more, no less.
    announced: u64,
    /// Told how the body ended.
    state: Outcome,
}

/// One piece of the body (or an error ending it), and the state for the next.
type Next = Option<(Result<Bytes, std::io::Error>, Body)>;

impl Body {
    async fn next(mut self) -> Next {
        loop {
            let piece = match self.part {
                Part::Prefix => {
                    self.part = Part::Data;
                    Some(Ok(std::mem::take(&mut self.prefix)))
                }
                // The download arrives in chunks of up to a few hundred kB; each is encoded a
                // piece at a time.
                Part::Data if !self.pending.is_empty() => self.encode().map(Ok),
                Part::Data => self.read().await,
                Part::Suffix => {
                    self.part = Part::Done;
                    self.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .complete = true;
                    Some(Ok(std::mem::take(&mut self.suffix)))
                }
                Part::Done => return None,
            };
            if let Some(piece) = piece {
                return Some((piece, self));
            }
        }
    }

    /// The next piece of the pending chunk in base64; `None` when it only filled the carry.
    fn encode(&mut self) -> Option<Bytes> {
        let take = self.pending.len().min(PIECE);
        let mut raw = std::mem::take(&mut self.carry);
        raw.extend_from_slice(&self.pending.split_to(take));
        let whole = raw.len() - raw.len() % 3;
        self.carry = raw.split_off(whole);
        (!raw.is_empty()).then(|| STANDARD.encode(&raw).into())
    }

    /// The next chunk of the download (to encode: `None`), the carried tail once it ended, or
    /// the error that ends the body.
    async fn read(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        match self.chunks.next().await {
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.announced {
                    return Some(self.fail(too_large(self.announced)));
                }
                self.pending = chunk;
                None
            }
            Some(Err(e)) => Some(self.fail(download_failure(e))),
            None if self.seen != self.announced => {
                let f = Failure::transient(format!(
                    "the resume download ended after {} of {} bytes",
                    self.seen, self.announced
                ));
                Some(self.fail(f))
            }
            None => {
                self.part = Part::Suffix;
                let tail = std::mem::take(&mut self.carry);
                (!tail.is_empty()).then(|| Ok(STANDARD.encode(&tail).into()))
            }
        }
    }

    /// Records why the body ends, for the push to report, and ends it.
    fn fail(&mut self, failure: Failure) -> Result<Bytes, std::io::Error> {
        let message = failure.message().to_string();
        self.state.lock().unwrap_or_else(|e| e.into_inner()).failure = Some(failure);
        self.part = Part::Done;
        Err(std::io::Error::other(message))
    }
}
