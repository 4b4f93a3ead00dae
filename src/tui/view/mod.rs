//! Drawing: a pure function of the state onto a ratatui frame. The layout,
//! the parts every pane shares (border, title, Loading / Empty / Error), and
//! one file per pane, the status bar and the popups.

mod events;
mod groups;
mod members;
mod popup;
mod requests;
mod status;
pub mod text;

pub use events::describe;

use super::state::{Areas, Load, MIN_HEIGHT, MIN_WIDTH, Pane, State};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

/// Where everything goes, for a screen of this size.
pub fn layout(area: Rect) -> Areas {
    let [body, message, status] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [groups, requests] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
    let [members, events] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    Areas {
        groups,
        members,
        requests,
        events,
        message,
        status,
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &State) {
    let area = frame.area();
    if state.too_small() || area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, state, area);
        return;
    }
    let areas = layout(area);
    groups::draw(frame, state, areas.groups);
    members::draw(frame, state, areas.members);
    requests::draw(frame, state, areas.requests);
    events::draw(frame, state, areas.events);
    status::draw_message(frame, state, areas.message);
    status::draw_status(frame, state, areas.status);
    popup::draw(frame, state, area);
}

fn too_small(frame: &mut Frame, state: &State, area: Rect) {
    let t = &state.settings.theme;
    let lines = vec![
        Line::styled("terminal too small", t.warn()),
        Line::from(format!(
            "{}×{} here; groupdeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::styled("enlarge the window, or press q to quit", t.dim()),
    ];
    let y = area.height.saturating_sub(lines.len() as u16) / 2;
    let inner = Rect::new(
        area.x,
        area.y + y,
        area.width,
        area.height.saturating_sub(y),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        inner,
    );
}

/// The frame of a pane: border, numbered title (cut with … to leave room),
/// and an optional right-hand note.
fn pane_block<'a>(
    state: &State,
    pane: Pane,
    title: String,
    right: Option<Line<'a>>,
    width: u16,
) -> Block<'a> {
    let t = &state.settings.theme;
    let focused = state.focus == pane && state.popup.is_none();
    let right_w = right.as_ref().map(|r| r.width()).unwrap_or(0);
    let room = (width as usize).saturating_sub(2 + right_w + 1);
    let title = text::truncate(&format!(" {} {} ", pane.number(), title), room);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(t.border(focused))
        .title(Line::from(vec![Span::styled(title, t.title(focused))]));
    if let Some(r) = right {
        block = block.title(r.alignment(Alignment::Right));
    }
    block
}

/// A list pane with no rows to show: its header, then Loading, Empty or
/// Error, told apart, where the rows would be.
fn placeholder(
    frame: &mut Frame,
    state: &State,
    inner: Rect,
    header: Line,
    load: &Load,
    empty: &str,
) {
    let t = &state.settings.theme;
    frame.render_widget(Paragraph::new(header), inner);
    let area = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    let line = match load {
        Load::Idle => Line::styled(empty.to_string(), t.dim()),
        Load::Loading => Line::styled(format!("{} loading…", status::spinner(state)), t.dim()),
        Load::Failed(e) => Line::styled(format!("error: {e}"), t.level(super::state::Level::Error)),
        Load::Ready => Line::styled(empty.to_string(), t.dim()),
    };
    frame.render_widget(
        Paragraph::new(line)
            .wrap(Wrap { trim: true })
            .style(Style::new()),
        area,
    );
}

/// A list row: reversed when selected in the focused pane, underlined when
/// selected elsewhere.
fn list_row<'a>(
    mut spans: Vec<Span<'a>>,
    selected: bool,
    focused: bool,
    state: &State,
) -> Line<'a> {
    if selected {
        let style = state.settings.theme.selected(focused);
        for s in &mut spans {
            s.style = s.style.patch(style);
        }
    }
    Line::from(spans)
}

/// The title's filter note: `/text` while typing or set.
fn filter_note(
    state: &State,
    pane: Pane,
    filter: &str,
    shown: usize,
    total: usize,
) -> Option<String> {
    let typing = state.focus == pane && state.filter_input.is_some();
    if filter.is_empty() && !typing {
        return None;
    }
    Some(format!(" /{filter} {shown}/{total} "))
}
