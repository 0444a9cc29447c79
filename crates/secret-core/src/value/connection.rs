//! Parsing of connection strings, in URL form (`scheme://user:pass@host:port/db?...`) and in
//! `key=value;` form (ADO.NET, ODBC, JDBC-less drivers), into their non-secret parts.
//!
//! Neither parser copies the password: the URL parser hands the `url` crate a string rebuilt
//! without user info, query and fragment, and the `key=value` parser copies only the values of
//! the keys it reports (host, port, database, user).

use url::{Host, Url};

use super::types::ParsedConnection;

/// What a connection string says about where it connects, never the password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConnectionInfo {
    /// The URL scheme (`postgres`, `jdbc:mysql`), for URL-form strings.
    pub(crate) scheme: Option<String>,
    /// Host, port, database and user.
    pub(crate) parsed: ParsedConnection,
}

impl ConnectionInfo {
    /// A display form for masking: `scheme://host:port/db`, or `host:port/db` for the
    /// `key=value` form; `None` when the host is unknown.
    pub(crate) fn location(&self) -> Option<String> {
        let host = self.parsed.host.as_deref()?;
        let mut out = match &self.scheme {
            Some(scheme) => format!("{scheme}://"),
            None => String::new(),
        };
        if host.contains(':') {
            out.push_str(&format!("[{host}]"));
        } else {
            out.push_str(host);
        }
        if let Some(port) = self.parsed.port {
            out.push_str(&format!(":{port}"));
        }
        if let Some(database) = &self.parsed.database {
            out.push('/');
            out.push_str(database);
        }
        Some(out)
    }
}

/// Why a connection string was refused. Fixed texts: they never quote the string.
pub(crate) type ConnectionError = &'static str;

const NEITHER_FORM: ConnectionError =
    "is neither a URL (scheme://host/...) nor a key=value; connection string";
const BAD_URL: ConnectionError = "is not a valid connection URL";
const BAD_PORT: ConnectionError = "has a port that is not a number from 1 to 65535";

/// Parses a connection string in either form.
pub(crate) fn parse(s: &str) -> Result<ConnectionInfo, ConnectionError> {
    let s = s.trim();
    match url_scheme(s) {
        Some(scheme) => parse_url(s, scheme),
        None => parse_key_value(s),
    }
}

/// The scheme if `s` starts with `scheme://` (a scheme may be compound, as in `jdbc:mysql`).
fn url_scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let valid = scheme.split(':').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    valid.then_some(scheme)
}

/// Parses `scheme://[user[:password]@]host[:port][,host2...][/path][?query][#fragment]`.
fn parse_url(s: &str, scheme: &str) -> Result<ConnectionInfo, ConnectionError> {
    let after_scheme = &s[scheme.len() + 3..];
    if after_scheme.is_empty() {
        return Err(BAD_URL);
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "sqlserver" || scheme == "jdbc:sqlserver" {
        return parse_sqlserver_url(after_scheme, scheme);
    }
    // The user info ends at the last '@' before any query or fragment, so an unescaped '/'
    // or '@' in a password cannot make part of it pass for the host or the path.
    let before_query = after_scheme.split(['?', '#']).next().unwrap_or_default();
    let (userinfo, host_and_path) = match before_query.rfind('@') {
        Some(at) => (Some(&before_query[..at]), &before_query[at + 1..]),
        None => (None, before_query),
    };
    let (hosts, path) = match host_and_path.find('/') {
        Some(slash) => host_and_path.split_at(slash),
        None => (host_and_path, ""),
    };
    // Several hosts (MongoDB, PostgreSQL multi-host): each must be valid; the first is reported.
    let mut first: Option<(Option<String>, Option<u16>)> = None;
    for host in hosts.split(',') {
        let parsed = parse_host_port(host)?;
        first.get_or_insert(parsed);
    }
    let (host, port) = first.unwrap_or((None, None));

    let database = percent_decode(path.trim_start_matches('/'));
    let username = userinfo
        .map(|info| info.split(':').next().unwrap_or_default())
        .map(percent_decode)
        .filter(|user| !user.is_empty());
    let parsed = ParsedConnection {
        host,
        port,
        database: (!database.is_empty()).then_some(database),
        username,
    };
    Ok(ConnectionInfo {
        scheme: Some(scheme),
        parsed,
    })
}

/// Parses Microsoft's JDBC form, `sqlserver://host[\\instance][:port][;key=value...]`, which
/// has no user info: user and password are `;` properties.
fn parse_sqlserver_url(
    after_scheme: &str,
    scheme: String,
) -> Result<ConnectionInfo, ConnectionError> {
    let (server, properties) = after_scheme.split_once(';').unwrap_or((after_scheme, ""));
    let (host, port) = split_server(server)?;
    let properties = if properties
        .trim_matches(|c: char| c == ';' || c.is_whitespace())
        .is_empty()
    {
        ParsedConnection::default()
    } else {
        parse_key_value(properties)?.parsed
    };
    let parsed = ParsedConnection {
        host: host.or(properties.host),
        port: port.or(properties.port),
        database: properties.database,
        username: properties.username,
    };
    Ok(ConnectionInfo {
        scheme: Some(scheme),
        parsed,
    })
}

/// Validates one `host[:port]` of a URL with the `url` crate (which never sees a password).
fn parse_host_port(host_port: &str) -> Result<(Option<String>, Option<u16>), ConnectionError> {
    if host_port.is_empty() {
        return Ok((None, None));
    }
    let url = Url::parse(&format!("generic://{host_port}/")).map_err(|_| BAD_URL)?;
    let host = match url.host() {
        Some(Host::Domain(domain)) if !domain.is_empty() => Some(percent_decode(domain)),
        Some(Host::Ipv4(ip)) => Some(ip.to_string()),
        Some(Host::Ipv6(ip)) => Some(ip.to_string()),
        _ => None,
    };
    match url.port() {
        Some(0) => Err(BAD_PORT),
        port => Ok((host, port)),
    }
}

/// Parses `Key=Value;Key2="quoted;value";Key3={braced}` strings.
fn parse_key_value(s: &str) -> Result<ConnectionInfo, ConnectionError> {
    let mut parsed = ParsedConnection::default();
    let mut explicit_port = None;
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
        let key = normalise_key(key);
        if key.is_empty() {
            return Err(NEITHER_FORM);
        }
        let (value, after_value) = split_value(after_key)?;
        rest = after_value;
        pairs += 1;
        match key.as_str() {
            "server" | "host" | "hostname" | "datasource" | "address" | "addr"
            | "networkaddress" => {
                let (host, port) = split_server(&value.unescape())?;
                parsed.host = host;
                if port.is_some() {
                    parsed.port = port;
                }
            }
            "endpoint" => {
                // Azure-style `Endpoint=sb://host/`: report its host when it parses.
                if parsed.host.is_none()
                    && let Some(scheme) = url_scheme(value.raw.trim())
                {
                    parsed.host = parse_url(value.raw.trim(), scheme)
                        .ok()
                        .and_then(|i| i.parsed.host);
                }
            }
            "port" => explicit_port = Some(parse_port(value.raw.trim())?),
            "database" | "databasename" | "initialcatalog" | "db" | "dbname" => {
                parsed.database = Some(value.unescape()).filter(|d| !d.is_empty());
            }
            "userid" | "uid" | "user" | "username" => {
                parsed.username = Some(value.unescape()).filter(|u| !u.is_empty());
            }
            _ => {}
        }
    }
    if pairs == 0 {
        return Err(NEITHER_FORM);
    }
    if explicit_port.is_some() {
        parsed.port = explicit_port;
    }
    Ok(ConnectionInfo {
        scheme: None,
        parsed,
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
        return Ok(match s.split_once(';') {
            Some((value, rest)) => (
                RawValue {
                    raw: value,
                    escape: None,
                },
                rest,
            ),
            None => (
                RawValue {
                    raw: s,
                    escape: None,
                },
                "",
            ),
        });
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
fn split_server(value: &str) -> Result<(Option<String>, Option<u16>), ConnectionError> {
    let mut server = value.trim();
    for prefix in ["tcp:", "np:", "lpc:", "admin:"] {
        if server.len() >= prefix.len() && server[..prefix.len()].eq_ignore_ascii_case(prefix) {
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

/// A port number from 1 to 65535.
fn parse_port(s: &str) -> Result<u16, ConnectionError> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(BAD_PORT),
        Ok(port) => Ok(port),
    }
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are (lossy).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
