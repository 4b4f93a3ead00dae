//! The bottom two rows: the message line (the latest result, an error until
//! dismissed, or the `/` filter and `:` command being typed) and the status
//! bar (identity, server, connection, what is in flight, key hints generated
//! from the live keymap for the focused pane).

use super::text::{one_line, truncate};
use crate::tui::keymap::{Action, Scope};
use crate::tui::state::{Connection, Pane, State};
use crate::tui::update::{applies_here, available};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn spinner(state: &State) -> &'static str {
    SPINNER[((state.now_ms / 100) % SPINNER.len() as u64) as usize]
}

pub fn draw_message(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let width = area.width as usize;
    if let Some(cl) = &state.command {
        draw_input(frame, area, ":", &cl.input);
        if !cl.completions.is_empty() && cl.completions.len() > 1 {
            let shown = format!("  [{}]", cl.completions.join(" "));
            let used = cl.input.value().width() + 1;
            let x = area.x + used as u16;
            if (used as u16) < area.width {
                let r = Rect::new(x, area.y, area.width - used as u16, 1);
                frame.render_widget(
                    Paragraph::new(Line::styled(truncate(&shown, r.width as usize), t.dim())),
                    r,
                );
            }
        }
        return;
    }
    if let Some(input) = &state.filter_input {
        draw_input(frame, area, "/", input);
        return;
    }
    if let Some(note) = state.current_note() {
        // An error that stays says how to dismiss it, first, so a long
        // message cannot push that off the line.
        let text = if state.sticky_error.is_some() {
            format!("[Esc] {}", one_line(&note.text))
        } else {
            one_line(&note.text)
        };
        frame.render_widget(
            Paragraph::new(Line::styled(truncate(&text, width), t.level(note.level))),
            area,
        );
    }
}

fn draw_input(frame: &mut Frame, area: Rect, prompt: &str, input: &tui_input::Input) {
    let width = area.width.saturating_sub(2) as usize;
    let scroll = input.visual_scroll(width);
    let value: String = {
        // Cut the start by columns when the text is wider than the line.
        let mut skipped = 0;
        let mut out = String::new();
        for c in input.value().chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if skipped < scroll {
                skipped += w;
                continue;
            }
            out.push(c);
        }
        out
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(prompt.to_string()),
            Span::raw(value),
        ])),
        area,
    );
    let x = area.x + 1 + (input.visual_cursor().saturating_sub(scroll)) as u16;
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

/// The hint bar's actions for the focused pane: its own first, then the common ones.
pub fn hints(state: &State) -> Vec<Action> {
    let pane_scope = match state.focus {
        Pane::Groups => Scope::Groups,
        Pane::Members => Scope::Members,
        Pane::Requests => Scope::Requests,
        Pane::Events => Scope::Lists,
    };
    let mut out: Vec<Action> = vec![Action::Help];
    out.extend(
        Action::ALL
            .into_iter()
            .filter(|a| a.scope() == pane_scope && a.scope() != Scope::Lists)
            .filter(|a| available(state, *a) && applies_here(state, *a)),
    );
    if state.focus == Pane::Members {
        out.extend([Action::Invite, Action::Leave]);
    }
    // Group actions only where there is a group to act on.
    if state.target_group().is_none() {
        out.retain(|a| !matches!(a.scope(), Scope::Groups) && *a != Action::Invite);
    }
    if state.focus == Pane::Members && state.members.list.selected().is_none() {
        out.retain(|a| a.scope() != Scope::Members);
    }
    if state.focus == Pane::Requests && state.requests.list.is_empty() {
        out.retain(|a| a.scope() != Scope::Requests);
    }
    for a in [
        Action::Filter,
        Action::Create,
        Action::Join,
        Action::Command,
        Action::Quit,
    ] {
        if available(state, a) && !out.contains(&a) {
            out.push(a);
        }
    }
    out.retain(|a| available(state, *a));
    out
}

pub fn draw_status(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let mut left: Vec<Span> = Vec::new();
    if state.settings.demo {
        left.push(Span::styled(
            " DEMO ",
            t.warn().add_modifier(ratatui::style::Modifier::REVERSED),
        ));
        left.push(Span::raw(" "));
    }
    let who = if state.app_admin {
        format!("{} (app admin)", state.settings.user)
    } else {
        state.settings.user.clone()
    };
    left.push(Span::styled(
        who,
        t.text().add_modifier(ratatui::style::Modifier::BOLD),
    ));
    left.push(Span::styled(
        format!(" @ {} ", state.settings.server),
        t.dim(),
    ));
    let (conn, style) = match &state.connection {
        Connection::Connecting => (format!("{} connecting", spinner(state)), t.warn()),
        Connection::Connected => ("● connected".to_string(), t.ok()),
        Connection::Reconnecting { attempt, .. } => (
            format!("{} reconnecting {attempt}", spinner(state)),
            t.warn(),
        ),
        Connection::Refused(_) => (
            "✗ refused".to_string(),
            t.level(crate::tui::state::Level::Error),
        ),
    };
    left.push(Span::styled(conn, style));
    if state.settings.read_only {
        left.push(Span::styled(" read-only", t.warn()));
    }
    let busy = state.in_flight.len();
    if busy > 0 {
        left.push(Span::styled(
            format!("  {} {busy} in flight", spinner(state)),
            t.accent(),
        ));
    }
    let left_w: usize = left.iter().map(|s| s.content.width()).sum();
    let room = (area.width as usize).saturating_sub(left_w + 2);
    let mut hint_spans: Vec<Span> = Vec::new();
    let mut used = 0;
    for a in hints(state) {
        let key = state.settings.keymap.first(a).unwrap_or_default();
        let label = a.hint();
        let w = key.width() + 1 + label.width() + 2;
        if used + w > room {
            break;
        }
        used += w;
        hint_spans.push(Span::styled(key, t.key()));
        hint_spans.push(Span::styled(format!(" {label}  "), t.dim()));
    }
    let mut spans = left;
    let pad = (area.width as usize).saturating_sub(left_w + used);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.extend(hint_spans);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
