//! Colours: the 16 standard terminal colours in a dark and a light variant,
//! or none at all (`NO_COLOR`, `--no-color`), where bold and reverse still
//! mark focus and selection.

use crate::model::{EventKind, GroupType, Role};
use crate::tui::state::Level;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Palette {
    #[default]
    Dark,
    Light,
}

impl Palette {
    pub fn parse(s: &str) -> Option<Palette> {
        match s.to_ascii_lowercase().as_str() {
            "dark" => Some(Palette::Dark),
            "light" => Some(Palette::Light),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            palette: Palette::Dark,
            color: true,
        }
    }
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// Secondary text (ages, counts, hints).
    pub fn dim(&self) -> Style {
        if self.color {
            match self.palette {
                Palette::Dark => Style::new().fg(Color::DarkGray),
                Palette::Light => Style::new().fg(Color::Gray),
            }
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn text(&self) -> Style {
        Style::new()
    }

    pub fn accent(&self) -> Style {
        match self.palette {
            Palette::Dark => self.fg(Color::Cyan),
            Palette::Light => self.fg(Color::Blue),
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.accent().add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }

    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// The selected row: reversed in the focused pane, underlined elsewhere.
    pub fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::UNDERLINED)
        }
    }

    pub fn header(&self) -> Style {
        self.dim().add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.accent().add_modifier(Modifier::BOLD)
    }

    pub fn level(&self, level: Level) -> Style {
        match level {
            Level::Info => self.text(),
            Level::Success => self.fg(Color::Green),
            Level::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn warn(&self) -> Style {
        match self.palette {
            Palette::Dark => self.fg(Color::Yellow),
            Palette::Light => self.fg(Color::Magenta),
        }
        .add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn role(&self, role: Option<Role>) -> Style {
        match role {
            Some(Role::Owner) => self.warn(),
            Some(Role::Admin) => self.accent(),
            _ => self.text(),
        }
    }

    pub fn group_type(&self, t: GroupType) -> Style {
        match t {
            GroupType::Work => self.fg(Color::Blue),
            GroupType::Public => self.fg(Color::Green),
            GroupType::Meeting => self.fg(Color::Magenta),
            GroupType::AVChatRoom => self.fg(Color::Red),
            GroupType::Community => self.fg(Color::Cyan),
        }
    }

    /// Events are coloured by kind.
    pub fn event(&self, kind: EventKind) -> Style {
        let light = self.palette == Palette::Light;
        match kind {
            EventKind::GroupCreated => self.fg(Color::Cyan),
            EventKind::GroupInfoChanged => self.fg(if light { Color::Black } else { Color::White }),
            EventKind::MemberJoined => self.fg(Color::Green),
            EventKind::MemberQuit => self.fg(if light { Color::Magenta } else { Color::Yellow }),
            EventKind::MemberKicked => self.fg(Color::LightRed),
            EventKind::AdminGranted | EventKind::AdminRevoked | EventKind::OwnerChanged => {
                self.fg(Color::Magenta)
            }
            EventKind::GroupDisbanded => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            EventKind::JoinRequested => self.fg(Color::Blue).add_modifier(Modifier::BOLD),
            EventKind::JoinRequestHandled => self.fg(Color::Blue),
        }
    }
}
