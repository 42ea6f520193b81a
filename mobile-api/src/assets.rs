//! Static assets of the web pages, compiled into the binary so a page never fetches anything from
//! elsewhere (see `assets/vendor/README.md` for what is vendored and how it was built).

use axum::http::header;
use axum::response::IntoResponse;

const JSSIP: &str = include_str!("../assets/vendor/jssip-3.13.8.min.js");
const LICENSES: &str = include_str!("../assets/vendor/LICENSES.md");

/// JsSIP 3.13.8 for the browser (defines the global `JsSIP`).
#[utoipa::path(get, path = "/assets/jssip.js", tag = "node", security(()),
    responses((status = 200, description = "JsSIP, bundled for the browser", content_type = "text/javascript")))]
pub(crate) async fn jssip() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        JSSIP,
    )
}

/// The licences of the vendored libraries.
#[utoipa::path(get, path = "/assets/LICENSES.md", tag = "node", security(()),
    responses((status = 200, description = "Licence texts", content_type = "text/markdown")))]
pub(crate) async fn licenses() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        LICENSES,
    )
}
