//! The `key=value;` form of ADO.NET, ODBC and Npgsql, also the properties of Microsoft's JDBC
//! URLs: `Server=tcp:h,1433;User ID=u;Password="p;a=ss""word";Database={my;db}`.
//!
//! A value may be quoted with `"` or `'` (the quote doubled inside) or braced with `{}` (`}`
//! doubled), and holds `;` only then; an unquoted value runs to the next `;`. The reading is
//! uncertain (no facts) when a reported key is given twice, when the unquoted value of a reported
//! key holds `=`, when any unquoted value holds a `=` after white space (a libpq keyword string,
//! or a forgotten `;`), or when the server is not a plain server name.

use super::{
    ConnectionError, NEITHER_FORM, ParsedConnection, Reading, is_plain_name, parse_port, url,
};

/// The facts a key may report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// Server and maybe port.
    Host,
    /// Port.
    Port,
    /// Database.
    Database,
    /// User.
    User,
}

impl Field {
    /// The field a (normalised) key reports, if any.
    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "server" | "host" | "hostname" | "datasource" | "address" | "addr"
            | "networkaddress" | "servername" => Field::Host,
            "port" | "portnumber" => Field::Port,
            "database" | "databasename" | "initialcatalog" | "db" | "dbname" => Field::Database,
            "userid" | "uid" | "user" | "username" => Field::User,
            _ => return None,
        })
    }
}

/// Parses `Key=Value;Key2="quoted;value";Key3={braced}` strings.
pub(super) fn parse(s: &str) -> Result<Reading, ConnectionError> {
    let mut parsed = ParsedConnection::default();
    let mut explicit_port = None;
    let mut endpoint_host = None;
    let mut seen: Vec<Field> = Vec::new();
    let mut certain = true;
    let mut pairs = 0usize;
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let (key, after_key) = rest.split_once('=').ok_or(NEITHER_FORM)?;
        if key.contains(';') {
            return Err(NEITHER_FORM);
        }
        // Keys are words (`User ID`, `Initial Catalog`, `trust_server-certificate.x`); any
        // other character means this is not the reading the writer meant.
        if !key
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
        {
            certain = false;
        }
        let key = normalise_key(key);
        if key.is_empty() {
            return Err(NEITHER_FORM);
        }
        let (value, after_value) = split_value(after_key)?;
        rest = after_value;
        pairs += 1;
        let unquoted = value.escape.is_none();
        if unquoted && holds_more_pairs(value.raw) {
            certain = false;
        }
        let field = Field::of(&key);
        if let Some(field) = field {
            // A URL inside an unquoted reported value (`user=x/m://u:pw@h`) is not a user.
            if seen.contains(&field)
                || (unquoted && (value.raw.contains('=') || value.raw.contains("://")))
            {
                certain = false;
            }
            seen.push(field);
        }
        match field {
            Some(Field::Host) => {
                let (host, port) = split_server(&value.unescape())?;
                if host.as_deref().is_some_and(|h| !is_server_name(h)) {
                    certain = false;
                }
                parsed.host = host;
                if port.is_some() {
                    parsed.port = port;
                }
            }
            Some(Field::Port) => explicit_port = Some(parse_port(value.raw.trim())?),
            Some(Field::Database) => {
                parsed.database = Some(value.unescape()).filter(|d| !d.is_empty());
            }
            Some(Field::User) => {
                parsed.username = Some(value.unescape()).filter(|u| !u.is_empty());
            }
            None if key == "endpoint" => {
                // Azure-style `Endpoint=sb://host/`: its host, when the URL reads with certainty.
                let endpoint = value.raw.trim();
                if let Some(scheme) = url::scheme_of(endpoint)
                    && let Ok(reading) =
                        url::read_after_scheme(endpoint.get(scheme.len() + 3..).unwrap_or_default())
                {
                    match reading {
                        Reading::Certain(p) => endpoint_host = p.host,
                        Reading::Uncertain => certain = false,
                    }
                }
            }
            None => {}
        }
    }
    if pairs == 0 {
        return Err(NEITHER_FORM);
    }
    if explicit_port.is_some() {
        parsed.port = explicit_port;
    }
    if parsed.host.is_none() {
        parsed.host = endpoint_host;
    }
    Ok(if certain {
        Reading::Certain(parsed)
    } else {
        Reading::Uncertain
    })
}

/// Whether an unquoted value holds a `=` after white space, as `h port=5432` does when a libpq
/// keyword string (or one with a forgotten `;`) is read in this form.
fn holds_more_pairs(raw: &str) -> bool {
    let raw = raw.trim();
    raw.find(char::is_whitespace)
        .is_some_and(|space| raw[space..].contains('='))
}

/// Whether a server name is plain: a host name, an IPv6 address, a socket directory, or SQL
/// Server's `host\instance`, `(local)`, `(localdb)\name`.
pub(super) fn is_server_name(host: &str) -> bool {
    is_plain_name(host, |c| {
        matches!(
            c,
            '-' | '.' | '_' | '~' | '\\' | '(' | ')' | '$' | ':' | '[' | ']' | '/'
        )
    })
}

/// Lower case without spaces or underscores: `User Id` and `user_id` become `userid`.
fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A value as written, with how it was quoted.
struct RawValue<'a> {
    /// The value between its quotes, or up to the `;` when unquoted.
    raw: &'a str,
    /// The closing quote whose doubling escapes it inside the value (`"`, `'` or `}`).
    escape: Option<char>,
}

impl RawValue<'_> {
    /// The value with quoting undone. Only ever called for non-secret keys.
    fn unescape(&self) -> String {
        match self.escape {
            Some(q) => self.raw.replace(&format!("{q}{q}"), &q.to_string()),
            None => self.raw.trim().to_owned(),
        }
    }
}

/// Splits the value after `=` from the rest of the string (after its `;`).
fn split_value(s: &str) -> Result<(RawValue<'_>, &str), ConnectionError> {
    let trimmed = s.trim_start();
    let close = match trimmed.chars().next() {
        Some('"') => Some('"'),
        Some('\'') => Some('\''),
        Some('{') => Some('}'),
        _ => None,
    };
    let Some(close) = close else {
        let (raw, rest) = s.split_once(';').unwrap_or((s, ""));
        return Ok((RawValue { raw, escape: None }, rest));
    };
    let body = &trimmed[1..];
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != close {
            continue;
        }
        if chars.peek().is_some_and(|&(_, next)| next == close) {
            chars.next();
            continue;
        }
        let after = body[i + 1..].trim_start();
        let rest = match after.strip_prefix(';') {
            Some(rest) => rest,
            None if after.is_empty() => "",
            None => return Err(NEITHER_FORM),
        };
        return Ok((
            RawValue {
                raw: &body[..i],
                escape: Some(close),
            },
            rest,
        ));
    }
    Err("has a quoted value without its closing quote")
}

/// Splits a server value: `tcp:host,1433`, `host,1433`, `host:5432`, `host\instance`.
pub(super) fn split_server(value: &str) -> Result<(Option<String>, Option<u16>), ConnectionError> {
    let mut server = value.trim();
    for prefix in ["tcp:", "np:", "lpc:", "admin:"] {
        if server
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        {
            server = &server[prefix.len()..];
            break;
        }
    }
    let (host, port) = if let Some((host, port)) = server.split_once(',') {
        (host, Some(parse_port(port.trim())?))
    } else if let Some((host, port)) = server.rsplit_once(':')
        && !host.contains(':')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
    {
        (host, Some(parse_port(port)?))
    } else {
        (server, None)
    };
    let host = host.trim();
    Ok(((!host.is_empty()).then(|| host.to_owned()), port))
}
