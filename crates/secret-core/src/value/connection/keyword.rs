//! libpq's keyword/value form:
//! `host=pg.example.com port=5432 dbname=app user=u password='p w\'x' sslmode=verify-full`.
//!
//! Tokenised as libpq's `conninfo_parse` does: pairs are separated by white space, white space
//! may surround `=`, a value is either single-quoted or runs to the next white space, and `\`
//! escapes the next character in both. Keywords are libpq's own and case-sensitive: a string
//! with any other keyword is not in this form. The reading is uncertain (no facts) when a
//! reported keyword is given twice, when a host is not a plain host name, or when `dbname` is
//! itself a connection string (libpq expands it).

use super::{ConnectionError, ParsedConnection, Reading, is_plain_name, parse_port};

/// libpq's connection keywords (PostgreSQL 17/18).
const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslkeylogfile",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requiressl",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "min_protocol_version",
    "max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// The keywords whose values are reported; each may be given once for a certain reading.
const REPORTED: &[&str] = &["host", "hostaddr", "port", "dbname", "user"];

/// One `keyword=value` pair as written.
struct Pair<'a> {
    /// The keyword.
    key: &'a str,
    /// The value between its quotes, or as written when unquoted; escapes not undone.
    raw: &'a str,
}

impl Pair<'_> {
    /// The value with `\` escapes undone. Only ever called for reported keywords.
    fn value(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                out.extend(chars.next());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// Reads `s` in libpq's keyword form: `None` when it is not in this form, else its reading, or
/// an error for a port that is not a number.
pub(super) fn parse(s: &str) -> Option<Result<Reading, ConnectionError>> {
    let pairs = tokenise(s)?;
    if pairs.is_empty() || pairs.iter().any(|pair| !KEYWORDS.contains(&pair.key)) {
        return None;
    }
    Some(read(&pairs))
}

/// White space as C's `isspace` has it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits `s` into pairs as libpq does; `None` on a missing `=` or an unterminated quote.
/// Slices are only ever cut before an ASCII byte or at the end, so at char boundaries.
fn tokenise(s: &str) -> Option<Vec<Pair<'_>>> {
    let b = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !is_space(b[i]) {
            i += 1;
        }
        let key = &s[start..i];
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if b.get(i) == Some(&b'\'') {
            i += 1;
            let value_start = i;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'\\') => i += 2,
                    Some(b'\'') => break,
                    Some(_) => i += 1,
                }
            }
            pairs.push(Pair {
                key,
                raw: &s[value_start..i],
            });
            i += 1;
        } else {
            let value_start = i;
            while i < b.len() && !is_space(b[i]) {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = i.min(b.len());
            pairs.push(Pair {
                key,
                raw: &s[value_start..i],
            });
        }
    }
    Some(pairs)
}

/// The facts of tokenised pairs whose keywords are all libpq's.
fn read(pairs: &[Pair<'_>]) -> Result<Reading, ConnectionError> {
    let mut certain = true;
    let mut seen: Vec<&str> = Vec::new();
    let mut parsed = ParsedConnection::default();
    let mut hostaddr = None;
    for pair in pairs {
        if !REPORTED.contains(&pair.key) {
            continue;
        }
        if seen.contains(&pair.key) {
            certain = false;
        }
        seen.push(pair.key);
        let value = pair.value();
        match pair.key {
            "host" => parsed.host = first_host(&value, &mut certain),
            "hostaddr" => hostaddr = first_host(&value, &mut certain),
            "port" => parsed.port = first_port(&value)?,
            "dbname" => {
                // A dbname holding `=` or a URL is a connection string that libpq expands.
                if value.contains('=') || value.contains("://") {
                    certain = false;
                }
                parsed.database = Some(value).filter(|d| !d.is_empty());
            }
            _ => {
                // A user holding `=` or a URL is more likely another form's text run together
                // (`user =x/m://u:pw@h`) than a user name: no facts rather than wrong ones.
                if value.contains('=') || value.contains("://") {
                    certain = false;
                }
                parsed.username = Some(value).filter(|u| !u.is_empty());
            }
        }
    }
    if parsed.host.is_none() {
        parsed.host = hostaddr;
    }
    Ok(if certain {
        Reading::Certain(parsed)
    } else {
        Reading::Uncertain
    })
}

/// The first host of a comma-separated list; clears `certain` unless every host is plain (a
/// name, an address, or a socket directory).
fn first_host(list: &str, certain: &mut bool) -> Option<String> {
    let plain = |host: &str| {
        host.is_empty() || is_plain_name(host, |c| matches!(c, '-' | '.' | '_' | '~' | ':' | '/'))
    };
    if !list.split(',').all(plain) {
        *certain = false;
    }
    list.split(',')
        .next()
        .filter(|host| !host.is_empty())
        .map(str::to_owned)
}

/// The first port of a comma-separated list, where an empty entry means the default.
fn first_port(list: &str) -> Result<Option<u16>, ConnectionError> {
    let mut first = None;
    for (i, port) in list.split(',').enumerate() {
        let port = port.trim();
        let port = if port.is_empty() {
            None
        } else {
            Some(parse_port(port)?)
        };
        if i == 0 {
            first = port;
        }
    }
    Ok(first)
}
