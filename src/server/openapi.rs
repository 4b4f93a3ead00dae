//! The OpenAPI document of `/api/v1`, generated from the handlers and types.

use super::{api, error, events};
use crate::model;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
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
                    .description(Some(
                        "A Tencent TLSSigAPIv2 UserSig (`groupdeck usersig --user ID`)",
                    ))
                    .build(),
            ),
        );
        // Every operation can fail in these ways; document them once, here.
        let common: [(&str, &str); 8] = [
            ("403", "not allowed by the group's rules (10007, 10009)"),
            (
                "409",
                "conflict: already a member, group full, request already handled, ID taken (10013, 10014, 10024, 10021, 10037)",
            ),
            ("400", "bad input (Tencent code 10004, 10011, 10015, ...)"),
            (
                "401",
                "missing, malformed, expired or foreign UserSig (70001, 70002, 70003, 70009, 70013, 70014)",
            ),
            ("404", "no such group, request or route (10010, 60009)"),
            ("413", "request body too large"),
            ("415", "body not sent as application/json"),
            ("429", "rate limited (10006); see Retry-After"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, text) in common {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(text)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}
