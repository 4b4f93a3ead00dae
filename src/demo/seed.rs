//! Seeding the demo world into a fresh database, once. Everything goes
//! through the [`Service`], so every change leaves its events in the log as a
//! real user's would. The last write records a marker account; a database
//! that has it is never seeded again. A database without it (a first start,
//! or a seed cut short) first loses any demo group an earlier attempt left,
//! then is seeded from the start.

use super::world::{DemoGroup, Step, World};
use crate::model::limits::MAX_INVITE_BATCH;
use crate::model::{Actor, GroupError};
use crate::service::{Decision, GroupChanges, InviteResult, JoinResult, NewGroup, Service, Tips};
use anyhow::{Context, anyhow};
use std::collections::HashMap;

/// The account whose existence says "the demo world is seeded" (it never signs in).
pub const SEED_MARKER: &str = "groupdeck.demo-world";

/// The app admin identity that clears what an unfinished seed left.
const CLEANER: &str = "administrator";

/// Whether this database already holds the demo world.
pub async fn is_seeded(service: &Service) -> anyhow::Result<bool> {
    Ok(service.user_exists(SEED_MARKER).await?)
}

/// Seeds `world` unless it is already there; whether it seeded now.
pub async fn seed_once(service: &Service, world: &World) -> anyhow::Result<bool> {
    if is_seeded(service).await? {
        tracing::debug!("demo world already seeded");
        return Ok(false);
    }
    let started = std::time::Instant::now();
    clear_leftovers(service, world).await?;
    import_users(service, world).await?;
    let mut pending: HashMap<(String, String), u64> = HashMap::new();
    for group in &world.groups {
        create_group(service, world, group, &mut pending)
            .await
            .with_context(|| format!("creating the demo group {}", group.id))?;
    }
    for (i, step) in world.history.iter().enumerate() {
        apply(service, step, &mut pending)
            .await
            .with_context(|| format!("demo history step {}: {step:?}", i + 1))?;
    }
    service
        .import_users(vec![(
            SEED_MARKER.to_string(),
            format!("demo world v{}", world.version),
            String::new(),
        )])
        .await?;
    tracing::info!(
        "seeded the demo world ({} groups) in {:?}",
        world.groups.len(),
        started.elapsed()
    );
    Ok(true)
}

/// Disbands the demo groups an unfinished seed created, so seeding starts clean.
async fn clear_leftovers(service: &Service, world: &World) -> anyhow::Result<()> {
    let cleaner = Actor::app_admin(CLEANER);
    for g in &world.groups {
        match service.disband(&cleaner, &g.id).await {
            Ok(()) => tracing::info!("removed {} left by an unfinished demo seed", g.id),
            Err(GroupError::GroupNotFound(_)) => {}
            Err(e) => return Err(e).with_context(|| format!("removing the leftover {}", g.id)),
        }
    }
    Ok(())
}

async fn import_users(service: &Service, world: &World) -> anyhow::Result<()> {
    let users: Vec<(String, String, String)> = world
        .users
        .iter()
        .map(|u| (u.id.clone(), u.nick.clone(), u.face_url.clone()))
        .chain(
            world
                .generated_users
                .ids()
                .map(|id| (id, String::new(), String::new())),
        )
        .collect();
    let failed = service.import_users(users).await?;
    if !failed.is_empty() {
        return Err(anyhow!("demo users could not be imported: {failed:?}"));
    }
    Ok(())
}

async fn create_group(
    service: &Service,
    world: &World,
    group: &DemoGroup,
    pending: &mut HashMap<(String, String), u64>,
) -> anyhow::Result<()> {
    let owner = Actor::user(&group.owner);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let spec = NewGroup {
        group_id: Some(group.id.clone()),
        name: group.name.clone(),
        group_type: Some(group.group_type),
        add_option: group.add_option,
        invite_option: group.invite_option,
        introduction: non_empty(&group.introduction),
        notification: non_empty(&group.notification),
        members: group
            .initial_members()
            .into_iter()
            .map(|(u, r)| (u, Some(r)))
            .collect(),
        owner: Some(group.owner.clone()),
        ..NewGroup::default()
    };
    service.create_group(&owner, spec).await?;
    let generated: Vec<String> = (1..=group.generated_members)
        .map(|n| world.generated_users.id(n))
        .collect();
    for batch in generated.chunks(MAX_INVITE_BATCH) {
        let results = service
            .invite(&owner, &group.id, batch.to_vec(), Tips::Everyone)
            .await?;
        note_invites(&group.id, results, pending);
    }
    Ok(())
}

/// Remembers invitations that wait for approval; logs the ones that failed.
fn note_invites(
    group: &str,
    results: Vec<(String, InviteResult)>,
    pending: &mut HashMap<(String, String), u64>,
) {
    for (user, result) in results {
        match result {
            InviteResult::Added => {}
            InviteResult::Pending { request_id } => {
                pending.insert((group.to_string(), user), request_id);
            }
            InviteResult::Failed(e) => {
                tracing::warn!("demo seed: inviting {user} to {group} failed: {e}");
            }
        }
    }
}

async fn apply(
    service: &Service,
    step: &Step,
    pending: &mut HashMap<(String, String), u64>,
) -> anyhow::Result<()> {
    match step {
        Step::Join {
            user,
            group,
            message,
        } => {
            let result = service
                .join(&Actor::user(user), group, message.clone())
                .await?;
            if let JoinResult::Pending { request_id } = result {
                pending.insert((group.clone(), user.clone()), request_id);
            }
        }
        Step::Decide {
            by,
            group,
            user,
            accept,
            reason,
        } => {
            let request_id = pending
                .remove(&(group.clone(), user.clone()))
                .ok_or_else(|| anyhow!("{user} has no pending request in {group} to decide"))?;
            let decision = if *accept {
                Decision::Accept
            } else {
                Decision::Refuse
            };
            service
                .decide(&Actor::user(by), request_id, decision, reason.clone())
                .await?;
        }
        Step::Invite { by, group, users } => {
            let results = service
                .invite(&Actor::user(by), group, users.clone(), Tips::Everyone)
                .await?;
            note_invites(group, results, pending);
        }
        Step::Quit { user, group } => service.quit(&Actor::user(user), group).await?,
        Step::Kick {
            by,
            group,
            user,
            reason,
        } => {
            service
                .kick(
                    &Actor::user(by),
                    group,
                    vec![user.clone()],
                    reason.clone(),
                    Tips::Everyone,
                    false,
                )
                .await?
        }
        Step::SetRole {
            by,
            group,
            user,
            role,
        } => {
            service
                .set_role(&Actor::user(by), group, user, *role)
                .await?;
        }
        Step::Modify {
            by,
            group,
            add_option,
            introduction,
            notification,
        } => {
            let changes = GroupChanges {
                add_option: *add_option,
                introduction: introduction.clone(),
                notification: notification.clone(),
                ..GroupChanges::default()
            };
            service
                .modify_group(&Actor::user(by), group, changes)
                .await?;
        }
    }
    Ok(())
}
