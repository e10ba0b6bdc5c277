//! The UI's static files, embedded in the binary (`include_bytes!`) and served under
//! `/assets/`: vendored htmx 2.0.4 (0BSD) and uPlot 1.6.31 (MIT) from `assets/vendor/` (their
//! LICENSE and VERSION files sit beside them), and our own stylesheet and script.
//!
//! Each file's ETag is a hash of its bytes; `If-None-Match` answers 304. `Cache-Control`
//! lets browsers keep a file a day and revalidate after.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One embedded file.
pub struct Asset {
    /// Its name under `/assets/`.
    pub name: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: &'static [u8],
}

/// Every file served under `/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx/htmx.min.js"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/uplot/uPlot.min.css"),
    },
    Asset {
        name: "watchfire.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/watchfire.css"),
    },
    Asset {
        name: "watchfire.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/watchfire.js"),
    },
];

/// The ETag of each asset, in [`ASSETS`] order.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.bytes);
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let asset = &ASSETS[i];
    let etag = ETAGS[i].as_str();
    let cache = (
        header::CACHE_CONTROL,
        "public, max-age=86400, must-revalidate",
    );
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [cache, (header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            cache,
            (header::ETAG, etag),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_with_etag_and_revalidates() {
        let r = serve(Path("htmx.min.js".into()), HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag.parse().unwrap());
        let r = serve(Path("htmx.min.js".into()), h).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = serve(Path("../Cargo.toml".into()), HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn vendored_files_are_the_expected_versions() {
        let htmx = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        assert!(htmx.contains("2.0.4"), "htmx version");
        let uplot = std::str::from_utf8(ASSETS[1].bytes).unwrap();
        assert!(uplot.contains("uPlot"), "uPlot bundle");
    }
}
