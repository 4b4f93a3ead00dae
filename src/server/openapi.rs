//! The OpenAPI document of `/api/v1`, generated from the handlers and types.

use super::{api, error, events};
use crate::model;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "groupdeck",
        description = "Chat groups in the model of Tencent Cloud Chat. Authenticate with \
                       `Authorization: Bearer <UserSig>`. Errors carry the Tencent error code.",
    ),
    paths(
        api::me,
        api::create_group,
        api::list_groups,
        api::group_info,
        api::modify_group,
        api::disband,
        api::join,
        api::quit,
        api::invite,
        api::members,
        api::kick,
        api::set_role,
        api::transfer_owner,
        api::list_requests,
        api::decide,
        api::healthz,
        events::events,
    ),
    components(schemas(model::Event, model::EventKind, error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerAuth),
    security(("usersig" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "usersig",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("UserSig")
                    .description(Some("A Tencent TLSSigAPIv2 UserSig (`groupdeck usersig --user ID`)"))
                    .build(),
            ),
        );
    }
}
