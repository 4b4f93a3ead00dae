//! The embedded SQLite store: WAL, `synchronous=FULL` by default, one writer
//! thread doing group commit (a batch of commands in one transaction, one
//! fsync per batch, the WAL written a commit at a time by [`walvfs`],
//! replies and event publication only after the commit), and a small pool of
//! reader connections for queries.

use super::rows::{self, to_i64};
use super::walvfs;
use super::{GroupRow, MemberRow, NewEvent, RequestRow, StoreResult, Tx};
use crate::model::{Audience, GroupError, Limits, Published, Role};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};

/// Versioned migrations, applied in order at start-up (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_app_defined_data.sql"),
    include_str!("../../migrations/0003_request_index.sql"),
    include_str!("../../migrations/0004_group_seq.sql"),
    include_str!("../../migrations/0005_approvers_index.sql"),
    include_str!("../../migrations/0006_append_only_log.sql"),
    include_str!("../../migrations/0007_append_only_history.sql"),
    include_str!("../../migrations/0008_pending_requests_index.sql"),
];

/// Events pruned from the log per writer pass, at most.
const PRUNE_CHUNK: u64 = 2_000;

/// Commands taken into one transaction at most.
const MAX_BATCH: usize = 1024;

/// Commits between two background checkpoint passes.
const CHECKPOINT_EVERY_COMMITS: u64 = 64;

/// WAL frames (pages) beyond which the writer lets the checkpointer catch up
/// completely before it writes again. The WAL only restarts from its
/// beginning when a write starts with every frame checkpointed, which under
/// constant load otherwise never happens; this keeps the file bounded
/// (about 64 MiB with 4 KiB pages).
const WAL_HARD_LIMIT_FRAMES: u64 = 16_000;

/// The longest the writer waits for that catch-up (normally a few
/// milliseconds: the last commits' pages). A reader holding an old snapshot
/// can hold a pass back; the writer then goes on and asks again once a later
/// pass still finds the WAL over its limit.
const CATCH_UP_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub path: PathBuf,
    /// `synchronous=FULL` (default) or `NORMAL`.
    pub synchronous_full: bool,
    pub readers: usize,
    /// How many of the newest events are kept for resuming streams.
    pub event_retention: u64,
    pub limits: Limits,
}

impl SqliteConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            synchronous_full: true,
            readers: 4,
            event_retention: 1_000_000,
            limits: Limits::default(),
        }
    }
}

/// A batch of events committed together, in id order.
pub type EventBatch = Arc<Vec<Published>>;

/// One queued command. The writer may run it more than once (see
/// [`Writer::commit_batch`]): only the last run counts.
trait Command: Send {
    /// Runs the command in the batch's transaction; returns whether it succeeded.
    fn run(&mut self, tx: &mut SqliteTx<'_>) -> bool;
    /// Replies to the caller: the last run's result once `commit` is `Ok`.
    fn finish(self: Box<Self>, commit: Result<(), GroupError>);
}

type Job = Box<dyn Command>;

struct Queued<T, F> {
    f: F,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Command for Queued<T, F>
where
    T: Send,
    F: Fn(&mut dyn Tx) -> StoreResult<T> + Send,
{
    fn run(&mut self, tx: &mut SqliteTx<'_>) -> bool {
        self.result = None;
        let result = (self.f)(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), GroupError>) {
        let answer = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            // Only a command that panicked has no result.
            (Ok(()), None) => Err(GroupError::Internal("the command failed".into())),
        };
        let _ = self.reply.send(answer);
    }
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
    hub: broadcast::Sender<EventBatch>,
    limits: Limits,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn storage_error(e: rusqlite::Error) -> GroupError {
    GroupError::Internal(e.to_string())
}

fn open_connection(path: &Path, synchronous_full: bool) -> rusqlite::Result<Connection> {
    configure(
        Connection::open_with_flags(path, open_flags())?,
        synchronous_full,
    )
}

fn open_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The writer's connection. With `synchronous=FULL` it appends to the WAL
/// a commit at a time (see [`walvfs`]).
fn open_writer(path: &Path, synchronous_full: bool) -> anyhow::Result<Connection> {
    if !synchronous_full {
        return Ok(open_connection(path, false)?);
    }
    walvfs::register().map_err(anyhow::Error::msg)?;
    let conn = Connection::open_with_flags_and_vfs(path, open_flags(), walvfs::NAME)?;
    Ok(configure(conn, true)?)
}

fn configure(conn: Connection, synchronous_full: bool) -> rusqlite::Result<Connection> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Savepoint journals and sorts stay in memory; a larger page cache.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Runs a statement without parameters or rows through the statement cache
/// (the writer's transaction and savepoint control, many times a second).
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let start = usize::try_from(version).unwrap_or(usize::MAX);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database and starts the writer thread.
    pub fn open(config: SqliteConfig) -> anyhow::Result<Arc<SqliteStore>> {
        if let Some(dir) = config.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut writer = open_writer(&config.path, config.synchronous_full)?;
        migrate(&mut writer)?;
        let (head, pruned) = rows::log_bounds(&writer)?;
        // Checkpoints run on their own thread and connection, so a commit
        // never waits for one (see `Checkpointer`).
        let checkpoint_conn = open_connection(&config.path, config.synchronous_full)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoints = Arc::new(CheckpointShared::default());
        let checkpointer = {
            let shared = checkpoints.clone();
            std::thread::Builder::new()
                .name("groupdeck-checkpoint".into())
                .spawn(move || Checkpointer::run(checkpoint_conn, &shared))?
        };
        let readers = (0..config.readers.max(1))
            .map(|_| open_connection(&config.path, config.synchronous_full))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (jobs, rx) = mpsc::channel(4096);
        let (hub, _) = broadcast::channel(1024);
        let writer_state = Writer {
            conn: writer,
            next_event_id: head + 1,
            pruned_through: pruned,
            limits: config.limits.clone(),
            hub: hub.clone(),
            retention: config.event_retention.max(1),
            checkpoints,
            checkpointer: Some(checkpointer),
        };
        let handle = std::thread::Builder::new()
            .name("groupdeck-writer".into())
            .spawn(move || writer_state.run(rx))?;
        Ok(Arc::new(SqliteStore {
            jobs,
            reader_slots: Arc::new(Semaphore::new(readers.len())),
            readers: Arc::new(Mutex::new(readers)),
            hub,
            limits: config.limits,
            writer: Mutex::new(Some(handle)),
        }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Receives every committed batch of events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventBatch> {
        self.hub.subscribe()
    }

    /// Runs one command in the writer's next batch; resolves after the batch
    /// is durable. The command should make every check before its first
    /// write: one that fails after writing makes the writer redo its batch
    /// the careful way (still correct, but slower).
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut dyn Tx) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(Queued {
            f,
            result: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| GroupError::Internal("the store is shut down".into()))?;
        answer
            .await
            .map_err(|_| GroupError::Internal("the writer stopped".into()))?
    }

    /// Runs a read on one of the reader connections, inside one snapshot.
    /// The blocking task itself returns the connection to the pool, so a
    /// caller that gives up waiting (a timeout, a client gone) loses nothing.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GroupError::Internal("the store is shut down".into()))?;
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool
                .lock()
                .map_err(|_| GroupError::Internal("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| GroupError::Internal("no reader connection free".into()))?;
            let result = (|| {
                let tx = conn.unchecked_transaction()?;
                let out = f(&tx)?;
                tx.finish()?;
                Ok(out)
            })();
            if let Ok(mut pool) = pool.lock() {
                pool.push(conn);
            }
            result.map_err(storage_error)
        })
        .await
        .map_err(|e| GroupError::Internal(format!("read task failed: {e}")))?
    }
}

impl Drop for SqliteStore {
    /// Lets the writer finish the commands already queued, then waits for it,
    /// so a store opened again on the same file sees everything.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(handle) = self.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

/// What the writer and the checkpointer share.
#[derive(Default)]
struct CheckpointShared {
    state: Mutex<CheckpointState>,
    changed: Condvar,
}

#[derive(Default)]
struct CheckpointState {
    /// Transactions the writer committed.
    commits: u64,
    /// Commits fully copied into the database file by a completed pass.
    covered: u64,
    /// The commit count at which the next pass is due.
    due: u64,
    /// The WAL's length in frames as the last pass saw it.
    wal_frames: u64,
    /// The writer wants a pass now (the WAL is over its limit).
    urgent: bool,
    stop: bool,
}

impl CheckpointShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, CheckpointState> {
        // The state stays consistent even if a holder panicked: plain counters.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Copies committed WAL frames into the database file (PASSIVE checkpoints:
/// never blocking the writer or the readers) on its own connection.
struct Checkpointer;

impl Checkpointer {
    fn run(conn: Connection, shared: &CheckpointShared) {
        loop {
            let target = {
                let mut st = shared.lock();
                st.due = st.commits + CHECKPOINT_EVERY_COMMITS;
                while !st.stop && !st.urgent && st.commits < st.due {
                    st = shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.stop {
                    return;
                }
                st.urgent = false;
                st.commits
            };
            let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            });
            let mut st = shared.lock();
            match pass {
                Ok((busy, log, done)) => {
                    st.wal_frames = u64::try_from(log).unwrap_or(0);
                    if busy == 0 && log == done {
                        st.covered = st.covered.max(target);
                    }
                }
                Err(e) => tracing::warn!("checkpoint failed: {e}"),
            }
            drop(st);
            shared.changed.notify_all();
        }
    }
}

/// How a pass over a batch ended.
enum PassEnd {
    /// Every command ran; the transaction is open with their changes.
    Ran,
    /// A command failed after writing: roll back and run the batch carefully.
    Redo,
    /// The transaction is lost; nothing of the batch may be acknowledged.
    Lost(GroupError),
}

struct Pass {
    end: PassEnd,
    /// The events of the commands that succeeded, in id order.
    events: Vec<Published>,
    next_event_id: u64,
}

struct Writer {
    conn: Connection,
    next_event_id: u64,
    /// Events up to this id were pruned (only the writer prunes).
    pruned_through: u64,
    limits: Limits,
    hub: broadcast::Sender<EventBatch>,
    retention: u64,
    checkpoints: Arc<CheckpointShared>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.bound_wal();
            self.commit_batch(&mut batch);
            self.maybe_prune();
        }
        self.checkpoints.lock().stop = true;
        self.checkpoints.changed.notify_all();
        if let Some(handle) = self.checkpointer.take() {
            let _ = handle.join();
        }
    }

    /// Counts a commit for the checkpointer.
    fn committed(&self) {
        let mut st = self.checkpoints.lock();
        st.commits += 1;
        let due = st.commits == st.due;
        drop(st);
        if due {
            self.checkpoints.changed.notify_all();
        }
    }

    /// When the WAL has grown past its limit, waits until every commit is
    /// checkpointed, so that this batch's write restarts the WAL from its
    /// beginning.
    fn bound_wal(&self) {
        let shared = &*self.checkpoints;
        let mut st = shared.lock();
        if st.wal_frames < WAL_HARD_LIMIT_FRAMES {
            return;
        }
        let commits = st.commits;
        st.urgent = true;
        shared.changed.notify_all();
        let deadline = std::time::Instant::now() + CATCH_UP_WAIT;
        while st.covered < commits && !st.stop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                tracing::warn!("the checkpointer is behind; the WAL keeps growing for now");
                break;
            }
            st = shared
                .changed
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        // Normally the next write starts the WAL over. Either way the next
        // pass reports its real length.
        st.wal_frames = 0;
    }

    /// Runs a batch of commands in one transaction and commits it, then
    /// replies to each and publishes the batch's events.
    ///
    /// Commands check before they write, so a failing command normally
    /// leaves nothing to undo, and the batch runs without a savepoint per
    /// command (the savepoint's copies of every page a command touches are
    /// a large share of the writer's work). When a command does fail after
    /// writing, the whole transaction is rolled back and the batch runs
    /// again with a savepoint around each command, so that command fails
    /// alone. Nothing was acknowledged or published before, and the redo
    /// sees the same state and the same clock.
    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let start_id = self.next_event_id;
        let now = now_ms();
        let mut panicked = vec![false; batch.len()];
        let mut pass = self.run_pass(batch, &mut panicked, false, start_id, now);
        if matches!(pass.end, PassEnd::Redo) {
            match exec_cached(&self.conn, "ROLLBACK") {
                Ok(()) => pass = self.run_pass(batch, &mut panicked, true, start_id, now),
                Err(e) => {
                    tracing::error!("cannot roll the batch back: {e}");
                    pass.end = PassEnd::Lost(storage_error(e));
                }
            }
        }
        let committed = match pass.end {
            PassEnd::Ran => exec_cached(&self.conn, "COMMIT").map_err(storage_error),
            PassEnd::Lost(e) => Err(e),
            PassEnd::Redo => Err(GroupError::Internal("the batch could not be redone".into())),
        };
        match committed {
            Ok(()) => {
                self.committed();
                self.next_event_id = pass.next_event_id;
                if !pass.events.is_empty() {
                    // No subscriber is fine: the events are in the log.
                    let _ = self.hub.send(Arc::new(pass.events));
                }
                for job in batch.drain(..) {
                    job.finish(Ok(()));
                }
            }
            Err(err) => {
                tracing::error!("batch not committed: {err}");
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                // Continue after whatever the log really holds.
                self.next_event_id = rows::log_bounds(&self.conn)
                    .map(|(head, _)| head + 1)
                    .unwrap_or(start_id);
                for job in batch.drain(..) {
                    job.finish(Err(err.clone()));
                }
            }
        }
    }

    /// One pass over the batch in a new transaction, left open. `careful`
    /// puts each command in a savepoint; otherwise the pass stops at the
    /// first command that fails after writing.
    fn run_pass(
        &self,
        batch: &mut [Job],
        panicked: &mut [bool],
        careful: bool,
        start_id: u64,
        now: u64,
    ) -> Pass {
        let mut pass = Pass {
            end: PassEnd::Ran,
            events: Vec::new(),
            next_event_id: start_id,
        };
        if let Err(e) = exec_cached(&self.conn, "BEGIN IMMEDIATE") {
            tracing::error!("cannot begin a transaction: {e}");
            pass.end = PassEnd::Lost(storage_error(e));
            return pass;
        }
        let mut tx = SqliteTx {
            conn: &self.conn,
            now,
            next_event_id: start_id,
            events: Vec::new(),
            limits: &self.limits,
        };
        for (job, panicked) in batch.iter_mut().zip(panicked.iter_mut()) {
            if *panicked {
                continue;
            }
            let events_mark = tx.events.len();
            let id_mark = tx.next_event_id;
            let changes_mark = tx.conn.total_changes();
            if careful && let Err(e) = exec_cached(tx.conn, "SAVEPOINT cmd") {
                tracing::error!("cannot open a savepoint: {e}");
                pass.end = PassEnd::Lost(storage_error(e));
                break;
            }
            // A panicking command fails alone; it replies with an internal error.
            let ok =
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&mut tx))) {
                    Ok(ok) => ok,
                    Err(_) => {
                        tracing::error!("a command panicked; it was rolled back");
                        *panicked = true;
                        false
                    }
                };
            let closed = if careful {
                if ok {
                    exec_cached(tx.conn, "RELEASE cmd")
                } else {
                    tx.events.truncate(events_mark);
                    tx.next_event_id = id_mark;
                    exec_cached(tx.conn, "ROLLBACK TO cmd")
                        .and_then(|()| exec_cached(tx.conn, "RELEASE cmd"))
                }
            } else {
                if !ok
                    && (tx.conn.total_changes() != changes_mark
                        || tx.events.len() != events_mark
                        || tx.next_event_id != id_mark)
                {
                    pass.end = PassEnd::Redo;
                    return pass;
                }
                Ok(())
            };
            if let Err(e) = closed {
                tracing::error!("savepoint failed: {e}");
                pass.end = PassEnd::Lost(storage_error(e));
                break;
            }
            if tx.conn.is_autocommit() {
                // SQLite rolls the whole transaction back on some I/O and
                // memory errors: nothing of this batch may be acknowledged.
                tracing::error!("the transaction was rolled back by the database");
                pass.end = PassEnd::Lost(GroupError::Internal(
                    "the database rolled the batch back".into(),
                ));
                break;
            }
        }
        pass.next_event_id = tx.next_event_id;
        pass.events = std::mem::take(&mut tx.events);
        pass
    }

    /// Drops events older than the retention window (with the entitlement
    /// rows only they needed), a chunk at a time.
    fn maybe_prune(&mut self) {
        let head = self.next_event_id.saturating_sub(1);
        let pruned = self.pruned_through;
        let slack = (self.retention / 10).clamp(1, PRUNE_CHUNK);
        if head.saturating_sub(pruned) <= self.retention + slack {
            return;
        }
        // A chunk at a time, so a large backlog never stalls the writer.
        let cut = (head - self.retention).min(pruned.saturating_add(PRUNE_CHUNK));
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute("DELETE FROM events WHERE id <= ?1", [to_i64(cut)])?;
            tx.execute(
                "DELETE FROM event_recipients WHERE event_id <= ?1",
                [to_i64(cut)],
            )?;
            tx.execute(
                "DELETE FROM membership_history WHERE to_event <= ?1",
                [to_i64(cut)],
            )?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'pruned_through'",
                [to_i64(cut)],
            )?;
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.pruned_through = cut;
                self.committed();
            }
            Err(e) => tracing::warn!("pruning the event log failed: {e}"),
        }
    }
}

/// The writer's transaction as seen by one command.
pub struct SqliteTx<'a> {
    conn: &'a Connection,
    now: u64,
    next_event_id: u64,
    events: Vec<Published>,
    limits: &'a Limits,
}

impl Tx for SqliteTx<'_> {
    fn now_ms(&self) -> u64 {
        self.now
    }

    fn limits(&self) -> &Limits {
        self.limits
    }

    fn user_exists(&mut self, user: &str) -> StoreResult<bool> {
        rows::user_exists(self.conn, user).map_err(storage_error)
    }

    fn ensure_user(&mut self, user: &str, nick: &str, face_url: &str) -> StoreResult<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO users(user_id, nick, face_url, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(user_id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![user, nick, face_url, to_i64(self.now / 1000)]))
            .map_err(storage_error)?;
        Ok(n > 0)
    }

    fn user_group_count(&mut self, user: &str) -> StoreResult<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM members m JOIN groups g ON g.group_id = m.group_id \
                 WHERE m.user_id = ?1 AND g.type <> 'AVChatRoom'",
            )
            .and_then(|mut s| s.query_row([user], |r| r.get(0)))
            .map_err(storage_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn group(&mut self, group_id: &str) -> StoreResult<Option<GroupRow>> {
        rows::group(self.conn, group_id).map_err(storage_error)
    }

    fn insert_group(&mut self, g: &GroupRow) -> StoreResult<()> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE meta SET value = value + 1 WHERE key = 'group_seq' RETURNING value",
            )
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(storage_error)?;
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO groups(",
                rows::group_columns!(),
                ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    g.group_id,
                    g.group_type.as_str(),
                    g.name,
                    g.introduction,
                    g.notification,
                    g.face_url,
                    g.owner,
                    g.add_option.as_str(),
                    g.invite_option.map(|o| o.as_str()),
                    g.max_members.map(to_i64),
                    to_i64(g.member_count),
                    to_i64(g.created_at),
                    to_i64(g.info_seq),
                    to_i64(g.last_info_time),
                    g.mute_all,
                    g.activated,
                    rows::app_data_text(&g.app_data),
                    seq,
                ])
            })
            .map(|_| ())
            .map_err(storage_error)
    }

    fn update_group(&mut self, g: &GroupRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE groups SET name = ?2, introduction = ?3, notification = ?4, face_url = ?5, \
                 owner = ?6, add_option = ?7, invite_option = ?8, max_members = ?9, member_count = ?10, \
                 info_seq = ?11, last_info_time = ?12, mute_all = ?13, activated = ?14, app_data = ?15 WHERE group_id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    g.group_id,
                    g.name,
                    g.introduction,
                    g.notification,
                    g.face_url,
                    g.owner,
                    g.add_option.as_str(),
                    g.invite_option.map(|o| o.as_str()),
                    g.max_members.map(to_i64),
                    to_i64(g.member_count),
                    to_i64(g.info_seq),
                    to_i64(g.last_info_time),
                    g.mute_all,
                    g.activated,
                    rows::app_data_text(&g.app_data),
                ])
            })
            .map(|_| ())
            .map_err(storage_error)
    }

    fn delete_group(&mut self, group_id: &str) -> StoreResult<()> {
        let to = to_i64(self.next_event_id);
        let r = (|| -> rusqlite::Result<()> {
            self.conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO membership_history(user_id, group_id, from_event, to_event) \
                     SELECT user_id, group_id, from_event, ?2 FROM members WHERE group_id = ?1",
                )?
                .execute(params![group_id, to])?;
            self.conn
                .prepare_cached("DELETE FROM members WHERE group_id = ?1")?
                .execute([group_id])?;
            self.conn
                .prepare_cached("DELETE FROM groups WHERE group_id = ?1")?
                .execute([group_id])?;
            Ok(())
        })();
        r.map_err(storage_error)
    }

    fn role(&mut self, group_id: &str, user: &str) -> StoreResult<Option<Role>> {
        rows::role(self.conn, group_id, user).map_err(storage_error)
    }

    fn add_member(&mut self, group: &GroupRow, user: &str, role: Role) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO members(group_id, user_id, role, join_time, from_event) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    group.group_id,
                    user,
                    role.as_str(),
                    to_i64(self.now / 1000),
                    to_i64(self.next_event_id)
                ])
            })
            .map(|_| ())
            .map_err(storage_error)
    }

    fn remove_member(&mut self, group: &GroupRow, user: &str) -> StoreResult<()> {
        let to = to_i64(self.next_event_id);
        let r = (|| -> rusqlite::Result<()> {
            let from: Option<i64> = self
                .conn
                .prepare_cached(
                    "DELETE FROM members WHERE group_id = ?1 AND user_id = ?2 RETURNING from_event",
                )?
                .query_row(params![group.group_id, user], |r| r.get(0))
                .optional()?;
            if let Some(from) = from {
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO membership_history(user_id, group_id, from_event, to_event) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![user, group.group_id, from, to])?;
            }
            Ok(())
        })();
        r.map_err(storage_error)
    }

    fn set_role(&mut self, group_id: &str, user: &str, role: Role) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2")
            .and_then(|mut s| s.execute(params![group_id, user, role.as_str()]))
            .map(|_| ())
            .map_err(storage_error)
    }

    fn update_member_profile(&mut self, group_id: &str, m: &MemberRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE members SET name_card = ?3, mute_until = ?4, msg_flag = ?5, app_data = ?6 WHERE group_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut s| s.execute(params![group_id, m.user_id, m.name_card, to_i64(m.mute_until), m.msg_flag, rows::app_data_text(&m.app_data)]))
            .map(|_| ())
            .map_err(storage_error)
    }

    fn member(&mut self, group_id: &str, user: &str) -> StoreResult<Option<MemberRow>> {
        rows::member(self.conn, group_id, user).map_err(storage_error)
    }

    fn member_ids(&mut self, group_id: &str) -> StoreResult<Vec<String>> {
        let r = (|| -> rusqlite::Result<Vec<String>> {
            let mut s = self.conn.prepare_cached(
                "SELECT user_id FROM members WHERE group_id = ?1 ORDER BY user_id",
            )?;
            let rows = s.query_map([group_id], |r| r.get(0))?;
            rows.collect()
        })();
        r.map_err(storage_error)
    }

    fn approvers(&mut self, group_id: &str) -> StoreResult<Vec<String>> {
        let r = (|| -> rusqlite::Result<Vec<String>> {
            let mut s = self.conn.prepare_cached(
                "SELECT user_id FROM members INDEXED BY members_approvers \
                 WHERE group_id = ?1 AND role IN ('Owner', 'Admin') ORDER BY user_id",
            )?;
            let rows = s.query_map([group_id], |r| r.get(0))?;
            rows.collect()
        })();
        r.map_err(storage_error)
    }

    fn request(&mut self, id: u64) -> StoreResult<Option<RequestRow>> {
        rows::request(self.conn, id).map_err(storage_error)
    }

    fn pending_request(
        &mut self,
        group_id: &str,
        applicant: &str,
    ) -> StoreResult<Option<RequestRow>> {
        self.conn
            .prepare_cached(concat!(
                "SELECT ",
                rows::request_columns!(),
                " FROM join_requests WHERE group_id = ?1 AND applicant = ?2 AND status = 'pending' \
                 ORDER BY id LIMIT 1"
            ))
            .and_then(|mut s| {
                s.query_row([group_id, applicant], rows::request_from_row)
                    .optional()
            })
            .map_err(storage_error)
    }

    fn insert_request(&mut self, r: &RequestRow) -> StoreResult<u64> {
        self.conn
            .prepare_cached(
                "INSERT INTO join_requests(group_id, applicant, inviter, message, created_at, status, reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    r.group_id,
                    r.applicant,
                    r.inviter,
                    r.message,
                    to_i64(r.created_at),
                    r.status.as_str(),
                    r.reason
                ])
            })
            .map_err(storage_error)?;
        Ok(u64::try_from(self.conn.last_insert_rowid()).unwrap_or(0))
    }

    fn update_request(&mut self, r: &RequestRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE join_requests SET inviter = ?2, message = ?3, created_at = ?4, status = ?5, \
                 handled_by = ?6, handled_at = ?7, reason = ?8 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(r.id),
                    r.inviter,
                    r.message,
                    to_i64(r.created_at),
                    r.status.as_str(),
                    r.handled_by,
                    r.handled_at.map(to_i64),
                    r.reason
                ])
            })
            .map(|_| ())
            .map_err(storage_error)
    }

    fn end_pending_requests(&mut self, group_id: &str, applicant: Option<&str>) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE join_requests SET status = 'ended', handled_at = ?3 \
                 WHERE group_id = ?1 AND status = 'pending' AND (?2 IS NULL OR applicant = ?2)",
            )
            .and_then(|mut s| s.execute(params![group_id, applicant, to_i64(self.now)]))
            .map(|_| ())
            .map_err(storage_error)
    }

    fn emit(&mut self, e: NewEvent) -> StoreResult<u64> {
        let id = self.next_event_id;
        let targets =
            serde_json::to_string(&e.targets).map_err(|e| GroupError::Internal(e.to_string()))?;
        let detail =
            serde_json::to_string(&e.detail).map_err(|e| GroupError::Internal(e.to_string()))?;
        let only = matches!(e.audience, Audience::Only(_));
        self.conn
            .prepare_cached(
                "INSERT INTO events(id, time, group_id, kind, actor, targets, detail, audience_only) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(id),
                    to_i64(self.now),
                    e.group_id,
                    e.kind.as_str(),
                    e.actor,
                    targets,
                    detail,
                    only
                ])
            })
            .map_err(storage_error)?;
        if let Audience::Only(users) = &e.audience {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO event_recipients(user_id, event_id) VALUES (?1, ?2)",
                )
                .map_err(storage_error)?;
            for u in users {
                stmt.execute(params![u, to_i64(id)])
                    .map_err(storage_error)?;
            }
        }
        self.next_event_id += 1;
        let event = crate::model::Event {
            id,
            time: self.now,
            group_id: e.group_id,
            kind: e.kind,
            actor: e.actor,
            targets: e.targets,
            detail: e.detail,
        };
        // Serialised for the wire by the fan-out, off this thread.
        self.events.push(Published {
            event,
            audience: e.audience,
            membership: e.membership,
        });
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer never checkpoints itself: the background pass copies the
    /// committed pages into the database file, and a store opened again on
    /// the same file sees every commit.
    #[tokio::test]
    async fn checkpoints_run_in_the_background() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db");
        let store = SqliteStore::open(SqliteConfig::new(&path))?;
        // The schema is still only in the WAL.
        let before = std::fs::metadata(&path)?.len();
        let commits = CHECKPOINT_EVERY_COMMITS + 8;
        for i in 0..commits {
            let user = format!("user-{i}");
            store.write(move |tx| tx.ensure_user(&user, "", "")).await?;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path)?.len() <= before {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "no checkpoint reached the database file"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(store);
        let store = SqliteStore::open(SqliteConfig::new(&path))?;
        let last = format!("user-{}", commits - 1);
        assert!(store.read(move |c| rows::user_exists(c, &last)).await?);
        Ok(())
    }

    /// A database written before the log became append-only keeps what it
    /// held: targeted events still reach their recipients, group events the
    /// members and past members, after both tables are rebuilt.
    #[tokio::test]
    async fn the_append_only_log_migrations_keep_recipients_and_past_memberships()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db");
        {
            let conn = Connection::open(&path)?;
            for (i, sql) in MIGRATIONS.iter().take(5).enumerate() {
                conn.execute_batch(sql)?;
                conn.pragma_update(None, "user_version", i64::try_from(i + 1)?)?;
            }
            conn.execute_batch(
                "INSERT INTO members(group_id, user_id, role, join_time, from_event) \
                   VALUES ('g1', 'ann', 'Member', 0, 1); \
                 INSERT INTO events(id, time, group_id, kind, actor, targets, detail, audience_only) VALUES \
                   (1, 0, 'g1', 'member_joined', 'ann', '[]', '{}', 0), \
                   (2, 0, 'g2', 'join_requested', 'bob', '[]', '{}', 1), \
                   (3, 0, 'g2', 'member_joined', 'bob', '[]', '{}', 0); \
                 INSERT INTO event_recipients(user_id, event_id) VALUES ('ann', 2), ('cat', 2); \
                 INSERT INTO membership_history(user_id, group_id, from_event, to_event) \
                   VALUES ('eve', 'g2', 3, 4), ('eve', 'g1', 1, 1);",
            )?;
        }
        let store = SqliteStore::open(SqliteConfig::new(&path))?;
        let ids = |user: &'static str| {
            let store = store.clone();
            async move {
                let events = store
                    .read(move |c| {
                        let mut past = rows::PastMemberships::since(0);
                        rows::entitled_events(c, Some(user), &mut past, 0, 10, 100)
                    })
                    .await?;
                anyhow::Ok(events.iter().map(|e| e.id).collect::<Vec<_>>())
            }
        };
        assert_eq!(ids("ann").await?, vec![1, 2]);
        assert_eq!(ids("cat").await?, vec![2]);
        assert_eq!(ids("dan").await?, Vec::<u64>::new());
        assert_eq!(ids("eve").await?, vec![1, 3]);
        let indexes: Vec<String> = store
            .read(|c| {
                let mut s = c.prepare("SELECT name FROM sqlite_schema WHERE type = 'index'")?;
                let names = s.query_map([], |r| r.get(0))?;
                names.collect()
            })
            .await?;
        assert!(
            !indexes.iter().any(|n| n == "events_by_group"),
            "{indexes:?}"
        );
        Ok(())
    }

    /// A member who leaves while a stream is catching up still gets the
    /// rest of the window it was a member for: each window reads the
    /// memberships ended since the previous one.
    #[test]
    fn a_membership_ended_mid_catch_up_still_counts() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut conn = Connection::open(dir.path().join("g.db"))?;
        migrate(&mut conn)?;
        conn.execute_batch(
            "INSERT INTO members(group_id, user_id, role, join_time, from_event) \
               VALUES ('g1', 'ann', 'Member', 0, 1);",
        )?;
        for id in 1..=10 {
            conn.execute(
                "INSERT INTO events(id, time, group_id, kind, actor, targets, detail) \
                 VALUES (?1, 0, 'g1', 'group_info_changed', 'bob', '[]', '{}')",
                [id],
            )?;
        }
        let mut past = rows::PastMemberships::since(0);
        let first = rows::entitled_events(&conn, Some("ann"), &mut past, 0, 5, 100)?;
        assert_eq!(
            first.iter().map(|e| e.id).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // Ann quits at event 11, between the two windows.
        conn.execute_batch(
            "DELETE FROM members WHERE user_id = 'ann'; \
             INSERT INTO membership_history(user_id, group_id, from_event, to_event) \
               VALUES ('ann', 'g1', 1, 11); \
             INSERT INTO events(id, time, group_id, kind, actor, targets, detail) \
               VALUES (11, 0, 'g1', 'member_quit', 'ann', '[]', '{}'), \
                      (12, 0, 'g1', 'group_info_changed', 'bob', '[]', '{}');",
        )?;
        let second = rows::entitled_events(&conn, Some("ann"), &mut past, 5, 12, 100)?;
        assert_eq!(
            second.iter().map(|e| e.id).collect::<Vec<_>>(),
            [6, 7, 8, 9, 10, 11]
        );
        Ok(())
    }

    /// A command that fails after writing leaves nothing behind, and the
    /// commands batched with it (before and after) still commit, each once.
    #[tokio::test]
    async fn a_command_failing_after_its_writes_fails_alone() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(SqliteConfig::new(dir.path().join("g.db")))?;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64u32 {
            let store = store.clone();
            tasks.spawn(async move {
                let user = format!("user-{i}");
                let result = store
                    .write(move |tx| {
                        let created = tx.ensure_user(&user, "", "")?;
                        if i % 8 == 3 {
                            return Err(GroupError::invalid("refused after writing"));
                        }
                        Ok(created)
                    })
                    .await;
                (i, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined?;
            if i % 8 == 3 {
                assert!(
                    matches!(result, Err(GroupError::InvalidParam(_))),
                    "{result:?}"
                );
            } else {
                // Created by this very command: a redo did not run it twice.
                assert!(result?, "user-{i}");
            }
        }
        for i in 0..64u32 {
            let user = format!("user-{i}");
            let exists = store.read(move |c| rows::user_exists(c, &user)).await?;
            assert_eq!(exists, i % 8 != 3, "user-{i}");
        }
        Ok(())
    }
}
