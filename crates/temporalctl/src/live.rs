//! The terminal view of a long run, the way cargo and uv show theirs: finished work is
//! printed once, as lines above a live area; the live area holds only what is in flight,
//! bounded to a third of the terminal's height, and a summary line last (done/total, in flight,
//! failed, elapsed, the slowest wait with AWS's own state against the readiness profile,
//! and the time left). The model and the frame are pure, so they are tested as text;
//! `Screen` puts frames on a terminal, redrawn at most ten times a second.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use temporalctl_engine::{Event, EventKind, Graph, Need, Outcome};

/// How long AWS typically takes per kind (`docs/readiness-profile.csv`, the benchmark's
/// profile): the read, the call and the wait, in seconds.
const PROFILE: &str = include_str!("../../../docs/readiness-profile.csv");
/// A read or describe, as the benchmark counts it.
const READ_S: f64 = 0.1;
/// What follows a fresh deployment's graph by the profile, as the benchmark plays it:
/// four scale waves (`wave`), then the namespace and the end-to-end check (`one-off-task`).
pub const FINAL_PHASES_S: f64 = 4.0 * (READ_S + 1.0 + 120.0) + 2.0 * (READ_S + 1.0 + 60.0);

/// Expected seconds per kind, from the profile.
pub fn expected_by_kind() -> BTreeMap<String, f64> {
    PROFILE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("kind,") && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, ',').collect();
            let (call, ready) = (f.get(1)?.parse::<f64>().ok()?, f.get(2)?.parse::<f64>().ok()?);
            Some((f[0].to_string(), READ_S + call + ready))
        })
        .collect()
}

/// What the terminal can show.
#[derive(Debug, Clone, Copy)]
pub struct Glyphs {
    spinner: &'static [&'static str],
    done: &'static str,
    failed: &'static str,
    dot: &'static str,
    more: &'static str,
    color: bool,
}

impl Glyphs {
    pub fn new(utf8: bool, color: bool) -> Self {
        if utf8 {
            Glyphs {
                spinner: &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"],
                done: "✓",
                failed: "✗",
                dot: "·",
                more: "…",
                color,
            }
        } else {
            Glyphs { spinner: &["-", "\\", "|", "/"], done: "+", failed: "x", dot: "|", more: "...", color }
        }
    }

    /// From the environment: UTF-8 when the locale says so, colour unless `NO_COLOR` or
    /// `TERM=dumb` (<https://no-color.org>).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let locale = [var("LC_ALL"), var("LC_CTYPE"), var("LANG")].into_iter().find(|v| !v.is_empty());
        let utf8 = locale.is_some_and(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        });
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && var("TERM") != "dumb";
        Glyphs::new(utf8, color)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
}

/// One node or step in flight.
#[derive(Debug, Clone)]
struct InFlight {
    kind: String,
    /// What it does now: creating, waiting for …, retry 2 in 1.0s: …
    doing: String,
    /// AWS's own state, from the last wait (`Processing`, `pending`).
    aws_state: Option<String>,
    since: Duration,
}

/// The graph as the view needs it for the time left: each node's kind, what it waits for.
struct Shape {
    ids: Vec<String>,
    kinds: Vec<String>,
    /// Per node: (dependency, needs only its identity).
    deps: Vec<Vec<(usize, bool)>>,
    topo: Vec<usize>,
}

/// What has happened so far, from the events.
pub struct Model {
    expected: BTreeMap<String, f64>,
    shape: Option<Shape>,
    /// Seconds the final phases after the graph take, by the profile.
    after_graph: f64,
    in_flight: BTreeMap<String, InFlight>,
    /// Nodes of the graph that finished, with when.
    finished: BTreeMap<String, Duration>,
    /// Nodes that failed, with when: no longer in the time left.
    failed_at: BTreeMap<String, Duration>,
    failed: usize,
    /// Finished lines not printed yet.
    above: Vec<String>,
    now: Duration,
}

impl Model {
    pub fn new() -> Self {
        Model {
            expected: expected_by_kind(),
            shape: None,
            after_graph: 0.0,
            in_flight: BTreeMap::new(),
            finished: BTreeMap::new(),
            failed_at: BTreeMap::new(),
            failed: 0,
            above: Vec::new(),
            now: Duration::ZERO,
        }
    }

    /// The run's graph (for done/total and the time left) and how long the work after it
    /// takes by the profile (`up`'s waves, namespace and check; nothing for `down`).
    pub fn set_graph(&mut self, g: &Graph, after_graph: f64) {
        let deps = (0..g.len())
            .map(|i| g.deps_of(i).map(|d| (d, g.need(i, d) == Need::Identity)).collect::<Vec<_>>())
            .collect();
        self.shape = Some(Shape {
            ids: (0..g.len()).map(|i| g.node(i).id.clone()).collect(),
            kinds: (0..g.len()).map(|i| g.node(i).resource.kind().to_string()).collect(),
            deps,
            topo: g.topo().to_vec(),
        });
        self.after_graph = after_graph;
    }

    pub fn apply(&mut self, e: &Event, g: &Glyphs) {
        self.now = self.now.max(e.elapsed);
        match &e.kind {
            EventKind::NodeStarted { node, kind, doing } => {
                let since = self.in_flight.get(node.as_str()).map_or(e.elapsed, |f| f.since);
                let row = InFlight { kind: kind.to_string(), doing: doing.to_string(), aws_state: None, since };
                self.in_flight.insert(node.clone(), row);
            }
            EventKind::NodeWaiting { node, what } => {
                let row = self.row(node, e.elapsed);
                row.aws_state = aws_state(what);
                row.doing = format!("waiting for {what}");
            }
            EventKind::NodeRetrying { node, attempt, delay, error } => {
                let row = self.row(node, e.elapsed);
                row.doing = format!("retry {attempt} in {:.1}s: {}", delay.as_secs_f64(), first_line(error));
            }
            EventKind::NodeKept { node, reason } => {
                self.row(node, e.elapsed).doing = format!("keeping: {reason}");
            }
            EventKind::NodeFinished { node, outcome, id } => {
                let took = self.in_flight.remove(node.as_str()).map(|f| e.elapsed.saturating_sub(f.since));
                self.finished.insert(node.clone(), e.elapsed);
                let mark = if *outcome == Outcome::Failed { g.paint("31", g.failed) } else { g.paint("32", g.done) };
                let id = id.as_deref().map(|i| format!(" {i}")).unwrap_or_default();
                let took = took.filter(|t| t.as_secs() >= 1).map(|t| format!(" ({})", clock(t))).unwrap_or_default();
                self.above.push(format!("{mark} {node:<34} {}{id}{took}", outcome.as_str()));
            }
            EventKind::NodeFailed { node, error } => {
                self.in_flight.remove(node.as_str());
                self.failed_at.insert(node.clone(), e.elapsed);
                self.failed += 1;
                self.above.push(format!("{} {node:<34} FAILED: {error}", g.paint("31", g.failed)));
            }
            EventKind::Note { text } => self.above.push(text.clone()),
            EventKind::NodePlanned { .. } | EventKind::StateSaved => {}
        }
    }

    fn row(&mut self, node: &str, at: Duration) -> &mut InFlight {
        self.in_flight.entry(node.to_string()).or_insert_with(|| InFlight {
            kind: String::new(),
            doing: String::new(),
            aws_state: None,
            since: at,
        })
    }

    /// Seconds left by the profile: the longest chain through what is not finished (what
    /// is in flight counts what it has left of its kind's time), then the work after the
    /// graph. `None` before the graph is known.
    pub fn time_left(&self, now: Duration) -> Option<f64> {
        let shape = self.shape.as_ref()?;
        let n = shape.ids.len();
        // When each node would be done and when its identity would be known, from now.
        let (mut done_at, mut known_at) = (vec![0.0_f64; n], vec![0.0_f64; n]);
        for &i in &shape.topo {
            let id = &shape.ids[i];
            if self.ended(id).is_some() {
                continue;
            }
            let total = self.expected.get(&shape.kinds[i]).copied().unwrap_or(1.0);
            match self.in_flight.get(id) {
                // Its create may have returned: its identity counts as known.
                Some(f) => done_at[i] = (total - now.saturating_sub(f.since).as_secs_f64()).max(1.0),
                None => {
                    let start = shape.deps[i]
                        .iter()
                        .map(|&(d, identity)| if identity { known_at[d] } else { done_at[d] })
                        .fold(0.0, f64::max);
                    done_at[i] = start + total;
                    // The create returns after a read and a call of about a second.
                    known_at[i] = start + READ_S + 1.0;
                }
            }
        }
        let graph_left = done_at.iter().copied().fold(0.0, f64::max);
        // The graph done, the work after it counts down from when it was.
        let graph_done = shape.ids.iter().map(|id| self.ended(id)).collect::<Option<Vec<_>>>();
        let after = match graph_done.and_then(|ends| ends.into_iter().max()) {
            Some(done) => (self.after_graph - now.saturating_sub(done).as_secs_f64()).max(0.0),
            None => self.after_graph,
        };
        Some(graph_left + after)
    }

    /// When a node ended, finished or failed.
    fn ended(&self, id: &str) -> Option<Duration> {
        self.finished.get(id).or_else(|| self.failed_at.get(id)).copied()
    }

    /// What to print now: the finished lines not printed yet, and the live area.
    pub fn frame(&mut self, now: Duration, width: usize, height: usize, g: &Glyphs, tick: usize) -> Frame {
        let now = now.max(self.now);
        let width = width.max(20);
        let mut live = Vec::new();
        let mut rows: Vec<(&String, &InFlight)> = self.in_flight.iter().collect();
        rows.sort_by_key(|(node, f)| (f.since, node.as_str()));
        // A third of the screen, the summary line included: a terminal made narrower
        // rewraps the area's lines to up to twice as many rows, and one made shorter
        // pushes its top rows into the scrollback, where a redraw cannot reach them. Kept
        // this small, the area stays on screen through either, and is cleared whole.
        let room = (height / 3).max(3) - 1;
        let spinner = g.spinner[tick % g.spinner.len()];
        let shown = if rows.len() > room { room - 1 } else { rows.len() };
        for (node, f) in &rows[..shown] {
            let took = clock(now.saturating_sub(f.since));
            let doing = first_line(&f.doing);
            live.push(fit(&format!("{spinner} {node:<34} {took:>6}  {doing}"), width - 1, g));
        }
        if rows.len() > shown {
            live.push(fit(&format!("  {} and {} more in flight", g.more, rows.len() - shown), width - 1, g));
        }
        live.push(fit(&self.summary(now, g), width - 1, g));
        Frame { above: std::mem::take(&mut self.above), live }
    }

    fn summary(&self, now: Duration, g: &Glyphs) -> String {
        let dot = g.dot;
        let total = self.shape.as_ref().map(|s| s.ids.len());
        let done = match (&self.shape, total) {
            (Some(s), Some(total)) => {
                format!("{} of {total} done", s.ids.iter().filter(|id| self.finished.contains_key(*id)).count())
            }
            _ => format!("{} done", self.finished.len()),
        };
        let mut parts = vec![done, format!("{} in flight", self.in_flight.len())];
        if self.failed > 0 {
            parts.push(g.paint("31", &format!("{} failed", self.failed)));
        }
        parts.push(clock(now));
        // Before the slowest wait: a narrow terminal cuts the end of the line first.
        if let Some(left) = self.time_left(now) {
            parts.push(format!("~{} left", clock(Duration::from_secs_f64(left))));
        }
        // The wait that has lasted longest, with AWS's state and its kind's usual time.
        let slowest = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.aws_state.is_some() || self.expected.get(&f.kind).is_some_and(|e| *e >= 30.0))
            .max_by_key(|(_, f)| now.saturating_sub(f.since));
        if let Some((node, f)) = slowest {
            let waited = clock(now.saturating_sub(f.since));
            let state = f.aws_state.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
            let of = self.expected.get(&f.kind).map(|e| format!(" of ~{}", clock(Duration::from_secs_f64(*e))));
            parts.push(format!("{node}{state} {waited}{}", of.unwrap_or_default()));
        }
        parts.join(&format!(" {dot} "))
    }
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

/// What a redraw prints.
#[derive(Debug, Default, PartialEq)]
pub struct Frame {
    pub above: Vec<String>,
    pub live: Vec<String>,
}

/// AWS's state in a wait's text (`… (now Processing)`).
pub fn aws_state(what: &str) -> Option<String> {
    let state = what.rsplit_once("(now ")?.1.strip_suffix(')')?;
    Some(state.to_string())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// 42s, 3m05s, 1h02m.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `line` cut to `width` characters (a live line must never wrap: the redraw counts on
/// one row per line). Escape sequences take no room and are all kept.
fn fit(line: &str, width: usize, g: &Glyphs) -> String {
    // A tab's width is the terminal's to choose: one space keeps the count exact.
    let line = &line.replace('\t', " ");
    if visible_width(line) <= width {
        return line.to_string();
    }
    let keep = width.saturating_sub(g.more.chars().count());
    let (mut out, mut shown, mut in_escape) = (String::new(), 0, false);
    for c in line.chars() {
        if c == '\x1b' {
            in_escape = true;
        }
        if in_escape {
            out.push(c);
            in_escape = c != 'm';
        } else if shown < keep {
            out.push(c);
            shown += 1;
        }
    }
    out.push_str(g.more);
    out
}

/// Puts frames on the terminal: a redraw moves back to the live area's first row, clears
/// to the end of the screen, prints the new finished lines (they scroll into the
/// scrollback, once), then the live area. One lock covers building a frame and writing
/// it, so the ticker and `finish` never interleave, and nothing is drawn once finished.
pub struct Screen {
    model: Mutex<Model>,
    glyphs: Glyphs,
    canvas: Mutex<Canvas>,
    started: std::time::Instant,
    /// Nothing is drawn before the run's first event or its graph: what a command prints
    /// before (preflight notes, image builds) keeps the terminal to itself.
    active: std::sync::atomic::AtomicBool,
}

/// What is on screen: the live area's lines' widths, and whether the view has ended.
#[derive(Default)]
struct Canvas {
    drawn: Vec<usize>,
    finished: bool,
}

impl Screen {
    pub fn new(glyphs: Glyphs) -> Arc<Screen> {
        let screen = Arc::new(Screen {
            model: Mutex::new(Model::new()),
            glyphs,
            canvas: Mutex::new(Canvas::default()),
            started: std::time::Instant::now(),
            active: std::sync::atomic::AtomicBool::new(false),
        });
        let ticker = Arc::downgrade(&screen);
        std::thread::spawn(move || {
            let mut tick = 0;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let Some(screen) = ticker.upgrade() else { return };
                tick += 1;
                if !screen.draw(tick, false) {
                    return;
                }
            }
        });
        screen
    }

    pub fn event(&self, e: &Event) {
        lock(&self.model).apply(e, &self.glyphs);
        self.active.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_graph(&self, g: &Graph, after_graph: f64) {
        lock(&self.model).set_graph(g, after_graph);
        self.active.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// One redraw; the last one (`last`) prints what finished and clears the live area,
    /// so what follows prints below the finished lines. False once the view has ended.
    fn draw(&self, tick: usize, last: bool) -> bool {
        let mut canvas = lock(&self.canvas);
        if canvas.finished {
            return false;
        }
        canvas.finished = last;
        if !self.active.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
        let (width, height) = terminal_size().unwrap_or((80, 24));
        let mut frame = lock(&self.model).frame(self.started.elapsed(), width, height, &self.glyphs, tick);
        if last {
            frame.live.clear();
        }
        let mut out = String::new();
        // Rows the old live area takes now: a terminal made narrower rewraps its lines
        // (tmux, VTE and most terminals reflow; one that truncates instead gets fewer).
        let rows: usize = canvas.drawn.iter().map(|w| w.max(&1).div_ceil(width.max(1))).sum();
        if rows > 0 {
            out.push('\r');
            if rows > 1 {
                out.push_str(&format!("\x1b[{}A", rows - 1));
            }
            out.push_str("\x1b[J");
        }
        // Texts from AWS were made printable before they reached the model.
        for line in &frame.above {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&frame.live.join("\n"));
        canvas.drawn = frame.live.iter().map(|l| visible_width(l)).collect();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(out.as_bytes());
        let _ = err.flush();
        true
    }

    /// The last frame: what finished is printed, the live area cleared. Idempotent.
    pub fn finish(&self) {
        self.draw(0, true);
    }
}

fn visible_width(line: &str) -> usize {
    let mut in_escape = false;
    line.chars()
        .filter(|c| {
            if *c == '\x1b' {
                in_escape = true;
            }
            let visible = !in_escape;
            if in_escape && *c == 'm' {
                in_escape = false;
            }
            visible
        })
        .count()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Columns and rows of the terminal on stderr, asked again at every redraw (a resize
/// needs no signal handler).
fn terminal_size() -> Option<(usize, usize)> {
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own; fd 2 is stderr.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0 && size.ws_row > 0).then(|| (size.ws_col as usize, size.ws_row as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, kind: EventKind) -> Event {
        Event { elapsed: Duration::from_secs(s), kind }
    }

    fn started(node: &str, kind: &'static str) -> EventKind {
        EventKind::NodeStarted { node: node.into(), kind, doing: "creating" }
    }

    #[test]
    fn finished_work_goes_above_once_and_the_live_area_fits_the_terminal() {
        let g = Glyphs::new(false, false);
        let mut m = Model::new();
        for i in 0..30 {
            m.apply(&at(0, started(&format!("subnet/{i}"), "subnet")), &g);
        }
        m.apply(&at(1, started("opensearch-domain", "opensearch-domain")), &g);
        m.apply(
            &at(
                2,
                EventKind::NodeWaiting {
                    node: "opensearch-domain".into(),
                    what: "opensearch-domain itops to become ready (now Processing)".into(),
                },
            ),
            &g,
        );
        m.apply(
            &at(
                3,
                EventKind::NodeFinished {
                    node: "subnet/0".into(),
                    outcome: Outcome::Created,
                    id: Some("subnet-1".into()),
                },
            ),
            &g,
        );
        let frame = m.frame(Duration::from_secs(721), 80, 24, &g, 0);
        assert_eq!(frame.above.len(), 1, "{frame:?}");
        assert!(frame.above[0].starts_with("+ subnet/0") && frame.above[0].contains("created subnet-1"));
        assert_eq!(frame.live.len(), 8, "a third of 24 rows: 6 in flight, one `more` line, the summary");
        assert!(frame.live.iter().all(|l| l.chars().count() <= 79), "{frame:#?}");
        let summary = frame.live.last().unwrap();
        assert!(summary.contains("opensearch-domain Processing 12m00s of ~17m32s"), "{summary}");
        assert!(frame.live[6].contains("and 24 more in flight"), "{}", frame.live[6]);
        // Printed once: the next frame has nothing new above.
        assert!(m.frame(Duration::from_secs(722), 80, 24, &g, 1).above.is_empty());
    }

    #[test]
    fn frames_are_pinned() {
        let g = Glyphs::new(true, false);
        let mut m = Model::new();
        m.apply(&at(0, started("vpc", "vpc")), &g);
        m.apply(&at(1, started("nat-gateway", "nat-gateway")), &g);
        m.apply(
            &at(
                2,
                EventKind::NodeFinished { node: "vpc".into(), outcome: Outcome::Created, id: Some("vpc-0a1".into()) },
            ),
            &g,
        );
        m.apply(
            &at(
                3,
                EventKind::NodeWaiting {
                    node: "nat-gateway".into(),
                    what: "nat-gateway nat-1 to become ready (now pending)".into(),
                },
            ),
            &g,
        );
        m.apply(
            &at(
                4,
                EventKind::NodeFailed {
                    node: "subnet/public".into(),
                    error: "InvalidSubnet.Conflict: the CIDR conflicts".into(),
                },
            ),
            &g,
        );
        let frame = m.frame(Duration::from_secs(65), 100, 24, &g, 3);
        insta::assert_snapshot!(format!("{}\n--- live\n{}", frame.above.join("\n"), frame.live.join("\n")));
    }

    #[test]
    fn ascii_and_no_color_terminals_get_neither() {
        let g = Glyphs::new(false, false);
        let mut m = Model::new();
        m.apply(&at(0, started("vpc", "vpc")), &g);
        m.apply(&at(1, EventKind::NodeFailed { node: "vpc".into(), error: "boom".into() }), &g);
        let frame = m.frame(Duration::from_secs(2), 80, 24, &g, 0);
        let all = format!("{:?}", frame);
        assert!(all.is_ascii() && !all.contains("\\u{1b}"), "{all}");
        let colored = Glyphs::new(true, true);
        let cut = fit(&colored.paint("31", "abcdefghij"), 5, &colored);
        assert!(cut.starts_with("\x1b[31mabcd") && cut.ends_with('…') && visible_width(&cut) == 5, "{cut:?}");
    }

    /// vpc → nat-gateway → route-table, and opensearch-domain needing only the vpc's identity.
    fn shaped() -> Model {
        let mut m = Model::new();
        m.shape = Some(Shape {
            ids: ["vpc", "nat-gateway", "route-table", "opensearch-domain"].map(String::from).to_vec(),
            kinds: ["vpc", "nat-gateway", "route-table", "opensearch-domain"].map(String::from).to_vec(),
            deps: vec![vec![], vec![(0, false)], vec![(1, false)], vec![(0, true)]],
            topo: vec![0, 1, 2, 3],
        });
        m.after_graph = 100.0;
        m
    }

    #[test]
    fn the_time_left_is_the_longest_chain_of_what_remains_then_the_final_phases() {
        let e = expected_by_kind();
        let mut m = shaped();
        // Nothing done: OpenSearch starts when the VPC's create returns, ~1.1 s in.
        let left = m.time_left(Duration::ZERO).unwrap();
        assert!((left - (READ_S + 1.0 + e["opensearch-domain"] + 100.0)).abs() < 0.01, "{left}");
        // The VPC done, OpenSearch ten minutes into its wait: what it has left decides.
        let g = Glyphs::new(false, false);
        m.apply(&at(0, started("opensearch-domain", "opensearch-domain")), &g);
        m.apply(&at(1, EventKind::NodeFinished { node: "vpc".into(), outcome: Outcome::Created, id: None }), &g);
        let left = m.time_left(Duration::from_secs(600)).unwrap();
        assert!((left - (e["opensearch-domain"] - 600.0 + 100.0)).abs() < 0.01, "{left}");
        // A wait past its expected time counts a second, not less.
        let left = m.time_left(Duration::from_secs(5000)).unwrap();
        let rest = e["nat-gateway"] + e["route-table"];
        assert!((left - (rest + 100.0)).abs() < 0.01, "the NAT chain is now the longest: {left}");
        let summary = m.frame(Duration::from_secs(5000), 120, 24, &g, 0).live.pop().unwrap();
        assert!(summary.contains("1 of 4 done") && summary.contains(" left"), "{summary}");
    }

    #[test]
    fn the_clock_reads_like_a_person_would_say_it() {
        assert_eq!(clock(Duration::from_secs(42)), "42s");
        assert_eq!(clock(Duration::from_secs(185)), "3m05s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
    }
}
