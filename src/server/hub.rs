//! Live fan-out of committed events to the open event streams.
//!
//! The store publishes each committed batch once, to a single receiver: the
//! hub's dispatcher thread. It encodes every event as an SSE frame once and
//! hands the batch to a few shard threads (one per core). Each shard owns a
//! slice of the subscribers and, for each one, folds the batch's membership
//! changes into the subscriber's groups, decides whether it is entitled to
//! the event and, when it is, writes the shared frame straight to the
//! subscriber's socket. A subscriber's task is woken only when the socket
//! cannot take the frame right now, when it falls behind, or when the
//! stream ends, so an idle stream costs a small record and a parked task,
//! and one event to ten thousand streams costs ten thousand `write`s.
//!
//! A subscriber starts in the buffering mode: it registers first, then reads
//! the log up to some head, and meanwhile the shard keeps the batches that
//! arrive. Going live replays those batches past the head under the same
//! lock the shard takes, so there is no gap and no duplicate. A subscriber
//! whose queue grows too long (a client not reading) is marked lagged; the
//! shard stops feeding it and its task catches up from the log.

use crate::model::{Audience, Published};
use crate::store::sqlite::EventBatch;
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use tokio::net::TcpStream;
use tokio::sync::{Notify, broadcast};

/// Batches kept for a subscriber that is still reading the log, at most.
const MAX_PENDING_BATCHES: usize = 1024;
/// Bytes queued for a subscriber whose socket is full, at most.
const MAX_QUEUED_BYTES: usize = 1 << 20;

/// One event, encoded once for every stream.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    /// `<len hex>\r\n` + the SSE text + `\r\n`: one HTTP/1.1 chunk.
    chunk: Bytes,
    /// The SSE text alone (`id:`, `event:`, `data:` lines and a blank line).
    text: Bytes,
}

impl Frame {
    pub fn new(id: u64, kind: &str, json: &str) -> Frame {
        Frame::from_text(id, format!("id: {id}\nevent: {kind}\ndata: {json}\n\n"))
    }

    /// An SSE comment, sent to keep idle connections open.
    pub fn keep_alive() -> Frame {
        Frame::from_text(0, ":keep-alive\n\n".to_string())
    }

    fn from_text(id: u64, text: String) -> Frame {
        let head = format!("{:x}\r\n", text.len());
        let mut chunk = Vec::with_capacity(head.len() + text.len() + 2);
        chunk.extend_from_slice(head.as_bytes());
        chunk.extend_from_slice(text.as_bytes());
        chunk.extend_from_slice(b"\r\n");
        let chunk = Bytes::from(chunk);
        let text = chunk.slice(head.len()..chunk.len() - 2);
        Frame { id, chunk, text }
    }

    /// The event's frame; its JSON is written once here for every stream.
    pub fn of(p: &Published) -> Frame {
        let json = serde_json::to_string(&p.event).unwrap_or_else(|_| "{}".into());
        Frame::new(p.event.id, p.event.kind.as_str(), &json)
    }

    /// The bytes for a stream: one chunk for an HTTP/1.1 socket; the plain
    /// text for an HTTP/1.0 socket and for a response body hyper frames.
    pub fn bytes(&self, chunked: bool) -> &Bytes {
        if chunked { &self.chunk } else { &self.text }
    }
}

/// A committed batch with its frames.
pub struct FrameBatch {
    pub events: EventBatch,
    pub frames: Vec<Frame>,
}

impl FrameBatch {
    pub fn new(events: EventBatch) -> FrameBatch {
        let frames = events.iter().map(Frame::of).collect();
        FrameBatch { events, frames }
    }

    fn iter(&self) -> impl Iterator<Item = (&Published, &Frame)> {
        self.events.iter().zip(self.frames.iter())
    }
}

/// Whether `user` gets `p`, updating the set of groups it belongs to.
pub fn entitled(p: &Published, user: &str, groups: &mut HashSet<String>) -> bool {
    let gid = &p.event.group_id;
    if p.membership.joined.iter().any(|u| u == user) {
        groups.insert(gid.clone());
    }
    let deliver = match &p.audience {
        Audience::Members => groups.contains(gid),
        Audience::Only(users) => users.iter().any(|u| u == user),
    };
    if p.membership.dissolved || p.membership.left.iter().any(|u| u == user) {
        groups.remove(gid);
    }
    deliver
}

/// Where a subscriber's frames go when the shard writes them itself.
pub struct Socket {
    pub stream: Arc<TcpStream>,
    /// HTTP/1.1 chunked encoding (HTTP/1.0 streams are plain until close).
    pub chunked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading the log: batches are kept, not delivered.
    Buffering,
    Live,
}

struct SubState {
    mode: Mode,
    pending: Vec<Arc<FrameBatch>>,
    /// Groups the user belongs to, as of `last`.
    groups: HashSet<String>,
    /// The newest event id handled (sent, queued or not entitled).
    last: u64,
    /// Frames (or the rest of one) the socket could not take yet, or every
    /// frame when there is no socket.
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// The subscriber's task is writing frames it took from the queue.
    draining: bool,
    /// Fell behind: the task must catch up from the log after `last`.
    lagged: bool,
    /// The socket failed on a write.
    broken: bool,
}

/// One open event stream, shared by its task and its shard.
pub struct Subscriber {
    /// `None`: every event (an app admin following `scope=all`).
    user: Option<String>,
    socket: Option<Socket>,
    state: Mutex<SubState>,
    wake: Notify,
}

/// What a subscriber's task has to do next.
pub enum Work {
    /// Write these bytes, in order, then ask [`Subscriber::next_work`] again.
    Write(Vec<Bytes>),
    /// The stream fell behind: catch up from the log after this id.
    CatchUp(u64),
    /// The socket failed.
    Broken,
    Idle,
}

impl Subscriber {
    fn lock(&self) -> MutexGuard<'_, SubState> {
        // A panic while holding the lock leaves plain data behind; carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn socket(&self) -> Option<&Socket> {
        self.socket.as_ref()
    }

    /// Resolves when the shard has queued something or flagged the stream.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Back to buffering before reading the log again (after a lag).
    pub fn start_buffering(&self) {
        let mut st = self.lock();
        st.mode = Mode::Buffering;
        st.pending.clear();
        st.lagged = false;
    }

    /// The log has been sent up to `upto` and the user's groups as of it are
    /// `groups`: replay what arrived meanwhile and go live. Returns the bytes
    /// to write first, or, when the buffer overflowed meanwhile, the id to
    /// catch up from again.
    pub fn go_live(&self, upto: u64, groups: HashSet<String>) -> Result<Vec<Bytes>, u64> {
        let mut st = self.lock();
        st.last = st.last.max(upto);
        if st.lagged {
            st.pending.clear();
            st.lagged = false;
            return Err(st.last);
        }
        st.groups = groups;
        st.mode = Mode::Live;
        let chunked = self.chunked();
        let pending = std::mem::take(&mut st.pending);
        let mut out = Vec::new();
        for batch in &pending {
            for (p, frame) in batch.iter() {
                if self.handle(&mut st, p) {
                    out.push(frame.bytes(chunked).clone());
                }
            }
        }
        st.draining = !out.is_empty();
        Ok(out)
    }

    /// The ids the task has sent itself while catching up.
    pub fn sent_through(&self, id: u64) {
        let mut st = self.lock();
        st.last = st.last.max(id);
    }

    /// What to do next, after a wake-up or after writing.
    pub fn next_work(&self) -> Work {
        let mut st = self.lock();
        if st.broken {
            return Work::Broken;
        }
        if !st.queue.is_empty() {
            st.draining = true;
            st.queued_bytes = 0;
            return Work::Write(st.queue.drain(..).collect());
        }
        st.draining = false;
        if st.lagged {
            return Work::CatchUp(st.last);
        }
        Work::Idle
    }

    /// Queues a keep-alive comment (written in order with the frames).
    pub fn keep_alive(&self, frame: &Frame) {
        let mut st = self.lock();
        let bytes = frame.bytes(self.chunked()).clone();
        st.queued_bytes += bytes.len();
        st.queue.push_back(bytes);
        drop(st);
        self.wake.notify_one();
    }

    fn chunked(&self) -> bool {
        self.socket.as_ref().is_some_and(|s| s.chunked)
    }

    /// Folds `p` and says whether the user gets it; skips ids already handled.
    fn handle(&self, st: &mut SubState, p: &Published) -> bool {
        if p.event.id <= st.last {
            return false;
        }
        st.last = p.event.id;
        match &self.user {
            None => true,
            Some(u) => entitled(p, u, &mut st.groups),
        }
    }

    /// The shard's side: one batch for this subscriber.
    fn feed(&self, batch: &Arc<FrameBatch>) {
        let mut st = self.lock();
        match st.mode {
            Mode::Buffering => {
                if st.pending.len() >= MAX_PENDING_BATCHES {
                    st.pending.clear();
                    st.lagged = true;
                } else {
                    st.pending.push(batch.clone());
                }
            }
            Mode::Live if st.lagged || st.broken => {}
            Mode::Live => {
                let mut wake = false;
                for (p, frame) in batch.iter() {
                    if !self.handle(&mut st, p) {
                        continue;
                    }
                    wake |= self.deliver(&mut st, frame);
                    if st.lagged || st.broken {
                        // Not handed over: the catch-up starts before it.
                        st.last = p.event.id - 1;
                        break;
                    }
                }
                drop(st);
                if wake {
                    self.wake.notify_one();
                }
            }
        }
    }

    /// Writes `frame` to the socket if nothing is ahead of it, else queues
    /// it. Returns whether the task must be woken.
    fn deliver(&self, st: &mut SubState, frame: &Frame) -> bool {
        let bytes = frame.bytes(self.chunked());
        if let Some(socket) = &self.socket {
            if st.queue.is_empty() && !st.draining {
                match socket.stream.try_write(bytes) {
                    Ok(n) if n == bytes.len() => return false,
                    Ok(n) => {
                        st.queued_bytes += bytes.len() - n;
                        st.queue.push_back(bytes.slice(n..));
                        return true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        st.broken = true;
                        return true;
                    }
                }
            }
        }
        if st.queued_bytes + bytes.len() > MAX_QUEUED_BYTES {
            st.lagged = true;
            return true;
        }
        st.queued_bytes += bytes.len();
        st.queue.push_back(bytes.clone());
        true
    }
}

/// A slab of subscribers, fed by one thread.
#[derive(Default)]
struct Shard {
    slots: Vec<Option<Arc<Subscriber>>>,
    free: Vec<usize>,
}

/// Shard threads at most, however many cores: past a few, writing to
/// sockets is bound by the kernel, not by the threads.
const MAX_SHARDS: usize = 8;

/// Subscribers visited per lock of a shard, so registering never waits
/// for a whole fan-out.
const VISIT_CHUNK: usize = 512;

struct HubInner {
    shards: Vec<Mutex<Shard>>,
    next: AtomicUsize,
}

impl HubInner {
    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feeds `batch` to every subscriber of shard `i`.
    fn fan_out(&self, i: usize, batch: &Arc<FrameBatch>) {
        let mut at = 0;
        let mut chunk: Vec<Arc<Subscriber>> = Vec::with_capacity(VISIT_CHUNK);
        loop {
            chunk.clear();
            {
                let shard = self.shard(i);
                if at >= shard.slots.len() {
                    return;
                }
                let end = (at + VISIT_CHUNK).min(shard.slots.len());
                chunk.extend(shard.slots[at..end].iter().flatten().cloned());
                at = end;
            }
            for sub in &chunk {
                sub.feed(batch);
            }
        }
    }

    fn mark_all_lagged(&self) {
        for i in 0..self.shards.len() {
            let subs: Vec<Arc<Subscriber>> =
                self.shard(i).slots.iter().flatten().cloned().collect();
            for sub in subs {
                let mut st = sub.lock();
                st.pending.clear();
                st.lagged = true;
                drop(st);
                sub.wake.notify_one();
            }
        }
    }
}

/// The fan-out: register subscribers, publish batches.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
    shard_tx: Vec<mpsc::Sender<Arc<FrameBatch>>>,
}

/// A registration; leaving the hub when dropped.
pub struct Registration {
    hub: Arc<HubInner>,
    shard: usize,
    slot: usize,
    pub sub: Arc<Subscriber>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut shard = self.hub.shard(self.shard);
        if let Some(s) = shard.slots.get_mut(self.slot) {
            *s = None;
            shard.free.push(self.slot);
        }
    }
}

impl Hub {
    /// A hub with `shards` shards and no threads: batches are fanned out by
    /// whoever calls [`Hub::fan_out_now`].
    pub fn inert(shards: usize) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
                next: AtomicUsize::new(0),
            }),
            shard_tx: Vec::new(),
        }
    }

    /// Starts the dispatcher and one shard thread per core, fed by `live`.
    pub fn start(mut live: broadcast::Receiver<EventBatch>) -> std::io::Result<Hub> {
        let cores = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(MAX_SHARDS);
        let mut hub = Hub::inert(cores);
        for i in 0..cores {
            let (tx, rx) = mpsc::channel::<Arc<FrameBatch>>();
            let inner = hub.inner.clone();
            std::thread::Builder::new()
                .name(format!("groupdeck-fanout-{i}"))
                .spawn(move || {
                    while let Ok(batch) = rx.recv() {
                        inner.fan_out(i, &batch);
                    }
                })?;
            hub.shard_tx.push(tx);
        }
        let dispatcher = hub.clone();
        std::thread::Builder::new()
            .name("groupdeck-dispatch".into())
            .spawn(move || {
                loop {
                    match live.blocking_recv() {
                        Ok(events) => dispatcher.publish(Arc::new(FrameBatch::new(events))),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(
                                "event fan-out fell {n} batches behind; streams catch up from the log"
                            );
                            dispatcher.inner.mark_all_lagged();
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
                // The store is gone: end every stream's wait.
                dispatcher.inner.mark_all_lagged();
            })?;
        Ok(hub)
    }

    fn publish(&self, batch: Arc<FrameBatch>) {
        for tx in &self.shard_tx {
            let _ = tx.send(batch.clone());
        }
    }

    /// Fans `batch` out on the calling thread, shard after shard.
    pub fn fan_out_now(&self, batch: &Arc<FrameBatch>) {
        for i in 0..self.inner.shards.len() {
            self.inner.fan_out(i, batch);
        }
    }

    /// Registers a subscriber in the buffering mode.
    pub fn register(&self, user: Option<String>, socket: Option<Socket>) -> Registration {
        let sub = Arc::new(Subscriber {
            user,
            socket,
            state: Mutex::new(SubState {
                mode: Mode::Buffering,
                pending: Vec::new(),
                groups: HashSet::new(),
                last: 0,
                queue: VecDeque::new(),
                queued_bytes: 0,
                draining: false,
                lagged: false,
                broken: false,
            }),
            wake: Notify::new(),
        });
        let n = self.inner.shards.len();
        let shard_i = self.inner.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut shard = self.inner.shard(shard_i);
        let slot = match shard.free.pop() {
            Some(slot) => {
                shard.slots[slot] = Some(sub.clone());
                slot
            }
            None => {
                shard.slots.push(Some(sub.clone()));
                shard.slots.len() - 1
            }
        };
        drop(shard);
        Registration {
            hub: self.inner.clone(),
            shard: shard_i,
            slot,
            sub,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind, MembershipChange};

    fn published(id: u64, group: &str, joined: &[&str], audience: Audience) -> Published {
        let event = Event {
            id,
            time: 0,
            group_id: group.into(),
            kind: EventKind::MemberJoined,
            actor: "a".into(),
            targets: vec![],
            detail: serde_json::json!({}),
        };
        Published {
            event,
            audience,
            membership: MembershipChange {
                joined: joined.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    impl Hub {
        /// Open streams.
        fn len(&self) -> usize {
            (0..self.inner.shards.len())
                .map(|i| {
                    let s = self.inner.shard(i);
                    s.slots.len() - s.free.len()
                })
                .sum()
        }
    }

    fn batch(events: Vec<Published>) -> Arc<FrameBatch> {
        Arc::new(FrameBatch::new(Arc::new(events)))
    }

    fn queued(sub: &Subscriber) -> Vec<u64> {
        match sub.next_work() {
            Work::Write(frames) => frames
                .iter()
                .filter_map(|b| {
                    let text = std::str::from_utf8(b).ok()?;
                    let line = text.lines().find(|l| l.starts_with("id: "))?;
                    line[4..].parse().ok()
                })
                .collect(),
            _ => vec![],
        }
    }

    #[test]
    fn frames_are_one_chunk_of_the_sse_text() {
        let f = Frame::new(7, "member_joined", "{}");
        assert_eq!(
            &f.bytes(false)[..],
            b"id: 7\nevent: member_joined\ndata: {}\n\n"
        );
        assert_eq!(
            &f.bytes(true)[..],
            b"25\r\nid: 7\nevent: member_joined\ndata: {}\n\n\r\n"
        );
    }

    #[test]
    fn buffered_batches_replay_past_the_head_once() {
        let hub = Hub::inert(2);
        let reg = hub.register(Some("u".into()), None);
        hub.fan_out_now(&batch(vec![published(5, "g", &[], Audience::Members)]));
        hub.fan_out_now(&batch(vec![published(6, "g", &[], Audience::Members)]));
        // The log was read through 5: only 6 is replayed.
        let first = reg
            .sub
            .go_live(5, HashSet::from(["g".to_string()]))
            .unwrap_or_default();
        assert_eq!(first.len(), 1);
        assert!(
            std::str::from_utf8(&first[0])
                .unwrap_or("")
                .contains("id: 6")
        );
        hub.fan_out_now(&batch(vec![published(6, "g", &[], Audience::Members)]));
        hub.fan_out_now(&batch(vec![published(7, "g", &[], Audience::Members)]));
        assert_eq!(queued(&reg.sub), vec![7]);
    }

    #[test]
    fn membership_folds_and_audiences_decide() {
        let hub = Hub::inert(1);
        let reg = hub.register(Some("u".into()), None);
        assert!(matches!(reg.sub.go_live(0, HashSet::new()), Ok(v) if v.is_empty()));
        hub.fan_out_now(&batch(vec![
            published(1, "g", &[], Audience::Members),
            published(2, "g", &["u"], Audience::Members),
            published(3, "g", &[], Audience::Members),
            published(4, "h", &[], Audience::Only(vec!["u".into()])),
            published(5, "h", &[], Audience::Only(vec!["v".into()])),
        ]));
        assert_eq!(queued(&reg.sub), vec![2, 3, 4]);
    }

    #[test]
    fn a_full_queue_lags_and_resumes_after_the_last_queued() {
        let hub = Hub::inert(1);
        let reg = hub.register(None, None);
        assert!(reg.sub.go_live(0, HashSet::new()).is_ok());
        let big = "x".repeat(MAX_QUEUED_BYTES / 4);
        let events: Vec<Published> = (1..=8)
            .map(|id| {
                let mut p = published(id, "g", &[], Audience::Members);
                p.event.actor = big.clone();
                p
            })
            .collect();
        hub.fan_out_now(&batch(events));
        let Work::Write(frames) = reg.sub.next_work() else {
            panic!("frames expected");
        };
        assert_eq!(frames.len(), 3);
        assert!(matches!(reg.sub.next_work(), Work::CatchUp(3)));
    }

    #[test]
    fn dropping_a_registration_frees_its_slot() {
        let hub = Hub::inert(2);
        let a = hub.register(None, None);
        let b = hub.register(None, None);
        assert_eq!(hub.len(), 2);
        drop(a);
        assert_eq!(hub.len(), 1);
        let _c = hub.register(None, None);
        let _d = hub.register(None, None);
        assert_eq!(hub.len(), 3);
        drop(b);
        assert_eq!(hub.len(), 2);
    }
}
