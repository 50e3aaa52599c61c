//! The routes, one module per resource.

pub mod api_keys;
mod common;
pub mod deliveries;
pub mod health;
pub mod push_settings;
pub mod rejected;
pub mod reports;
pub mod templates;
pub mod tenants;
pub mod webhooks;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::push;

/// Registers every documented route; the OpenAPI spec is collected from exactly these.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(push::receive_push)
        .service(push::oauth2::token)
        .service(
            scope::scope("/api/v1")
                .service(tenants::sign_up)
                .service(tenants::get_tenant)
                .service(tenants::update_tenant)
                .service(tenants::delete_tenant)
                .service(api_keys::list_keys)
                .service(api_keys::create_key)
                .service(api_keys::delete_key)
                .service(push_settings::get_push)
                .service(push_settings::change_method)
                .service(push_settings::add_credential)
                .service(push_settings::delete_credential)
                .service(reports::list_reports)
                .service(reports::get_report)
                .service(reports::get_report_raw)
                .service(rejected::list_rejected)
                .service(rejected::get_rejected_raw)
                // `preview` before `{id}`, which would take the word for an id.
                .service(templates::preview)
                .service(templates::create_template)
                .service(templates::list_templates)
                .service(templates::get_template)
                .service(templates::update_template)
                .service(templates::delete_template)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::update_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_secret)
                .service(webhooks::test_webhook)
                .service(webhooks::redrive)
                .service(deliveries::list_deliveries)
                .service(deliveries::get_delivery)
                .service(deliveries::retry_delivery)
                .service(deliveries::report_deliveries)
                .service(deliveries::redeliver),
        );
}
