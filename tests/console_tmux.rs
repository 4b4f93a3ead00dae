//! The console end to end, in a real terminal: tmux runs the `groupdeck`
//! binary against a server started in this test, the test types keys with
//! `send-keys` and reads the screen with `capture-pane`. Every moderation
//! flow (approve, reject with a reason, join by ID, invite, join option,
//! quit, disband) is checked twice: on the screen and through the HTTP API.
//! Leaving the console must give the terminal back as it was.
//!
//! Needs `tmux` on PATH (`scripts/test.sh` installs it). Every wait polls
//! with a deadline; nothing is asserted on timing.

mod common;

use common::{TestServer, gp};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The console's user.
const MOD: &str = "mod";
/// Owner of the groups the console user does not own.
const OTHER: &str = "owner2";
const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// How long any one expected change may take to show.
const WAIT: Duration = Duration::from_secs(10);
/// The first screen also waits for the binary to start.
const FIRST_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
/// The line the wrapper script prints once the console has exited.
const EXITED: &str = "[console exited:";

// ---- waiting ----

/// Polls `probe` until it answers `Ok`, for at most `limit`; on timeout
/// fails with the last `Err` (a screen dump or a server reply).
async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("gave up after {limit:?} waiting for {what}; last seen:\n{last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

// ---- the screen ----

/// One character cell as tmux reports it, with the one attribute the
/// console uses to mark the selection in the focused pane and in popups.
#[derive(Clone, Copy)]
struct Cell {
    ch: char,
    reverse: bool,
}

/// Applies one SGR sequence's parameters (`1;7`, `0`, `38;5;6`...) to the
/// reverse-video flag.
fn apply_sgr(params: &str, reverse: &mut bool) {
    let parts: Vec<&str> = params
        .split(';')
        .map(|p| p.split(':').next().unwrap_or(""))
        .collect();
    let mut i = 0;
    while i < parts.len() {
        match parts[i] {
            "" | "0" => *reverse = false,
            "7" => *reverse = true,
            "27" => *reverse = false,
            // Extended colours carry their own numbers: skip them.
            "38" | "48" | "58" => match parts.get(i + 1).copied() {
                Some("5") => i += 2,
                Some("2") => i += 4,
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
}

/// The screen from `capture-pane -p -e`: characters with their reverse flag.
struct Screen {
    lines: Vec<Vec<Cell>>,
}

impl Screen {
    fn parse(raw: &str) -> Screen {
        let mut lines = Vec::new();
        let mut reverse = false;
        for line in raw.strip_suffix('\n').unwrap_or(raw).split('\n') {
            let mut cells = Vec::new();
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\x1b' {
                    cells.push(Cell { ch: c, reverse });
                    continue;
                }
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut last = None;
                for d in chars.by_ref() {
                    if ('\x20'..='\x3f').contains(&d) {
                        params.push(d);
                    } else {
                        last = Some(d);
                        break;
                    }
                }
                if last == Some('m') {
                    apply_sgr(&params, &mut reverse);
                }
            }
            lines.push(cells);
        }
        Screen { lines }
    }

    fn line(&self, i: usize) -> String {
        self.lines
            .get(i)
            .map(|l| l.iter().map(|c| c.ch).collect::<String>())
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        (0..self.lines.len())
            .map(|i| self.line(i).trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The message line (results and errors), just above the status bar.
    fn message(&self) -> String {
        self.line(usize::from(HEIGHT) - 2).trim().to_string()
    }

    /// The status bar, the last line.
    fn status(&self) -> String {
        self.line(usize::from(HEIGHT) - 1)
    }

    /// Whether a popup (a box with rounded corners) is open.
    fn popup(&self) -> bool {
        self.text().contains('╭')
    }

    /// Every run of reverse-video text on the screen, trimmed.
    fn reversed(&self) -> Vec<String> {
        let mut runs = Vec::new();
        for line in &self.lines {
            let mut run = String::new();
            for c in line {
                if c.reverse {
                    run.push(c.ch);
                } else if !run.is_empty() {
                    runs.push(std::mem::take(&mut run).trim().to_string());
                }
            }
            if !run.is_empty() {
                runs.push(run.trim().to_string());
            }
        }
        runs
    }

    /// The pane whose title holds `title` ("Groups (", "Requests ("...).
    fn pane(&self, title: &str) -> Option<PaneView> {
        let corners = ['┌', '┏'];
        for (t, cells) in self.lines.iter().enumerate() {
            let chars: Vec<char> = cells.iter().map(|c| c.ch).collect();
            let text: String = chars.iter().collect();
            let Some(byte) = text.find(title) else {
                continue;
            };
            let at = text[..byte].chars().count();
            let left = chars[..at].iter().rposition(|c| corners.contains(c))?;
            let right = at + chars[at..].iter().position(|c| matches!(c, '┐' | '┓'))?;
            let mut rows = Vec::new();
            for line in &self.lines[t + 1..] {
                match line.get(left).map(|c| c.ch) {
                    Some('└' | '┗') | None => break,
                    _ => rows.push(line[left + 1..right.min(line.len())].to_vec()),
                }
            }
            return Some(PaneView {
                title: text,
                focused: chars[left] == '┏',
                rows,
            });
        }
        None
    }

    fn must_pane(&self, title: &str) -> Result<PaneView, String> {
        self.pane(title)
            .ok_or_else(|| format!("no pane titled {title:?} on the screen:\n{}", self.text()))
    }
}

/// One pane's inside: the header row, then the list rows.
struct PaneView {
    /// The whole title line (filter notes show there).
    title: String,
    focused: bool,
    rows: Vec<Vec<Cell>>,
}

impl PaneView {
    /// The list rows' text (the header left out), blank rows dropped.
    fn items(&self) -> Vec<String> {
        self.rows
            .iter()
            .skip(1)
            .map(|r| {
                r.iter()
                    .map(|c| c.ch)
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .filter(|r| !r.is_empty())
            .collect()
    }

    fn has(&self, needle: &str) -> bool {
        self.items().iter().any(|r| r.contains(needle))
    }

    /// The index in `items()` of the row drawn in reverse video (the cursor).
    fn cursor(&self) -> Option<usize> {
        self.rows
            .iter()
            .skip(1)
            .filter(|r| r.iter().any(|c| c.ch != ' '))
            .position(|r| r.iter().filter(|c| c.reverse).count() >= 3)
    }
}

// ---- tmux ----

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A private tmux server running the console; killed when dropped, also
/// when the test fails.
struct Console {
    socket: String,
    /// The socket file, removed at the end (tmux leaves it behind).
    socket_path: Option<std::path::PathBuf>,
    dir: tempfile::TempDir,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .env_remove("TMUX")
            .output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
        if std::thread::panicking() {
            let log = self.dir.path().join("data/logs/console.log");
            if let Ok(text) = std::fs::read_to_string(&log)
                && !text.trim().is_empty()
            {
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!(
                    "--- the console's log (last lines) ---\n{}",
                    tail.join("\n")
                );
            }
        }
    }
}

impl Console {
    /// Starts `groupdeck --server base --user user --usersig sig` in a
    /// 120×40 tmux pane. A wrapper script runs it, then reports its exit
    /// status and whether the tty was left in raw mode, then waits for a
    /// line so the terminal's state can be inspected.
    fn start(base: &str, user: &str, sig: &str) -> Console {
        match Command::new("tmux").arg("-V").output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "`tmux -V` failed ({}): this test drives the console in tmux; install tmux (scripts/test.sh does: apt-get install -y tmux)",
                o.status
            ),
            Err(e) => panic!(
                "tmux is not available ({e}): this test drives the console in tmux; install tmux (scripts/test.sh does: apt-get install -y tmux)"
            ),
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::create_dir_all(&config).expect("config dir");
        let script = dir.path().join("run-console.sh");
        let q = |p: &Path| shell_quote(&p.display().to_string());
        let text = format!(
            "#!/bin/sh\n\
             export TERM=xterm-256color GROUPDECK_DATA_DIR={data} GROUPDECK_CONFIG_DIR={config}\n\
             {bin} --server {base} --user {user} --usersig {sig}\n\
             status=$?\n\
             if stty -a | grep -Eq '(^|[ ;])-(icanon|echo)([ ;]|$)'; then tty=raw; else tty=restored; fi\n\
             printf '\\n{EXITED} status %s, tty %s]\\n' \"$status\" \"$tty\"\n\
             read -r _\n\
             exit \"$status\"\n",
            data = q(&data),
            config = q(&config),
            bin = shell_quote(env!("CARGO_BIN_EXE_groupdeck")),
            base = shell_quote(base),
            user = shell_quote(user),
            sig = shell_quote(sig),
        );
        std::fs::write(&script, text).expect("write the script");
        let conf = dir.path().join("tmux.conf");
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g status off\nset -g default-terminal xterm-256color\n",
        )
        .expect("write tmux.conf");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut console = Console {
            socket: format!("groupdeck-test-{}-{nanos}", std::process::id()),
            socket_path: None,
            dir,
        };
        let command = format!("sh {}", q(&script));
        let (w, h) = (WIDTH.to_string(), HEIGHT.to_string());
        let out = Command::new("tmux")
            .args(["-L", &console.socket, "-f"])
            .arg(&conf)
            .args(["new", "-d", "-s", "console", "-x", &w, "-y", &h])
            .arg(&command)
            .env_remove("TMUX")
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "starting tmux failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = console.format("#{socket_path}");
        console.socket_path = Some(path.into());
        console
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Named keys: `a`, `Enter`, `Down`, `BSpace`...
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "console"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "console", "-l", "--", text]);
    }

    fn screen(&self) -> Screen {
        Screen::parse(&self.tmux(&["capture-pane", "-p", "-e", "-t", "console"]))
    }

    /// A tmux format about the pane (`#{pane_dead}`...).
    fn format(&self, f: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "console", f])
            .trim()
            .to_string()
    }

    /// Waits until `check` accepts the screen; `check` says what is wrong.
    async fn until(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&Screen) -> Result<(), String>,
    ) -> Screen {
        eventually(what, limit, async || {
            let s = self.screen();
            match check(&s) {
                Ok(()) => Ok(s),
                Err(why) => Err(format!("{why}\n{}", s.text())),
            }
        })
        .await
    }
}

// ---- the server ----

async fn members(ts: &TestServer, as_user: &str, gid: &str) -> Result<Vec<String>, String> {
    let (status, body) = ts
        .get(as_user, &format!("{}/members?limit=100", gp(gid)))
        .await;
    if status != 200 {
        return Err(format!("members of {gid}: {status} {body}"));
    }
    Ok(body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["user_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

async fn joined(ts: &TestServer, user: &str) -> Vec<String> {
    let (status, body) = ts.get(user, "/api/v1/groups?limit=100").await;
    assert_eq!(status, 200, "joined groups of {user}: {body}");
    body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| g["group_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `user` is (or is no longer) a member of `gid`.
async fn until_member(ts: &TestServer, as_user: &str, gid: &str, user: &str, wanted: bool) {
    let what = format!(
        "{user} {} a member of {gid} on the server",
        if wanted { "to be" } else { "to be no longer" }
    );
    eventually(&what, WAIT, async || {
        let m = members(ts, as_user, gid).await?;
        if m.iter().any(|u| u == user) == wanted {
            Ok(())
        } else {
            Err(format!("members: {m:?}"))
        }
    })
    .await
}

// ---- moves in the console ----

/// Drives the console: focus, filters and selections, each confirmed on
/// the screen before the next key.
struct Driver<'a> {
    con: &'a Console,
    /// The Groups filter as last set.
    filter: String,
}

impl Driver<'_> {
    /// Focuses a pane with its number key and waits until it is focused.
    async fn focus(&self, key: &str, title: &str) -> Screen {
        self.con.keys(&[key]);
        self.con
            .until(
                &format!("the {title} pane to take focus"),
                WAIT,
                |s| match s.must_pane(title)?.focused {
                    true if !s.popup() => Ok(()),
                    _ => Err(format!("{title} is not focused")),
                },
            )
            .await
    }

    /// Moves the cursor of the focused pane onto the row holding `needle`,
    /// counting rows on the screen, and waits until it is drawn there.
    async fn select_row(&self, title: &str, needle: &str) {
        let s = self.con.screen();
        let pane = s.must_pane(title).unwrap_or_else(|e| panic!("{e}"));
        let items = pane.items();
        let target = items
            .iter()
            .position(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no row with {needle:?} in {title}:\n{}", s.text()));
        let at = pane
            .cursor()
            .unwrap_or_else(|| panic!("no selected row in {title}:\n{}", s.text()));
        let (key, n) = if target >= at {
            ("j", target - at)
        } else {
            ("k", at - target)
        };
        if n > 0 {
            self.con.keys(&vec![key; n]);
        }
        self.con
            .until(&format!("{needle:?} selected in {title}"), WAIT, |s| {
                let p = s.must_pane(title)?;
                let items = p.items();
                match p.cursor().and_then(|c| items.get(c)) {
                    Some(row) if row.contains(needle) => Ok(()),
                    other => Err(format!("selected row: {other:?}")),
                }
            })
            .await;
    }

    /// Sets the Groups filter with `/`, erasing the old text with
    /// Backspace (no Esc: an Esc followed at once by another key reads as
    /// Alt-key in a terminal).
    async fn set_filter(&mut self, text: &str) {
        self.focus("1", "Groups (").await;
        self.con.keys(&["/"]);
        let old = self.filter.clone();
        self.con
            .until("the filter line to open", WAIT, |s| {
                if s.message().starts_with(&format!("/{old}")) {
                    Ok(())
                } else {
                    Err(format!("message line: {:?}", s.message()))
                }
            })
            .await;
        let erase = vec!["BSpace"; old.chars().count()];
        if !erase.is_empty() {
            self.con.keys(&erase);
        }
        if !text.is_empty() {
            self.con.type_text(text);
        }
        self.con.keys(&["Enter"]);
        let note = format!("/{text} ");
        self.con
            .until(&format!("the Groups filter {text:?}"), WAIT, |s| {
                let p = s.must_pane("Groups (")?;
                let shown = if text.is_empty() {
                    !p.title.contains(" /")
                } else {
                    p.title.contains(&note)
                };
                if shown && !s.message().starts_with('/') {
                    Ok(())
                } else {
                    Err(format!("Groups title: {:?}", p.title))
                }
            })
            .await;
        self.filter = text.to_string();
    }

    /// Selects the group named `name` in the Groups pane through the filter.
    async fn select_group(&mut self, filter: &str, name: &str) {
        self.set_filter(filter).await;
        self.select_row("Groups (", name).await;
    }

    /// Waits for a popup whose text holds `needle` (any case).
    async fn popup(&self, needle: &str) -> Screen {
        let lower = needle.to_lowercase();
        self.con
            .until(&format!("a popup about {needle:?}"), WAIT, |s| {
                if s.popup() && s.text().to_lowercase().contains(&lower) {
                    Ok(())
                } else {
                    Err("no such popup".into())
                }
            })
            .await
    }

    /// Waits for the popup to close and the message line to hold `needle`;
    /// `also` checks the rest of the screen.
    async fn result(
        &self,
        what: &str,
        needle: &str,
        also: impl Fn(&Screen) -> Result<(), String>,
    ) -> Screen {
        self.con
            .until(what, WAIT, |s| {
                if s.popup() {
                    return Err("a popup is still open".into());
                }
                if !s.message().contains(needle) {
                    return Err(format!("message line {:?} lacks {needle:?}", s.message()));
                }
                also(s)
            })
            .await
    }
}

/// The highlighted choice of the join-option picker.
fn picked_option(s: &Screen) -> Option<String> {
    s.reversed()
        .into_iter()
        .find(|r| ["Any", "Auth", "Forbid"].contains(&r.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_moderates_a_real_server_in_tmux() {
    let ts = TestServer::start().await;
    ts.register(&[MOD, OTHER, "u1", "u2", "u3"]).await;

    // The world: what the console user owns, belongs to, and may join.
    let lounge = ts
        .create(
            MOD,
            json!({"name": "Moderated Lounge", "type": "Public", "add_option": "Auth"}),
        )
        .await;
    let doomed = ts
        .create(MOD, json!({"name": "Doomed Den", "type": "Public"}))
        .await;
    let crew = ts
        .create(MOD, json!({"name": "Crew Room", "type": "Work"}))
        .await;
    let exit_hall = ts
        .create(
            OTHER,
            json!({"name": "Exit Hall", "type": "Work", "members": [{"user_id": MOD}]}),
        )
        .await;
    let plaza = ts
        .create(
            OTHER,
            json!({"name": "Open Plaza", "type": "Public", "add_option": "Any"}),
        )
        .await;
    for (user, message) in [("u1", "hello from u1"), ("u2", "let me in, u2 here")] {
        let (status, body) = ts
            .post(
                user,
                &format!("{}/join", gp(&lounge)),
                json!({ "message": message }),
            )
            .await;
        assert_eq!(status, 200, "{user} asks to join: {body}");
        assert_eq!(body["status"], "pending", "{user} asks to join: {body}");
    }

    let started = Instant::now();
    let con = Console::start(&ts.base, MOD, &ts.sig(MOD));
    let mut d = Driver {
        con: &con,
        filter: String::new(),
    };
    assert_eq!(
        con.format("#{pane_width}x#{pane_height}"),
        format!("{WIDTH}x{HEIGHT}")
    );

    // The first screen: my groups, the two requests, connected.
    con.until("the first screen", FIRST_WAIT, |s| {
        let groups = s.must_pane("Groups (")?;
        for name in ["Moderated Lounge", "Doomed Den", "Crew Room", "Exit Hall"] {
            if !groups.has(name) {
                return Err(format!("Groups lacks {name}"));
            }
        }
        if groups.has("Open Plaza") {
            return Err("Groups shows a group I am not in".into());
        }
        let requests = s.must_pane("Requests (")?;
        if !(requests.has("u1") && requests.has("u2")) {
            return Err("Requests lacks u1 or u2".into());
        }
        let status = s.status();
        if !status.contains("connected") || status.contains("reconnecting") {
            return Err(format!("status bar: {status:?}"));
        }
        Ok(())
    })
    .await;
    assert_eq!(
        con.format("#{alternate_on}"),
        "1",
        "the console draws on the alternate screen"
    );
    let modes_while_running = con.format(
        "alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}",
    );

    // Approve u1's request: focus Requests, select it, `a`.
    d.focus("3", "Requests (").await;
    d.select_row("Requests (", "u1").await;
    con.keys(&["a"]);
    d.result("the approval", "approved", |s| {
        match s.must_pane("Requests (")?.has("u1") {
            true => Err("u1's request is still listed".into()),
            false => Ok(()),
        }
    })
    .await;
    until_member(&ts, MOD, &lounge, "u1", true).await;

    // Reject u2's with a reason: `r`, type it, Enter.
    d.select_row("Requests (", "u2").await;
    con.keys(&["r"]);
    d.popup("reason").await;
    con.type_text("not this time");
    con.keys(&["Enter"]);
    d.result("the rejection", "rejected", |s| {
        match s.must_pane("Requests (")?.has("u2") {
            true => Err("u2's request is still listed".into()),
            false => Ok(()),
        }
    })
    .await;
    let refused = eventually("u2's request refused on the server", WAIT, async || {
        let (status, body) = ts.get(MOD, "/api/v1/pendency?status=refused").await;
        let hit = body["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|r| r["applicant"] == "u2" && r["group_id"] == lounge.as_str())
                .cloned()
        });
        hit.ok_or(format!("{status} {body}"))
    })
    .await;
    assert_eq!(refused["status"], "refused", "{refused}");
    assert_eq!(refused["reason"], "not this time", "{refused}");
    assert_eq!(refused["handled_by"], MOD, "{refused}");
    assert!(
        !members(&ts, MOD, &lounge)
            .await
            .unwrap()
            .contains(&"u2".into()),
        "a refused applicant is not a member"
    );

    // Join the open group by ID: `J`, the ID, Enter.
    con.keys(&["J"]);
    d.popup("join").await;
    con.type_text(&plaza);
    con.keys(&["Enter"]);
    d.result("the join", "joined", |s| {
        match s.must_pane("Groups (")?.has("Open Plaza") {
            true => Ok(()),
            false => Err("Groups lacks Open Plaza".into()),
        }
    })
    .await;
    until_member(&ts, OTHER, &plaza, MOD, true).await;
    let (status, info) = ts.get(MOD, &gp(&plaza)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["my_role"], "Member", "{info}");

    // Invite u3 to the Work group: select it, `i`, the ID, Enter.
    d.select_group("crew", "Crew Room").await;
    con.keys(&["i"]);
    d.popup("invite").await;
    con.type_text("u3");
    con.keys(&["Enter"]);
    d.result("the invitation", "u3", |_| Ok(())).await;
    until_member(&ts, MOD, &crew, "u3", true).await;

    // The Lounge's join option from Auth to Forbid: `o`, Up/Down, Enter.
    d.select_group("lounge", "Moderated Lounge").await;
    con.keys(&["o"]);
    let s = d.popup("Forbid").await;
    let mut picked = picked_option(&s);
    for _ in 0..3 {
        if picked.as_deref() == Some("Forbid") {
            break;
        }
        let before = picked.clone();
        con.keys(&["Down"]);
        let s = con
            .until("the picker to move down", WAIT, |s| {
                match picked_option(s) {
                    Some(p) if Some(&p) != before.as_ref() => Ok(()),
                    p => Err(format!("picked {p:?}")),
                }
            })
            .await;
        picked = picked_option(&s);
    }
    assert_eq!(
        picked.as_deref(),
        Some("Forbid"),
        "the picker offers Forbid"
    );
    con.keys(&["Up"]);
    con.until("the picker to move up", WAIT, |s| match picked_option(s) {
        Some(p) if p != "Forbid" => Ok(()),
        p => Err(format!("picked {p:?}")),
    })
    .await;
    con.keys(&["Down"]);
    con.until(
        "the picker back on Forbid",
        WAIT,
        |s| match picked_option(s).as_deref() {
            Some("Forbid") => Ok(()),
            p => Err(format!("picked {p:?}")),
        },
    )
    .await;
    con.keys(&["Enter"]);
    d.result("the join option change", "Forbid", |_| Ok(()))
        .await;
    eventually("the Lounge's join option Forbid", WAIT, async || {
        let (status, info) = ts.get(MOD, &gp(&lounge)).await;
        match info["add_option"].as_str() {
            Some("Forbid") => Ok(()),
            _ => Err(format!("{status} {info}")),
        }
    })
    .await;

    // Quit the group owned by someone else: `L`, then `y`.
    d.select_group("exit", "Exit Hall").await;
    con.keys(&["L"]);
    d.popup("Exit Hall").await;
    con.keys(&["y"]);
    d.result("the quit", "left", |s| {
        match s.must_pane("Groups (")?.has("Exit Hall") {
            true => Err("Groups still lists Exit Hall".into()),
            false => Ok(()),
        }
    })
    .await;
    until_member(&ts, OTHER, &exit_hall, MOD, false).await;
    assert!(
        !joined(&ts, MOD).await.contains(&exit_hall),
        "Exit Hall is no longer among my groups"
    );

    // Disband my other group: `D`, type its ID, Enter.
    d.select_group("doomed", "Doomed Den").await;
    con.keys(&["D"]);
    d.popup("Doomed Den").await;
    con.type_text(&doomed);
    con.keys(&["Enter"]);
    d.result("the disband", "disbanded", |s| {
        match s.must_pane("Groups (")?.has("Doomed Den") {
            true => Err("Groups still lists Doomed Den".into()),
            false => Ok(()),
        }
    })
    .await;
    eventually("Doomed Den gone on the server", WAIT, async || {
        let (status, body) = ts.get(MOD, &gp(&doomed)).await;
        match status {
            404 => Ok(()),
            _ => Err(format!("{status} {body}")),
        }
    })
    .await;

    // With the filter cleared, the Groups pane lists what the server says.
    d.set_filter("").await;
    let mut expected = vec![lounge.clone(), crew.clone(), plaza.clone()];
    let mut got = joined(&ts, MOD).await;
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "my groups on the server");
    con.until("the final Groups pane", WAIT, |s| {
        let p = s.must_pane("Groups (")?;
        let items = p.items();
        for name in ["Moderated Lounge", "Crew Room", "Open Plaza"] {
            if !p.has(name) {
                return Err(format!("Groups lacks {name}"));
            }
        }
        for name in ["Exit Hall", "Doomed Den"] {
            if p.has(name) {
                return Err(format!("Groups still lists {name}"));
            }
        }
        match items.len() {
            3 => Ok(()),
            n => Err(format!("{n} rows in Groups: {items:?}")),
        }
    })
    .await;

    // `q` leaves; the terminal is given back as it was.
    con.keys(&["q"]);
    let s = con
        .until("the console to exit", WAIT, |s| {
            match s.text().contains(EXITED) {
                true => Ok(()),
                false => Err("still running".into()),
            }
        })
        .await;
    let text = s.text();
    let report = text
        .lines()
        .find(|l| l.contains(EXITED))
        .unwrap_or_default()
        .to_string();
    assert!(
        report.contains("status 0,"),
        "the console exits with status 0: {report}\n{text}"
    );
    assert!(
        report.contains("tty restored"),
        "the console leaves the tty out of raw mode: {report}"
    );
    assert!(
        !text.contains("Groups (") && !text.contains("Requests ("),
        "the console's panes are gone from the terminal:\n{text}"
    );
    let modes = con.format(
        "alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}",
    );
    assert_eq!(
        modes, "alt=0 cursor=1 mouse=000",
        "terminal modes after the console (while it ran: {modes_while_running})"
    );
    con.keys(&["Enter"]);
    eventually("the pane to end", WAIT, async || {
        // The status may not be recorded yet when the pane is first seen dead;
        // the wrapper's own exit status was already checked above.
        match con.format("#{pane_dead} #{pane_dead_status}").trim() {
            "1 0" | "1" => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    eprintln!(
        "the console flows took {:.1?} from start to exit (modes while running: {modes_while_running})",
        started.elapsed()
    );
}
