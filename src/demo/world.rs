//! The demo world as data: the users, groups and history of
//! `assets/demo.json`, read once and checked against the field limits and
//! against itself (every user and group a step names exists), so seeding and
//! the simulation can trust it.

use crate::model::limits;
use crate::model::{AddOption, GroupType, InviteOption, Role};
use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use std::collections::HashSet;

/// The demo world, embedded in the binary.
pub const DEMO_JSON: &str = include_str!("../../assets/demo.json");

/// `assets/demo.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Bumped when the world changes shape; recorded with the seed marker.
    pub version: u32,
    /// The console's identity.
    pub local_user: String,
    pub users: Vec<DemoUser>,
    pub generated_users: GeneratedUsers,
    pub groups: Vec<DemoGroup>,
    /// Applied in order after every group exists, so the event log has a past.
    pub history: Vec<Step>,
    pub simulation: SimulationText,
}

/// A named user with a display name (nick).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    pub id: String,
    pub nick: String,
    #[serde(default)]
    pub face_url: String,
}

/// Numbered users (`user0001`, ...) that fill the large groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedUsers {
    pub prefix: String,
    pub count: u32,
    pub digits: usize,
}

impl GeneratedUsers {
    /// The `n`th generated user ID (from 1).
    pub fn id(&self, n: u32) -> String {
        format!("{}{:0width$}", self.prefix, n, width = self.digits)
    }

    /// Every generated user ID, in order.
    pub fn ids(&self) -> impl Iterator<Item = String> + '_ {
        (1..=self.count).map(|n| self.id(n))
    }
}

/// A group as it is created, before the history runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoGroup {
    pub id: String,
    #[serde(rename = "type")]
    pub group_type: GroupType,
    pub name: String,
    pub owner: String,
    pub add_option: Option<AddOption>,
    pub invite_option: Option<InviteOption>,
    #[serde(default)]
    pub introduction: String,
    #[serde(default)]
    pub notification: String,
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub members: Vec<String>,
    /// How many generated users (`user0001` upwards) the owner brings in.
    #[serde(default)]
    pub generated_members: u32,
    /// Whether the simulated owner flips its join option now and then.
    #[serde(default)]
    pub toggles_option: bool,
    /// The size band `[min, max]` the simulation keeps the group in; by
    /// default a tenth (and a few) either side of its seeded size.
    pub band: Option<(u64, u64)>,
    /// The member the simulation reads the group through; by default the
    /// owner, else the first admin, else the first member who is not the local user.
    pub steward: Option<String>,
}

impl DemoGroup {
    /// The initial members besides the owner, with their roles.
    pub fn initial_members(&self) -> Vec<(String, Role)> {
        self.admins
            .iter()
            .map(|u| (u.clone(), Role::Admin))
            .chain(self.members.iter().map(|u| (u.clone(), Role::Member)))
            .collect()
    }

    /// Who the simulation reads this group through (never the local user).
    pub fn steward(&self, local_user: &str) -> Option<&str> {
        if let Some(s) = &self.steward {
            return Some(s);
        }
        std::iter::once(&self.owner)
            .chain(&self.admins)
            .chain(&self.members)
            .map(String::as_str)
            .find(|u| *u != local_user)
    }

    /// Members once seeding is done, roughly (the history moves a few): the
    /// middle of the band the simulation keeps the group in.
    pub fn planned_size(&self) -> u64 {
        1 + self.admins.len() as u64 + self.members.len() as u64 + u64::from(self.generated_members)
    }
}

/// One step of the seeded history.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Joins an `Any` group, or applies to an `Auth` one.
    Join {
        user: String,
        group: String,
        message: Option<String>,
    },
    /// Decides the pending request of `user` (an application or an invitation).
    Decide {
        by: String,
        group: String,
        user: String,
        accept: bool,
        reason: Option<String>,
    },
    Invite {
        by: String,
        group: String,
        users: Vec<String>,
    },
    Quit {
        user: String,
        group: String,
    },
    Kick {
        by: String,
        group: String,
        user: String,
        reason: Option<String>,
    },
    SetRole {
        by: String,
        group: String,
        user: String,
        role: Role,
    },
    Modify {
        by: String,
        group: String,
        add_option: Option<AddOption>,
        introduction: Option<String>,
        notification: Option<String>,
    },
}

impl Step {
    /// The group and the users the step names.
    fn names(&self) -> (&str, Vec<&str>) {
        match self {
            Step::Join { user, group, .. } | Step::Quit { user, group } => {
                (group, vec![user.as_str()])
            }
            Step::Decide {
                by, group, user, ..
            }
            | Step::Kick {
                by, group, user, ..
            }
            | Step::SetRole {
                by, group, user, ..
            } => (group, vec![by.as_str(), user.as_str()]),
            Step::Invite { by, group, users } => (
                group,
                std::iter::once(by.as_str())
                    .chain(users.iter().map(String::as_str))
                    .collect(),
            ),
            Step::Modify { by, group, .. } => (group, vec![by.as_str()]),
        }
    }
}

/// The words simulated users write.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationText {
    /// Pending join requests (across the local user's `Auth` groups) above
    /// which simulated users stop applying.
    pub pending_cap: u64,
    pub join_messages: Vec<String>,
    pub refuse_reasons: Vec<String>,
    pub kick_reasons: Vec<String>,
}

impl World {
    /// The embedded world, checked.
    pub fn embedded() -> anyhow::Result<World> {
        let world = World::parse(DEMO_JSON)
            .context("reading the embedded demo world (assets/demo.json)")?;
        ensure!(
            world.local_user == super::DEMO_USER,
            "the demo world's local user is {:?}, not {:?}",
            world.local_user,
            super::DEMO_USER
        );
        Ok(world)
    }

    /// Parses and checks a world.
    pub fn parse(text: &str) -> anyhow::Result<World> {
        let world: World = serde_json::from_str(text).context("demo world JSON")?;
        world.check()?;
        Ok(world)
    }

    /// Every user ID: the named users, then the generated ones.
    pub fn all_user_ids(&self) -> Vec<String> {
        self.users
            .iter()
            .map(|u| u.id.clone())
            .chain(self.generated_users.ids())
            .collect()
    }

    pub fn group(&self, id: &str) -> Option<&DemoGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Checks that the world is consistent and within the service's limits.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut users: HashSet<String> = HashSet::new();
        for u in &self.users {
            limits::validate_user_id(&u.id).with_context(|| format!("user {:?}", u.id))?;
            ensure!(
                users.insert(u.id.clone()),
                "user {:?} is listed twice",
                u.id
            );
        }
        ensure!(
            self.generated_users.count < 10u32.saturating_pow(self.generated_users.digits as u32),
            "{} generated users do not fit in {} digits",
            self.generated_users.count,
            self.generated_users.digits
        );
        for id in self.generated_users.ids() {
            limits::validate_user_id(&id).with_context(|| format!("user {id:?}"))?;
            ensure!(users.insert(id.clone()), "user {id:?} is listed twice");
        }
        ensure!(
            users.contains(&self.local_user),
            "the local user {:?} is not among the users",
            self.local_user
        );
        let mut groups: HashSet<&str> = HashSet::new();
        for g in &self.groups {
            let what = || format!("group {:?}", g.id);
            limits::validate_custom_group_id(&g.id, g.group_type).with_context(what)?;
            limits::validate_name(&g.name).with_context(what)?;
            limits::check_len(
                "introduction",
                &g.introduction,
                limits::MAX_INTRODUCTION_BYTES,
            )
            .with_context(what)?;
            limits::check_len(
                "notification",
                &g.notification,
                limits::MAX_NOTIFICATION_BYTES,
            )
            .with_context(what)?;
            ensure!(groups.insert(&g.id), "group {:?} is listed twice", g.id);
            let mut seen = HashSet::new();
            for u in std::iter::once(&g.owner).chain(&g.admins).chain(&g.members) {
                ensure!(users.contains(u), "{}: unknown user {u:?}", what());
                ensure!(seen.insert(u), "{}: {u:?} is listed twice", what());
            }
            ensure!(
                g.admins.len() + g.members.len() <= limits::MAX_INITIAL_MEMBERS,
                "{}: at most {} initial members",
                what(),
                limits::MAX_INITIAL_MEMBERS
            );
            ensure!(
                g.generated_members <= self.generated_users.count,
                "{}: only {} generated users exist",
                what(),
                self.generated_users.count
            );
            let invites = g.invite_option.or(g.group_type.default_invite_option());
            ensure!(
                g.generated_members == 0
                    || matches!(invites, Some(InviteOption::Any | InviteOption::Auth)),
                "{}: the owner brings generated members in by invitation; set invite_option Any or Auth",
                what()
            );
            if g.group_type == GroupType::AVChatRoom
                && (!g.admins.is_empty() || !g.members.is_empty() || g.generated_members > 0)
            {
                bail!("{}: AVChatRoom groups start without members", what());
            }
            if let Some((min, max)) = g.band {
                ensure!(
                    1 <= min && min < max,
                    "{}: the band needs 1 <= min < max",
                    what()
                );
            }
            match g.steward(&self.local_user) {
                Some(s) => ensure!(users.contains(s), "{}: unknown steward {s:?}", what()),
                None => bail!("{}: no member besides the local user", what()),
            }
        }
        for (i, step) in self.history.iter().enumerate() {
            let (group, names) = step.names();
            ensure!(
                groups.contains(group),
                "history step {}: unknown group {group:?}",
                i + 1
            );
            for u in names {
                ensure!(
                    users.contains(u),
                    "history step {}: unknown user {u:?}",
                    i + 1
                );
            }
            let text = match step {
                Step::Join { message, .. } => message.as_deref(),
                Step::Decide { reason, .. } | Step::Kick { reason, .. } => reason.as_deref(),
                _ => None,
            };
            if let Some(text) = text {
                limits::check_len("message", text, limits::MAX_MESSAGE_BYTES)
                    .with_context(|| format!("history step {}", i + 1))?;
            }
        }
        let sim = &self.simulation;
        ensure!(
            !sim.join_messages.is_empty()
                && !sim.refuse_reasons.is_empty()
                && !sim.kick_reasons.is_empty(),
            "the simulation needs join messages, refusal reasons and kick reasons"
        );
        for text in sim
            .join_messages
            .iter()
            .chain(&sim.refuse_reasons)
            .chain(&sim.kick_reasons)
        {
            limits::check_len("message", text, limits::MAX_MESSAGE_BYTES)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_world_is_consistent() {
        let w = World::embedded().expect("demo.json is valid");
        assert_eq!(w.local_user, "alice");
        let types: HashSet<GroupType> = w.groups.iter().map(|g| g.group_type).collect();
        assert_eq!(types.len(), 5, "every group type appears");
    }

    #[test]
    fn generated_ids_are_padded() {
        let g = GeneratedUsers {
            prefix: "user".into(),
            count: 3,
            digits: 4,
        };
        assert_eq!(
            g.ids().collect::<Vec<_>>(),
            ["user0001", "user0002", "user0003"]
        );
    }

    #[test]
    fn unknown_users_are_refused() {
        let text = DEMO_JSON.replace("\"user\": \"mateo\"", "\"user\": \"nobody.here\"");
        assert!(World::parse(&text).is_err());
    }
}
