//! The Events pane: the live log, newest at the bottom, coloured by kind.
//! It follows the tail; scrolled up it stays still and counts what is new.

use super::pane_block;
use super::text::{clock, one_line, truncate};
use crate::model::{Event, EventKind};
use crate::tui::state::{Pane, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

fn name_of(state: &State, e: &Event) -> String {
    if let Some(name) = state.names.get(&e.group_id) {
        return one_line(name);
    }
    match state.group(&e.group_id) {
        Some(g) => one_line(&g.name),
        None => e
            .detail
            .get("name")
            .and_then(|v| v.as_str())
            .map(one_line)
            .unwrap_or_else(|| e.group_id.clone()),
    }
}

fn s<'a>(e: &'a Event, key: &str) -> &'a str {
    e.detail.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// One event as a sentence.
pub fn describe(state: &State, e: &Event) -> String {
    let group = name_of(state, e);
    let who = e.targets.join(", ");
    match e.kind {
        EventKind::GroupCreated => format!("{} created {group} ({})", e.actor, s(e, "type")),
        EventKind::GroupInfoChanged => {
            let fields: Vec<String> = e
                .detail
                .get("fields")
                .and_then(|f| f.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let parts: Vec<String> = fields
                .iter()
                .map(|f| match (f.as_str(), e.detail.get(f)) {
                    ("add_option", Some(v)) => {
                        format!("join option → {}", v.as_str().unwrap_or("?"))
                    }
                    ("name", Some(v)) => format!("name → {}", one_line(v.as_str().unwrap_or(""))),
                    (f, _) => f.replace('_', " "),
                })
                .collect();
            format!("{} changed {group}: {}", e.actor, parts.join(", "))
        }
        EventKind::MemberJoined => match s(e, "via") {
            "invite" => format!("{who} joined {group} (invited by {})", e.actor),
            "approval" => format!("{who} joined {group} (approved by {})", e.actor),
            _ => format!("{who} joined {group}"),
        },
        EventKind::MemberQuit => format!("{who} left {group}"),
        EventKind::MemberKicked => {
            let reason = s(e, "reason");
            if reason.is_empty() {
                format!("{} kicked {who} from {group}", e.actor)
            } else {
                format!(
                    "{} kicked {who} from {group}: {}",
                    e.actor,
                    one_line(reason)
                )
            }
        }
        EventKind::AdminGranted => format!("{} made {who} admin of {group}", e.actor),
        EventKind::AdminRevoked => format!("{} revoked admin of {who} in {group}", e.actor),
        EventKind::OwnerChanged => format!(
            "{group}: owner {} → {}",
            s(e, "old_owner"),
            s(e, "new_owner")
        ),
        EventKind::GroupDisbanded => format!("{} disbanded {group}", e.actor),
        EventKind::JoinRequested => {
            if s(e, "kind") == "invite" {
                format!("{} invited {who} to {group} (needs approval)", e.actor)
            } else {
                let msg = s(e, "message");
                if msg.is_empty() {
                    format!("{who} asks to join {group}")
                } else {
                    format!("{who} asks to join {group}: “{}”", one_line(msg))
                }
            }
        }
        EventKind::JoinRequestHandled => {
            let verdict = s(e, "decision");
            let reason = s(e, "reason");
            let mut text = format!("{} {verdict} {who}'s request to join {group}", e.actor);
            if !reason.is_empty() {
                text.push_str(&format!(" ({})", one_line(reason)));
            }
            text
        }
    }
}

fn label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::GroupCreated => "created",
        EventKind::GroupInfoChanged => "changed",
        EventKind::MemberJoined => "joined",
        EventKind::MemberQuit => "quit",
        EventKind::MemberKicked => "kicked",
        EventKind::AdminGranted => "admin+",
        EventKind::AdminRevoked => "admin-",
        EventKind::OwnerChanged => "owner",
        EventKind::GroupDisbanded => "disband",
        EventKind::JoinRequested => "request",
        EventKind::JoinRequestHandled => "decided",
    }
}

pub fn draw(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let log = &state.log;
    let right = if log.scroll > 0 {
        Some(Line::styled(
            format!(" paused · {} new ↓ ", log.unseen),
            t.warn(),
        ))
    } else if !log.filter.is_empty()
        || (state.focus == Pane::Events && state.filter_input.is_some())
    {
        Some(Line::styled(format!(" /{} ", log.filter), t.accent()))
    } else {
        None
    };
    let block = pane_block(state, Pane::Events, "Events".to_string(), right, area.width);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = inner.height as usize;
    if rows == 0 {
        return;
    }
    if log.events.is_empty() {
        let text = match state.connection {
            crate::tui::state::Connection::Connected => "no events yet; changes appear here live",
            _ => "waiting for the event stream…",
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, t.dim())).wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    // The window ends `scroll` rows above the tail.
    let mut picked: Vec<&Event> = Vec::with_capacity(rows);
    match &log.matches {
        None => {
            let end = log.events.len().saturating_sub(log.scroll);
            let start = end.saturating_sub(rows);
            picked.extend(log.events.range(start..end));
        }
        Some(ids) => {
            let end = ids.len().saturating_sub(log.scroll);
            let start = end.saturating_sub(rows);
            picked.extend(ids.range(start..end).filter_map(|id| log.by_id(*id)));
        }
    }
    let width = inner.width as usize;
    let text_w = width.saturating_sub(8 + 1 + 7 + 1);
    let lines: Vec<Line> = picked
        .into_iter()
        .map(|e| {
            let style = t.event(e.kind);
            Line::from(vec![
                Span::styled(clock(e.time), t.dim()),
                Span::raw(" "),
                Span::styled(format!("{:<7}", label(e.kind)), style),
                Span::raw(" "),
                Span::styled(truncate(&describe(state, e), text_w), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
