//! Request counts and latency histograms by route pattern, method and status, rendered in
//! the Prometheus text exposition format (0.0.4).
//!
//! One series per (route, method, status): a read lock finds it and atomics count, so the
//! write lock is taken only the first time a series is seen. Labels are bounded: routes are
//! patterns (`/api/secrets/{id}`), never raw paths, and unmatched paths share one label.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The route label of requests that match no route.
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeriesKey {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Default)]
struct Series {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// The metrics of one server.
#[derive(Default)]
pub(crate) struct Metrics {
    series: RwLock<HashMap<SeriesKey, Arc<Series>>>,
}

/// The method label: the standard methods by name, anything else as `OTHER`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one finished request.
    pub(crate) fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let key = SeriesKey {
            route: route.to_owned(),
            method: method_label(method),
            status,
        };
        let existing = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let series = match existing {
            Some(series) => series,
            None => self
                .series
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_default()
                .clone(),
        };
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        series.buckets[slot].fetch_add(1, Ordering::Relaxed);
        series.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        series.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The exposition text of every series, sorted by route, method and status.
    pub(crate) fn render(&self) -> String {
        let mut series: Vec<(SeriesKey, Arc<Series>)> = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let labels = |k: &SeriesKey| {
            format!(
                "method=\"{}\",route=\"{}\",status=\"{}\"",
                k.method,
                escape(&k.route),
                k.status
            )
        };
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests answered, by route pattern, method and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (key, s) in &series {
            let _ = writeln!(
                out,
                "http_requests_total{{{}}} {}",
                labels(key),
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer HTTP requests, by route pattern, method and status.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (key, s) in &series {
            let labels = labels(key);
            let mut cumulative = 0u64;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let sum = s.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                s.count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("/api/secrets/{id}", "GET", 200, Duration::from_millis(3));
        m.observe("/api/secrets/{id}", "GET", 200, Duration::from_millis(30));
        m.observe(UNMATCHED_ROUTE, "BREW", 404, Duration::from_secs(9));
        let text = m.render();
        assert!(text.contains(
            "http_requests_total{method=\"GET\",route=\"/api/secrets/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/secrets/{id}\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/secrets/{id}\",status=\"200\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("method=\"OTHER\",route=\"unmatched\",status=\"404\"} 1"));
    }
}
