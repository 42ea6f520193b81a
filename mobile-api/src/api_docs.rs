//! `/api/docs`: the OpenAPI document as a browsable page (Swagger UI, vendored and compiled into the
//! binary like the softphone's JsSIP), where an admin can also try requests with a token.

use axum::http::header;
use axum::response::IntoResponse;

const BUNDLE: &str = include_str!("../assets/vendor/swagger-ui-bundle-5.36.0.js");
const STYLE: &str = include_str!("../assets/vendor/swagger-ui-5.36.0.css");

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"#;

/// Kept out of the page so the page needs no inline script.
const INIT: &str = r#"window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  displayOperationId: true,
});
"#;

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// The API documentation, browsable.
#[utoipa::path(get, operation_id = "api_docs_page", path = "/api/docs", tag = "node", security(()),
    responses((status = 200, description = "Swagger UI over /api/v1/openapi.json", content_type = "text/html")))]
pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
        ],
        PAGE,
    )
}

/// Swagger UI's script.
#[utoipa::path(get, operation_id = "api_docs_script", path = "/api/docs/swagger-ui-bundle.js", tag = "node", security(()),
    responses((status = 200, description = "Swagger UI 5.36.0", content_type = "text/javascript")))]
pub(crate) async fn bundle() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", BUNDLE)
}

/// Swagger UI's style.
#[utoipa::path(get, operation_id = "api_docs_style", path = "/api/docs/swagger-ui.css", tag = "node", security(()),
    responses((status = 200, description = "Swagger UI 5.36.0", content_type = "text/css")))]
pub(crate) async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// The page's start-up script.
#[utoipa::path(get, operation_id = "api_docs_init", path = "/api/docs/init.js", tag = "node", security(()),
    responses((status = 200, description = "Starts Swagger UI on the API document", content_type = "text/javascript")))]
pub(crate) async fn init() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", INIT)
}
