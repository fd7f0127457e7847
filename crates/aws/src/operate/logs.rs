//! `logs`: a service's CloudWatch log events, one page walk per read. Following is
//! repeated reads from the newest timestamp seen, with the events already printed at
//! that same millisecond left out (FilterLogEvents' start time is inclusive).

use std::collections::BTreeSet;

use temporalctl_engine::ResourceError;

use super::Operator;
use crate::errors::aws;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
    pub id: String,
}

/// Where a `follow` has got to.
#[derive(Debug, Default)]
pub struct Cursor {
    /// The newest timestamp printed; the next read starts there.
    pub since_ms: i64,
    /// The ids printed at `since_ms`, so that millisecond is not printed twice.
    seen_at_since: BTreeSet<String>,
}

impl Cursor {
    pub fn starting_at(since_ms: i64) -> Self {
        Self { since_ms, seen_at_since: BTreeSet::new() }
    }

    /// Keep the lines not yet printed, in time order, and move past them.
    pub fn advance(&mut self, mut lines: Vec<LogLine>) -> Vec<LogLine> {
        lines.sort_by_key(|l| l.timestamp);
        let fresh: Vec<LogLine> =
            lines.into_iter().filter(|l| l.timestamp > self.since_ms || !self.seen_at_since.contains(&l.id)).collect();
        if let Some(newest) = fresh.iter().map(|l| l.timestamp).max() {
            if newest > self.since_ms {
                self.since_ms = newest;
                self.seen_at_since.clear();
            }
            self.seen_at_since.extend(fresh.iter().filter(|l| l.timestamp == newest).map(|l| l.id.clone()));
        }
        fresh
    }
}

impl Operator<'_> {
    /// Every event of `group` since `since_ms`, all pages. A log group that does not
    /// exist is an error naming what to do.
    pub async fn log_events(&self, group: &str, since_ms: i64) -> Result<Vec<LogLine>, ResourceError> {
        let mut lines = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call("logs", || async {
                    self.aws
                        .logs
                        .filter_log_events()
                        .log_group_name(group)
                        .start_time(since_ms)
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(aws("FilterLogEvents"))
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) if e.is_not_found() => {
                    return Err(ResourceError::fatal(format!(
                        "log group {group} does not exist: run `temporalctl up` first (it creates the log groups)"
                    )));
                }
                Err(e) => return Err(e),
            };
            lines.extend(page.events().iter().map(|e| LogLine {
                timestamp: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().trim_end().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_string()),
                _ => return Ok(lines),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: i64, id: &str) -> LogLine {
        LogLine { timestamp: ts, stream: "s".into(), message: id.into(), id: id.into() }
    }

    #[test]
    fn a_follow_prints_each_event_once_even_at_the_same_millisecond() {
        let mut c = Cursor::starting_at(100);
        let first = c.advance(vec![line(120, "b"), line(110, "a"), line(120, "c")]);
        assert_eq!(first.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(c.since_ms, 120);
        // The next read starts at 120 inclusive: b and c come back, d is new at 120.
        let second = c.advance(vec![line(120, "b"), line(120, "c"), line(120, "d"), line(130, "e")]);
        assert_eq!(second.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["d", "e"]);
        assert_eq!(c.advance(vec![line(130, "e")]), Vec::<LogLine>::new());
    }
}
