//! faxrelay's HTTP API: the push endpoint Retarus calls, the OAuth2 token endpoint, and
//! the management API tenants use, documented as OpenAPI.
//!
//! [`app`] builds the whole actix application from an [`AppState`]; the binary binds it to
//! a socket, tests bind it to port 0, and [`openapi`] derives the spec from the very same
//! route registration, so the served spec cannot drift from the routes.

mod body;
pub mod caller;
pub mod json;
pub mod problem;
pub mod push;
pub mod routes;
pub mod settings;
pub mod state;
mod throttle;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpResponse, web};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use settings::{ApiSettings, SignupPolicy};
pub use state::{AppState, Services};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "faxrelay",
        description = "A relay for Retarus fax status pushes. A tenant signs up, configures the push URL and \
credentials it gets at Retarus, and from then on every fax status report is stored and browsable here.\n\n\
Management calls authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json` \
with a stable `type`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    security(("api_key" = [])),
    tags(
        (name = "account", description = "Sign-up and the caller's account"),
        (name = "api keys", description = "Keys for the management API"),
        (name = "push settings", description = "The push URL, authentication method and credentials to configure at Retarus"),
        (name = "push", description = "What Retarus calls"),
        (name = "reports", description = "Received fax status reports"),
        (name = "webhooks", description = "Where reports are delivered, signed (Standard Webhooks), with retries"),
        (name = "templates", description = "Handlebars templates that shape webhook bodies"),
        (name = "deliveries", description = "What was delivered, every attempt, and sending again"),
        (name = "operations", description = "Health and metrics"),
    ),
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description =
            Some("An API key (`frk_...`) from sign-up or `POST /api/v1/api-keys`".to_owned());
        components.add_security_scheme("api_key", SecurityScheme::Http(bearer));
    }
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    spec
}

/// The actix application.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    app.app_data(web::Data::new(state))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(problem::unknown_route))
        .wrap(from_fn(log_request))
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
}

/// One log line per request, naming the route pattern rather than the path: a push URL's
/// path carries a secret for tenants without push authentication.
async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".to_owned());
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    if status >= 500 {
        tracing::warn!(http.method = %method, http.route = %route, http.status = status, latency_ms, "request");
    } else if status >= 400 {
        tracing::info!(http.method = %method, http.route = %route, http.status = status, latency_ms, "request");
    } else {
        tracing::debug!(http.method = %method, http.route = %route, http.status = status, latency_ms, "request");
    }
    Ok(response)
}
