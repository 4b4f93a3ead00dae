//! Recording latencies (one HDR histogram per operation, in microseconds)
//! and presenting a run: an aligned table for people, one JSON document
//! (`--json`) for scripts, both with the same numbers.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The highest latency a histogram tracks (one hour, in µs); longer ones count as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// Latencies and errors per operation, for one client or merged.
#[derive(Default)]
pub(crate) struct Recorder {
    hists: BTreeMap<&'static str, Histogram<u64>>,
    errors: BTreeMap<&'static str, u64>,
    pub first_error: Option<String>,
}

fn new_hist() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_MICROS, 3)?)
}

impl Recorder {
    /// Records one successful operation.
    pub fn ok(&mut self, op: &'static str, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        if !self.hists.contains_key(op)
            && let Ok(h) = new_hist()
        {
            self.hists.insert(op, h);
        }
        if let Some(h) = self.hists.get_mut(op) {
            h.saturating_record(micros);
        }
    }

    /// Records one failed operation (its latency is not counted).
    pub fn err(&mut self, op: &'static str, e: impl std::fmt::Display) {
        *self.errors.entry(op).or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{op}: {e}"));
        }
    }

    /// Records the result of an operation that started at `start`.
    pub fn outcome<T, E: std::fmt::Display>(
        &mut self,
        op: &'static str,
        start: std::time::Instant,
        r: Result<T, E>,
    ) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok(op, start.elapsed());
                Some(v)
            }
            Err(e) => {
                self.err(op, e);
                None
            }
        }
    }

    pub fn merge(&mut self, other: Recorder) -> anyhow::Result<()> {
        for (op, h) in other.hists {
            match self.hists.get_mut(op) {
                Some(mine) => mine.add(&h)?,
                None => {
                    self.hists.insert(op, h);
                }
            }
        }
        for (op, n) in other.errors {
            *self.errors.entry(op).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }

    /// Per-operation rows in `order` (kinds never seen still get a row), then
    /// the overall row over all of them.
    pub fn stats(
        &self,
        order: &[&'static str],
        elapsed: f64,
    ) -> anyhow::Result<(Vec<OpStats>, OpStats)> {
        let mut all = new_hist()?;
        let mut rows = Vec::new();
        let mut errors = 0;
        for op in order {
            let e = self.errors.get(op).copied().unwrap_or(0);
            errors += e;
            match self.hists.get(op) {
                Some(h) => {
                    all.add(h)?;
                    rows.push(OpStats::from_hist(op, h, e, elapsed));
                }
                None => rows.push(OpStats::from_hist(op, &new_hist()?, e, elapsed)),
            }
        }
        let overall = OpStats::from_hist("overall", &all, errors, elapsed);
        Ok((rows, overall))
    }

    /// The latency summary of one kind.
    pub fn latency(&self, op: &str) -> Latency {
        match self.hists.get(op) {
            Some(h) => Latency::from_hist(h),
            None => Latency::default(),
        }
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// One operation's row.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OpStats {
    pub name: String,
    pub count: u64,
    pub errors: u64,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl OpStats {
    fn from_hist(name: &str, h: &Histogram<u64>, errors: u64, elapsed: f64) -> OpStats {
        let count = h.len();
        let empty = count == 0;
        let q = |p: f64| {
            if empty {
                0.0
            } else {
                ms(h.value_at_quantile(p))
            }
        };
        OpStats {
            name: name.to_string(),
            count,
            errors,
            ops_per_s: if elapsed > 0.0 {
                count as f64 / elapsed
            } else {
                0.0
            },
            p50_ms: q(0.50),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: if empty { 0.0 } else { ms(h.max()) },
        }
    }
}

/// Latency percentiles of one kind of operation, without a rate.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn from_hist(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            samples: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// The facts about the machine and the server that the numbers depend on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub cores: usize,
    /// `FULL` for the embedded server; unknown for a remote one.
    pub synchronous: String,
    pub server: String,
}

/// SQLite alone on the same disk with the same durability.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RawSqlite {
    pub rows: u64,
    pub rows_per_transaction: u64,
    pub seconds: f64,
    pub rows_per_s: f64,
}

/// `bench big`: the large group against the small one.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BigReport {
    pub big_members: u64,
    pub small_members: u64,
    /// How long building the large group took.
    pub build_seconds: f64,
    pub rows: Vec<BigRow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BigRow {
    pub what: String,
    pub small: Latency,
    pub big: Latency,
    /// big p50 ÷ small p50.
    pub ratio_p50: f64,
    /// big p99 ÷ small p99.
    pub ratio_p99: f64,
}

/// One run's results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub mode: String,
    pub machine: Machine,
    pub clients: usize,
    /// The measured wall time of the load phase.
    pub seconds: f64,
    pub operations: Vec<OpStats>,
    pub overall: Option<OpStats>,
    pub raw_sqlite: Option<RawSqlite>,
    /// Overall ops/s ÷ raw batched inserts/s.
    pub ratio_to_raw_inserts: Option<f64>,
    /// `bench ops --baseline`: the same clients against a bare HTTP server.
    pub bare_http: Option<OpStats>,
    /// Overall ops/s ÷ the bare server's round trips/s.
    pub ratio_to_bare_http: Option<f64>,
    /// The bare server's round trips/s ÷ raw batched inserts/s: the most
    /// `ratio_to_raw_inserts` could be with one HTTP request per operation.
    pub bare_http_ratio_to_raw_inserts: Option<f64>,
    pub big: Option<BigReport>,
    pub first_error: Option<String>,
}

/// Divides, giving 0 instead of infinity or NaN.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && a.is_finite() { a / b } else { 0.0 }
}

/// The human-readable table.
pub(crate) fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(
        out,
        "groupdeck bench {} — {} cores, synchronous={}, {}",
        r.mode, m.cores, m.synchronous, m.server
    );
    if !r.operations.is_empty() {
        let _ = writeln!(
            out,
            "{} clients, {:.1} s, over HTTP; latencies in ms",
            r.clients, r.seconds
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "operation", "count", "errors", "ops/s", "p50", "p99", "p99.9", "max"
        );
        let mut line = |s: &OpStats| {
            let _ = writeln!(
                out,
                "{:<18} {:>9} {:>7} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                s.name, s.count, s.errors, s.ops_per_s, s.p50_ms, s.p99_ms, s.p999_ms, s.max_ms
            );
        };
        for s in &r.operations {
            line(s);
        }
        if let Some(o) = &r.overall {
            line(o);
        }
    }
    if let Some(raw) = &r.raw_sqlite {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "raw SQLite on the same disk (WAL, synchronous=FULL, {} rows per transaction): {:.0} rows/s",
            raw.rows_per_transaction, raw.rows_per_s
        );
        if let (Some(ratio), Some(o)) = (r.ratio_to_raw_inserts, &r.overall) {
            let _ = writeln!(
                out,
                "groupdeck ops/s ÷ raw batched inserts/s: {:.1} ÷ {:.0} = {:.3}",
                o.ops_per_s, raw.rows_per_s, ratio
            );
        }
    }
    if let Some(b) = &r.bare_http {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "bare HTTP on 127.0.0.1 (answers every request at once, nothing else; same clients and requests): \
             {:.0} round trips/s, p50 {:.2} ms, p99 {:.2} ms",
            b.ops_per_s, b.p50_ms, b.p99_ms
        );
        if let (Some(ratio), Some(o)) = (r.ratio_to_bare_http, &r.overall) {
            let _ = writeln!(
                out,
                "groupdeck ops/s ÷ bare HTTP round trips/s: {:.1} ÷ {:.0} = {:.3}",
                o.ops_per_s, b.ops_per_s, ratio
            );
        }
        if let (Some(ratio), Some(raw)) = (r.bare_http_ratio_to_raw_inserts, &r.raw_sqlite) {
            let _ = writeln!(
                out,
                "bare HTTP round trips/s ÷ raw batched inserts/s: {:.0} ÷ {:.0} = {:.3} \
                 (the ceiling of the ratio above for one request per operation)",
                b.ops_per_s, raw.rows_per_s, ratio
            );
        }
    }
    if let Some(b) = &r.big {
        let _ = writeln!(
            out,
            "Community of {} members (built in {:.1} s) against a group of {}; latencies in ms, one client",
            b.big_members, b.build_seconds, b.small_members
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "operation",
            "samples",
            "small p50",
            "big p50",
            "× p50",
            "small p99",
            "big p99",
            "× p99"
        );
        for row in &b.rows {
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                row.what,
                row.big.samples.min(row.small.samples),
                row.small.p50_ms,
                row.big.p50_ms,
                row.ratio_p50,
                row.small.p99_ms,
                row.big.p99_ms,
                row.ratio_p99
            );
        }
    }
    if let Some(e) = &r.first_error {
        let _ = writeln!(out);
        let _ = writeln!(out, "first error: {e}");
    }
    out
}
