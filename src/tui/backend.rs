//! The backend task: the only place the console touches the network. It
//! carries out the [`Cmd`]s `update` returns with the shared [`Client`], each
//! call in its own task so none waits for another, and sends every answer
//! back as a [`Msg`]. Calls of one slot (the members page being looked at)
//! are "latest wins": a newer one aborts the older. The event stream is
//! followed here too and its items become [`StreamMsg`]s.

use super::msg::{Call, CallError, Cmd, Hello, Msg, Outcome, Reply, StreamMsg};
use crate::client::{Client, EventStreamOptions, RequestFilter, StreamItem, events::backoff};
use crate::server::api::ModifyGroupRequest;
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Largest number of groups read at start (pages of 500).
const MAX_GROUPS: usize = 20_000;

pub struct Backend {
    client: Client,
    tx: UnboundedSender<Msg>,
    slots: HashMap<&'static str, JoinHandle<()>>,
    follow: Option<JoinHandle<()>>,
}

impl Backend {
    pub fn new(client: Client, tx: UnboundedSender<Msg>) -> Backend {
        Backend {
            client,
            tx,
            slots: HashMap::new(),
            follow: None,
        }
    }

    /// Starts carrying out a command (never waits for the network).
    /// Returns `false` for [`Cmd::Exit`].
    pub fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Exit => return false,
            Cmd::Follow { after, scope_all } => {
                if let Some(old) = self.follow.take() {
                    old.abort();
                }
                let client = self.client.clone();
                let tx = self.tx.clone();
                self.follow = Some(tokio::spawn(follow(client, tx, after, scope_all)));
            }
            Cmd::Call { id, call } => {
                let slot = call.slot();
                let client = self.client.clone();
                let tx = self.tx.clone();
                let task = tokio::spawn(async move {
                    let reply = perform(&client, &tx, call).await;
                    let _ = tx.send(Msg::Reply { id, reply });
                });
                if let Some(slot) = slot
                    && let Some(old) = self.slots.insert(slot, task)
                {
                    old.abort();
                }
            }
        }
        true
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(f) = self.follow.take() {
            f.abort();
        }
        for (_, t) in self.slots.drain() {
            t.abort();
        }
    }
}

fn err(e: crate::client::ClientError) -> CallError {
    CallError::from_client(&e)
}

async fn perform(client: &Client, tx: &UnboundedSender<Msg>, call: Call) -> Reply {
    match call {
        Call::Hello => Reply::Hello(hello(client, tx).await),
        Call::Groups { scope_all } => {
            let mut all = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                match client
                    .list_groups(scope_all, cursor.as_deref(), Some(500))
                    .await
                {
                    Ok(page) => {
                        all.extend(page.items);
                        cursor = page.next_cursor;
                        if cursor.is_none() || all.len() >= MAX_GROUPS {
                            break Reply::Groups(Ok(all));
                        }
                    }
                    Err(e) => break Reply::Groups(Err(err(e))),
                }
            }
        }
        Call::Group { group_id } => {
            let result = client.group(&group_id).await.map_err(err);
            Reply::Group { group_id, result }
        }
        Call::Members { group_id, cursor } => {
            let result = client
                .members(&group_id, cursor.as_deref(), Some(super::update::PAGE))
                .await
                .map_err(err);
            Reply::Members {
                group_id,
                cursor,
                result,
            }
        }
        Call::Requests { cursor } => {
            let result = client
                .requests(
                    RequestFilter::Pending,
                    cursor.as_deref(),
                    Some(super::update::PAGE),
                )
                .await
                .map_err(err);
            Reply::Requests { cursor, result }
        }
        Call::Create(req) => {
            let name = req.name.clone();
            Reply::Done(
                client
                    .create_group(&req)
                    .await
                    .map(|group_id| Outcome::Created { group_id, name })
                    .map_err(err),
            )
        }
        Call::Join { group_id, message } => Reply::Done(
            client
                .join(&group_id, message.as_deref())
                .await
                .map(|reply| Outcome::Joined { group_id, reply })
                .map_err(err),
        ),
        Call::Invite { group_id, users } => Reply::Done(
            client
                .invite(&group_id, &users)
                .await
                .map(|reply| Outcome::Invited { group_id, reply })
                .map_err(err),
        ),
        Call::Decide {
            request_ids,
            accept,
            reason,
        } => {
            let mut count = 0;
            let mut failed = Vec::new();
            for id in &request_ids {
                match client.decide(*id, accept, reason.as_deref()).await {
                    Ok(()) => count += 1,
                    Err(e) => failed.push((*id, err(e))),
                }
            }
            if count == 0 && failed.len() == 1 {
                let (_, e) = failed.remove(0);
                return Reply::Done(Err(e));
            }
            Reply::Done(Ok(Outcome::Decided {
                accepted: accept,
                count,
                failed,
            }))
        }
        Call::Leave { group_id } => Reply::Done(
            client
                .quit(&group_id)
                .await
                .map(|()| Outcome::Left { group_id })
                .map_err(err),
        ),
        Call::Disband { group_id } => Reply::Done(
            client
                .disband(&group_id)
                .await
                .map(|()| Outcome::Disbanded { group_id })
                .map_err(err),
        ),
        Call::SetOption { group_id, option } => {
            let req = ModifyGroupRequest {
                add_option: Some(option),
                ..Default::default()
            };
            Reply::Done(
                client
                    .modify_group(&group_id, &req)
                    .await
                    .map(|m| Outcome::OptionSet {
                        group_id,
                        option,
                        changed: !m.changed.is_empty(),
                    })
                    .map_err(err),
            )
        }
        Call::Kick { group_id, user } => Reply::Done(
            client
                .kick(&group_id, &user, None)
                .await
                .map(|()| Outcome::Kicked { group_id, user })
                .map_err(err),
        ),
        Call::SetRole {
            group_id,
            user,
            role,
        } => Reply::Done(
            client
                .set_role(&group_id, &user, role)
                .await
                .map(|r| Outcome::RoleSet {
                    group_id,
                    user,
                    role: r.role,
                    changed: r.changed,
                })
                .map_err(err),
        ),
    }
}

/// Who am I and where does the log stand; retried until the server answers
/// (reported as "reconnecting n"), except when it refuses the identity.
async fn hello(client: &Client, tx: &UnboundedSender<Msg>) -> Result<Hello, CallError> {
    let mut attempt = 0u32;
    loop {
        let result = async {
            let me = client.me().await?;
            let health = client.health().await?;
            Ok::<_, crate::client::ClientError>(Hello {
                me,
                last_event_id: health.last_event_id,
            })
        }
        .await;
        match result {
            Ok(h) => {
                if attempt > 0 {
                    let _ = tx.send(Msg::Stream(StreamMsg::Connected));
                }
                return Ok(h);
            }
            Err(e) if e.is_auth() => return Err(err(e)),
            Err(e) => {
                attempt += 1;
                tracing::info!("server not reachable (attempt {attempt}): {e}");
                let _ = tx.send(Msg::Stream(StreamMsg::Disconnected {
                    attempt,
                    error: e.to_string(),
                }));
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
    }
}

async fn follow(client: Client, tx: UnboundedSender<Msg>, after: u64, scope_all: bool) {
    let mut stream = client.events(EventStreamOptions {
        after: Some(after),
        scope_all,
    });
    while let Some(item) = stream.recv().await {
        let msg = match item {
            StreamItem::Connected => StreamMsg::Connected,
            StreamItem::Event(e) => StreamMsg::Event(Box::new(e)),
            StreamItem::Reset { last_event_id } => StreamMsg::Reset { last_event_id },
            StreamItem::Disconnected { attempt, error } => {
                tracing::info!("event stream lost (attempt {attempt}): {error}");
                StreamMsg::Disconnected { attempt, error }
            }
            StreamItem::Fatal(e) => StreamMsg::Fatal(e.to_string()),
        };
        if tx.send(Msg::Stream(msg)).is_err() {
            break;
        }
    }
}
