//! Simulated activity in the demo world: one background loop that, at a
//! gentle randomized pace, acts as the other users of the world through the
//! HTTP API, so each change flows like a real user's (events included).
//!
//! Users apply to the local user's `Auth` groups with a message, join `Any`
//! groups, quit, get invited and now and then kicked; co-admins decide some
//! pending requests; other owners flip join options and admin roles. Every
//! group stays within a band around its seeded size, and pending requests in
//! the groups the local user manages stop growing at a cap. The local user is
//! never acted as. Refusals from the server (already a member, group full,
//! someone else decided first) are part of life: logged at debug level, then
//! the next move. Nothing is printed: the console owns the terminal.

use super::world::{DemoGroup, World};
use crate::client::{Client, ClientError, RequestFilter};
use crate::model::{AddOption, GroupType, InviteOption, Role};
use crate::server::api::{GroupInfo, InviteStatus, JoinStatus, MemberInfo, ModifyGroupRequest};
use crate::usersig::{DEFAULT_EXPIRE_SECS, SigKey};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long stopping waits for a move in flight before abandoning it.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Moves drawn per turn while the rules hold them back.
const MOVE_DRAWS: usize = 4;
/// Members read per page when looking for someone to leave or be kicked.
const MEMBER_PAGE: u32 = 100;
/// Pending requests in a group the local user does not manage, above which
/// nobody else applies there.
const OTHER_PENDING_CAP: u64 = 3;
/// Pending requests a co-admin leaves in a group the local user manages,
/// so the local user's inbox never runs dry.
const INBOX_FLOOR: usize = 2;

/// The running simulation; [`Simulation::stop`] ends it.
pub struct Simulation {
    stop: watch::Sender<bool>,
    runner: JoinHandle<()>,
}

impl Simulation {
    /// Starts acting on the server `base` points at, one move every `pace`
    /// on average (uniformly between half and one and a half of it).
    pub fn spawn(base: Client, key: SigKey, world: Arc<World>, pace: Duration) -> Simulation {
        let (stop, stopped) = watch::channel(false);
        let actor = Simulator::new(base, key, world, pace);
        let runner = tokio::spawn(actor.run(stopped));
        Simulation { stop, runner }
    }

    /// Ends the simulation: a move in flight is abandoned.
    pub async fn stop(self) {
        let Simulation { stop, mut runner } = self;
        let _ = stop.send(true);
        match tokio::time::timeout(STOP_GRACE, &mut runner).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("the demo simulation ended abnormally: {e}"),
            Err(_) => {
                tracing::warn!("the demo simulation did not stop in {STOP_GRACE:?}; aborting it");
                runner.abort();
            }
        }
    }
}

/// Waits until the stop signal is raised (or its sender is gone).
async fn stop_raised(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// One kind of move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// Someone applies to or joins a group.
    Arrive,
    /// A member quits.
    Leave,
    /// An owner or admin (or, in Work groups, any member) invites users.
    Invite,
    /// A co-admin decides a pending request.
    Decide,
    /// An owner flips the join option between `Any` and `Auth`.
    ToggleOption,
    /// An owner or admin removes a member.
    Kick,
    /// An owner grants admin to a member, or takes back a grant it made.
    ToggleAdmin,
}

impl Move {
    /// Each move with its relative frequency.
    const WEIGHTED: [(Move, u32); 7] = [
        (Move::Arrive, 30),
        (Move::Leave, 20),
        (Move::Invite, 12),
        (Move::Decide, 14),
        (Move::ToggleOption, 5),
        (Move::Kick, 5),
        (Move::ToggleAdmin, 4),
    ];
}

/// Why a move did nothing (logged at debug level).
#[derive(Debug)]
enum Skip {
    /// The rules of the simulation say not now.
    Held(String),
    /// The server said no.
    Refused(ClientError),
}

impl From<ClientError> for Skip {
    fn from(e: ClientError) -> Skip {
        Skip::Refused(e)
    }
}

fn held(why: impl Into<String>) -> Skip {
    Skip::Held(why.into())
}

type MoveResult = Result<String, Skip>;

/// A group's size band: the simulation neither grows it past `max` nor
/// shrinks it below `min`.
#[derive(Debug, Clone, Copy)]
struct Band {
    min: u64,
    max: u64,
}

impl Band {
    /// The group's own band, or one around its seeded size.
    fn of(g: &DemoGroup) -> Band {
        match g.band {
            Some((min, max)) => Band { min, max },
            None => Band::around(g.planned_size()),
        }
    }

    /// Where `count` sits: 0 at `min` (or below), 1 at `max` (or above).
    fn position(self, count: u64) -> f64 {
        if count <= self.min {
            0.0
        } else if count >= self.max {
            1.0
        } else {
            (count - self.min) as f64 / (self.max - self.min) as f64
        }
    }

    fn around(size: u64) -> Band {
        let spread = size / 10 + 3;
        Band {
            min: size.saturating_sub(spread).max(2),
            max: size + spread,
        }
    }
}

struct Simulator {
    world: Arc<World>,
    base: Client,
    key: SigKey,
    pace: Duration,
    rng: StdRng,
    clients: HashMap<String, Client>,
    /// The named users other than the local user.
    named: Vec<String>,
    bands: HashMap<String, Band>,
}

impl Simulator {
    fn new(base: Client, key: SigKey, world: Arc<World>, pace: Duration) -> Simulator {
        let named = world
            .users
            .iter()
            .map(|u| u.id.clone())
            .filter(|u| *u != world.local_user)
            .collect();
        let bands = world
            .groups
            .iter()
            .map(|g| (g.id.clone(), Band::of(g)))
            .collect();
        Simulator {
            world,
            base,
            key,
            pace,
            rng: StdRng::from_os_rng(),
            clients: HashMap::new(),
            named,
            bands,
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            "demo simulation started (a move every {:?} on average)",
            self.pace
        );
        loop {
            let delay = self.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop_raised(&mut stop) => break,
            }
            tokio::select! {
                _ = self.act() => {}
                _ = stop_raised(&mut stop) => break,
            }
        }
        tracing::info!("demo simulation stopped");
    }

    /// Plays one move; when the rules hold a move back, draws another
    /// (a few times) so the pace is the pace of things happening.
    async fn act(&mut self) {
        for _ in 0..MOVE_DRAWS {
            let mv = self.pick_move();
            match self.play(mv).await {
                Ok(what) => {
                    tracing::debug!("demo {mv:?}: {what}");
                    return;
                }
                Err(Skip::Refused(e)) => {
                    tracing::debug!("demo {mv:?} refused: {e}");
                    return;
                }
                Err(Skip::Held(why)) => tracing::debug!("demo {mv:?} held: {why}"),
            }
        }
    }

    fn next_delay(&mut self) -> Duration {
        let half = self.pace / 2;
        half + self.pace.mul_f64(self.rng.random::<f64>())
    }

    fn pick_move(&mut self) -> Move {
        let total: u32 = Move::WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (mv, w) in Move::WEIGHTED {
            if roll < w {
                return mv;
            }
            roll -= w;
        }
        Move::Arrive
    }

    async fn play(&mut self, mv: Move) -> MoveResult {
        match mv {
            Move::Arrive => self.arrive().await,
            Move::Leave => self.leave().await,
            Move::Invite => self.invite().await,
            Move::Decide => self.decide().await,
            Move::ToggleOption => self.toggle_option().await,
            Move::Kick => self.kick().await,
            Move::ToggleAdmin => self.toggle_admin().await,
        }
    }

    // ---- who's who ----

    /// A client acting as `user`; never the local user.
    fn client(&mut self, user: &str) -> Result<Client, Skip> {
        if user == self.world.local_user {
            return Err(held("the simulation never acts as the local user"));
        }
        if let Some(c) = self.clients.get(user) {
            return Ok(c.clone());
        }
        let sig = self.key.sign(user, DEFAULT_EXPIRE_SECS);
        let client = self.base.with_user(user, &sig)?;
        self.clients.insert(user.to_string(), client.clone());
        Ok(client)
    }

    fn local(&self) -> &str {
        &self.world.local_user
    }

    /// Whether the local user manages `g` (owner or admin, as seeded).
    fn managed_by_local(&self, g: &DemoGroup) -> bool {
        g.owner == self.local() || g.admins.iter().any(|a| a == self.local())
    }

    /// Seeded owners and admins of `g` other than the local user.
    fn moderators(&self, g: &DemoGroup) -> Vec<String> {
        std::iter::once(&g.owner)
            .chain(&g.admins)
            .filter(|u| *u != self.local())
            .cloned()
            .collect()
    }

    /// Users the simulation never makes leave `g`: its seeded moderators,
    /// its steward and the local user.
    fn protected(&self, g: &DemoGroup, user: &str) -> bool {
        user == self.local()
            || user == g.owner
            || g.admins.iter().any(|a| a == user)
            || g.steward(self.local()) == Some(user)
    }

    fn band(&self, g: &DemoGroup) -> Band {
        self.bands
            .get(&g.id)
            .copied()
            .unwrap_or_else(|| Band::of(g))
    }

    /// Whether `g`, holding `count` members, may take `adding` more now:
    /// never past the band, and less likely the fuller it is, so sizes
    /// drift back towards the middle.
    fn may_grow(&mut self, g: &DemoGroup, count: u64, adding: u64) -> Result<(), Skip> {
        let band = self.band(g);
        if count + adding > band.max {
            return Err(held(format!(
                "{} is at its upper band ({})",
                g.id, band.max
            )));
        }
        if self.rng.random_bool(band.position(count)) {
            return Err(held(format!("{} is full enough for now ({count})", g.id)));
        }
        Ok(())
    }

    /// Whether a member may leave `g`, holding `count`: never below the
    /// band, and less likely the emptier it is.
    fn may_shrink(&mut self, g: &DemoGroup, count: u64) -> Result<(), Skip> {
        let band = self.band(g);
        if count <= band.min {
            return Err(held(format!(
                "{} is at its lower band ({})",
                g.id, band.min
            )));
        }
        if !self.rng.random_bool(band.position(count)) {
            return Err(held(format!("{} is small enough for now ({count})", g.id)));
        }
        Ok(())
    }

    /// A random group among those `keep` accepts, weighted by `weight`.
    fn pick_group(
        &mut self,
        keep: impl Fn(&Simulator, &DemoGroup) -> bool,
        weight: impl Fn(&Simulator, &DemoGroup) -> u32,
    ) -> Result<DemoGroup, Skip> {
        let world = self.world.clone();
        let choices: Vec<(&DemoGroup, u32)> = world
            .groups
            .iter()
            .filter(|g| keep(self, g))
            .map(|g| (g, weight(self, g)))
            .collect();
        let total: u32 = choices.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Err(held("no group fits this move"));
        }
        let mut roll = self.rng.random_range(0..total);
        for (g, w) in choices {
            if roll < w {
                return Ok(g.clone());
            }
            roll -= w;
        }
        Err(held("no group fits this move"))
    }

    /// Someone who might not be in `g` yet: a named user, or a numbered one
    /// (for groups filled with numbered users, mostly one from past them).
    fn newcomer(&mut self, g: &DemoGroup) -> String {
        let generated = &self.world.generated_users;
        if self.rng.random_bool(0.6) || generated.count == 0 {
            if let Some(u) = self.named.choose(&mut self.rng) {
                return u.clone();
            }
        }
        let low = if g.generated_members < generated.count && self.rng.random_bool(0.8) {
            g.generated_members + 1
        } else {
            1
        };
        let n = self.rng.random_range(low..=generated.count.max(low));
        generated.id(n)
    }

    fn message(&mut self, pick: fn(&World) -> &Vec<String>) -> String {
        let world = self.world.clone();
        pick(&world)
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_default()
    }

    /// The group as its steward sees it.
    async fn info(&mut self, g: &DemoGroup) -> Result<GroupInfo, Skip> {
        let steward = g
            .steward(self.local())
            .ok_or_else(|| held(format!("{} has no steward", g.id)))?
            .to_string();
        Ok(self.client(&steward)?.group(&g.id).await?)
    }

    /// Pending requests across the groups the local user manages.
    async fn local_inbox_size(&mut self) -> Result<u64, Skip> {
        let world = self.world.clone();
        let mut total = 0;
        let managed: Vec<&DemoGroup> = world
            .groups
            .iter()
            .filter(|g| self.managed_by_local(g))
            .collect();
        for g in managed {
            // A group whose steward cannot see requests (the local user's
            // Work group) takes no simulated applications, so it adds nothing.
            let info = self.info(g).await?;
            total += info.pending_requests.unwrap_or(0);
        }
        Ok(total)
    }

    /// A random ordinary member of `g` the simulation may move out.
    async fn removable_member(&mut self, g: &DemoGroup) -> Result<String, Skip> {
        let steward = g
            .steward(self.local())
            .ok_or_else(|| held(format!("{} has no steward", g.id)))?
            .to_string();
        // In a large group, start the page somewhere random among the
        // numbered users so everyone gets a turn.
        let cursor = (g.generated_members > 0).then(|| {
            let n = self.rng.random_range(0..g.generated_members.max(1));
            self.world.generated_users.id(n)
        });
        let page = self
            .client(&steward)?
            .members(&g.id, cursor.as_deref(), Some(MEMBER_PAGE))
            .await?;
        let candidates: Vec<&MemberInfo> = page
            .items
            .iter()
            .filter(|m| m.role == Role::Member && !self.protected(g, &m.user_id))
            .collect();
        candidates
            .choose(&mut self.rng)
            .map(|m| m.user_id.clone())
            .ok_or_else(|| held(format!("nobody in {} may leave now", g.id)))
    }

    // ---- the moves ----

    async fn arrive(&mut self) -> MoveResult {
        // Work groups take members by invitation (see `invite`).
        let g = self.pick_group(
            |_, g| g.group_type != GroupType::Work,
            |s, g| if s.managed_by_local(g) { 3 } else { 1 },
        )?;
        let info = self.info(&g).await?;
        self.may_grow(&g, info.member_count, 1)?;
        let user = self.newcomer(&g);
        let message = match info.add_option {
            AddOption::Forbid => return Err(held(format!("{} takes no applications", g.id))),
            AddOption::Any => None,
            AddOption::Auth => {
                // Apply only where a simulated moderator sees the requests,
                // so the count below is known.
                let pending = pending_seen(&info)?;
                if self.managed_by_local(&g) {
                    let inbox = self.local_inbox_size().await?;
                    if inbox >= self.world.simulation.pending_cap {
                        return Err(held(format!("the local inbox holds {inbox} requests")));
                    }
                } else if pending >= OTHER_PENDING_CAP {
                    return Err(held(format!("{} has enough pending requests", g.id)));
                }
                Some(self.message(|w| &w.simulation.join_messages))
            }
        };
        let reply = self.client(&user)?.join(&g.id, message.as_deref()).await?;
        Ok(match reply.status {
            JoinStatus::Joined => format!("{user} joined {}", g.id),
            JoinStatus::Pending => format!("{user} applied to {}", g.id),
        })
    }

    async fn leave(&mut self) -> MoveResult {
        let g = self.pick_group(|_, _| true, |_, _| 1)?;
        let info = self.info(&g).await?;
        self.may_shrink(&g, info.member_count)?;
        let user = self.removable_member(&g).await?;
        self.client(&user)?.quit(&g.id).await?;
        Ok(format!("{user} quit {}", g.id))
    }

    async fn invite(&mut self) -> MoveResult {
        let g = self.pick_group(
            |s, g| g.group_type != GroupType::AVChatRoom && !s.inviters(g).is_empty(),
            |_, _| 1,
        )?;
        let info = self.info(&g).await?;
        let count = self.rng.random_range(1..=2u64);
        self.may_grow(&g, info.member_count, count)?;
        // Now and then a plain member invites into a group the local user
        // manages: with invite option Auth that is a request to decide.
        let plain_member_invites = self.managed_by_local(&g)
            && info.invite_option == Some(InviteOption::Auth)
            && g.group_type != GroupType::Work
            && self.rng.random_bool(0.3);
        let pool = if plain_member_invites {
            let inbox = self.local_inbox_size().await?;
            if inbox >= self.world.simulation.pending_cap {
                return Err(held(format!("the local inbox holds {inbox} requests")));
            }
            let local = self.local().to_string();
            g.members.iter().filter(|m| **m != local).cloned().collect()
        } else {
            self.inviters(&g)
        };
        let inviter = pool
            .choose(&mut self.rng)
            .cloned()
            .ok_or_else(|| held(format!("nobody can invite into {}", g.id)))?;
        let users: Vec<String> = (0..count).map(|_| self.newcomer(&g)).collect();
        let reply = self.client(&inviter)?.invite(&g.id, &users).await?;
        let outcomes: Vec<String> = reply
            .results
            .iter()
            .map(|r| match r.result {
                InviteStatus::Added => format!("{} added", r.user_id),
                InviteStatus::Pending => format!("{} pending", r.user_id),
                InviteStatus::Failed => format!(
                    "{} failed ({})",
                    r.user_id,
                    r.message.as_deref().unwrap_or("no reason given")
                ),
            })
            .collect();
        Ok(format!(
            "{inviter} invited into {}: {}",
            g.id,
            outcomes.join(", ")
        ))
    }

    /// Who may invite into `g` without being the local user.
    fn inviters(&self, g: &DemoGroup) -> Vec<String> {
        let mut who = self.moderators(g);
        if g.group_type == GroupType::Work {
            who.extend(g.members.iter().filter(|m| *m != self.local()).cloned());
        }
        who
    }

    async fn decide(&mut self) -> MoveResult {
        let g = self.pick_group(
            |s, g| g.group_type.has_admins() && !s.moderators(g).is_empty(),
            |s, g| if s.managed_by_local(g) { 3 } else { 1 },
        )?;
        let approver = self
            .moderators(&g)
            .choose(&mut self.rng)
            .cloned()
            .ok_or_else(|| held(format!("nobody but the local user decides in {}", g.id)))?;
        let page = self
            .client(&approver)?
            .requests(RequestFilter::Pending, None, Some(100))
            .await?;
        let waiting: Vec<_> = page
            .items
            .iter()
            .filter(|r| r.group_id == g.id && r.can_decide && r.status == "pending")
            .collect();
        let floor = if self.managed_by_local(&g) {
            INBOX_FLOOR
        } else {
            0
        };
        if waiting.len() <= floor {
            return Err(held(format!("{} pending in {}", waiting.len(), g.id)));
        }
        let Some(request) = waiting.choose(&mut self.rng) else {
            return Err(held(format!("nothing pending in {}", g.id)));
        };
        let (id, applicant) = (request.id, request.applicant.clone());
        let accept = self.rng.random_bool(0.6);
        let reason = (!accept).then(|| self.message(|w| &w.simulation.refuse_reasons));
        self.client(&approver)?
            .decide(id, accept, reason.as_deref())
            .await?;
        Ok(format!(
            "{approver} {} {applicant} in {}",
            if accept { "accepted" } else { "refused" },
            g.id
        ))
    }

    async fn toggle_option(&mut self) -> MoveResult {
        let g = self.pick_group(|s, g| g.toggles_option && g.owner != s.local(), |_, _| 1)?;
        let owner = self.client(&g.owner)?;
        let info = owner.group(&g.id).await?;
        let next = match info.add_option {
            AddOption::Any => AddOption::Auth,
            AddOption::Auth | AddOption::Forbid => AddOption::Any,
        };
        let change = ModifyGroupRequest {
            add_option: Some(next),
            ..ModifyGroupRequest::default()
        };
        owner.modify_group(&g.id, &change).await?;
        Ok(format!("{} set {} to {}", g.owner, g.id, next.as_str()))
    }

    async fn kick(&mut self) -> MoveResult {
        let g = self.pick_group(
            |s, g| g.group_type != GroupType::AVChatRoom && !s.kickers(g).is_empty(),
            |_, _| 1,
        )?;
        let info = self.info(&g).await?;
        self.may_shrink(&g, info.member_count)?;
        let user = self.removable_member(&g).await?;
        let kicker = self
            .kickers(&g)
            .choose(&mut self.rng)
            .cloned()
            .ok_or_else(|| held(format!("nobody can remove members of {}", g.id)))?;
        let reason = self.message(|w| &w.simulation.kick_reasons);
        self.client(&kicker)?
            .kick(&g.id, &user, Some(&reason))
            .await?;
        Ok(format!("{kicker} removed {user} from {}", g.id))
    }

    /// Who may remove members of `g` without being the local user.
    fn kickers(&self, g: &DemoGroup) -> Vec<String> {
        if g.group_type == GroupType::Work {
            (g.owner != self.local())
                .then(|| g.owner.clone())
                .into_iter()
                .collect()
        } else {
            self.moderators(g)
        }
    }

    async fn toggle_admin(&mut self) -> MoveResult {
        let g = self.pick_group(
            |s, g| g.group_type.has_admins() && g.owner != s.local(),
            |_, _| 1,
        )?;
        let owner = self.client(&g.owner)?;
        let page = owner.members(&g.id, None, Some(MEMBER_PAGE)).await?;
        // Take back a grant the simulation made earlier, if there is one:
        // at most one extra admin per group at a time.
        let granted = page
            .items
            .iter()
            .find(|m| m.role == Role::Admin && !self.protected(&g, &m.user_id));
        if let Some(m) = granted {
            let user = m.user_id.clone();
            owner.set_role(&g.id, &user, Role::Member).await?;
            return Ok(format!("{} revoked admin of {user} in {}", g.owner, g.id));
        }
        let candidates: Vec<&MemberInfo> = page
            .items
            .iter()
            .filter(|m| m.role == Role::Member && !self.protected(&g, &m.user_id))
            .collect();
        let user = candidates
            .choose(&mut self.rng)
            .map(|m| m.user_id.clone())
            .ok_or_else(|| held(format!("nobody to promote in {}", g.id)))?;
        owner.set_role(&g.id, &user, Role::Admin).await?;
        Ok(format!("{} made {user} an admin of {}", g.owner, g.id))
    }
}

/// The pending count in a group view; only approvers see it.
fn pending_seen(info: &GroupInfo) -> Result<u64, Skip> {
    info.pending_requests.ok_or_else(|| {
        held(format!(
            "the steward of {} cannot see its join requests",
            info.group_id
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_keep_groups_near_their_size() {
        let b = Band::around(20);
        assert!(b.min < 20 && 20 < b.max);
        let big = Band::around(1_511);
        assert!(big.min > 1_300 && big.max < 1_700);
        assert!(Band::around(1).min < Band::around(1).max);
        let b = Band { min: 10, max: 20 };
        assert_eq!(b.position(5), 0.0);
        assert_eq!(b.position(15), 0.5);
        assert_eq!(b.position(25), 1.0);
    }

    #[test]
    fn every_move_can_be_drawn() {
        assert!(Move::WEIGHTED.iter().all(|(_, w)| *w > 0));
    }
}
