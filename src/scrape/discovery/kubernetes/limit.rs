//! A bound on what the API server may send: a response body (a list page) or one watch event
//! line longer than [`MAX_LINE_BYTES`] without a newline fails that request instead of growing
//! without limit (kube-rs reads lines without a bound). The failure is retried like any other.

use http_body::{Body, Frame, SizeHint};
use hyper::body::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Longest list page or watch event accepted: a page holds at most 500 objects (kube-rs' page
/// size), far below this even for large pods.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A response body failing once `limit` bytes arrive without a newline.
pub struct LimitedBody<B> {
    inner: B,
    since_newline: usize,
    limit: usize,
}

impl<B> LimitedBody<B> {
    /// Wraps `inner` with the bound `limit`.
    pub fn new(inner: B, limit: usize) -> Self {
        LimitedBody {
            inner,
            since_newline: 0,
            limit,
        }
    }
}

/// The error of a body over its bound.
#[derive(Debug, thiserror::Error)]
#[error("an object or list page from the API server exceeds {0} bytes")]
pub struct TooLarge(usize);

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.since_newline = match memchr::memrchr(b'\n', data) {
                        Some(i) => data.len() - i - 1,
                        None => this.since_newline + data.len(),
                    };
                    if this.since_newline > this.limit {
                        return Poll::Ready(Some(Err(Box::new(TooLarge(this.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Chunks(VecDeque<&'static str>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(Bytes::from(c)))))
        }
    }

    async fn collect(mut b: LimitedBody<Chunks>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while let Some(f) = std::future::poll_fn(|cx| Pin::new(&mut b).poll_frame(cx)).await {
            if let Ok(d) = f.map_err(|e| e.to_string())?.into_data() {
                out.extend_from_slice(&d);
            }
        }
        Ok(out)
    }

    #[tokio::test]
    async fn long_lines_fail_and_newlines_reset_the_count() {
        let body = |parts: Vec<&'static str>| LimitedBody::new(Chunks(parts.into()), 5);
        let all = collect(body(vec!["abcd\nef", "gh\n", "ijkl"]))
            .await
            .unwrap();
        assert_eq!(&all[..], b"abcd\nefgh\nijkl");
        assert_eq!(
            collect(body(vec!["abc", "def", "\n"])).await.unwrap_err(),
            "an object or list page from the API server exceeds 5 bytes"
        );
    }
}
