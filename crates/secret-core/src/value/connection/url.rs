//! URL-form connection strings: `scheme://[user[:password]@]host[:port][,host2...][/db][?query]`,
//! and Microsoft's JDBC form `sqlserver://host[\instance][:port][;key=value...]`.
//!
//! A password pasted unescaped may hold `/ ? # ;`, so the authority cannot be cut at the first
//! of them, and `@`, so the user info cannot end at the first one either. Every `@` is therefore
//! tried as the end of the user info, and so is "no user info". A reading is valid when its user
//! name has no `/ ? #` and its hosts are plain host names with numeric ports; it is plausible when,
//! besides, its user name has no `= ( ) , ;` and every `@` after its hosts follows a `=` (as in
//! queries and JDBC properties holding e-mail addresses and passwords). Facts are reported only
//! when exactly one reading is plausible and every later `@` is plainly inside query text.

use std::iter;
use std::net::Ipv6Addr;

use super::{
    BAD_URL, ConnectionError, ConnectionInfo, ParsedConnection, Reading, is_host_name,
    is_plain_name, pairs, parse_port, percent_decode,
};

/// The scheme if `s` starts with `scheme://` (a scheme may be compound, as in `jdbc:mysql`).
pub(super) fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let valid = scheme.split(':').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    valid.then_some(scheme)
}

/// Parses a URL-form string whose scheme is `scheme` (as [`scheme_of`] found it).
pub(super) fn parse(s: &str, scheme: &str) -> Result<ConnectionInfo, ConnectionError> {
    let rest = s.get(scheme.len() + 3..).unwrap_or_default();
    if rest.is_empty() {
        return Err(BAD_URL);
    }
    let scheme = scheme.to_ascii_lowercase();
    let reading = if scheme == "sqlserver" || scheme == "jdbc:sqlserver" {
        read_sqlserver(rest)?
    } else {
        read_after_scheme(rest)?
    };
    Ok(ConnectionInfo {
        prefix: Some(format!("{scheme}://")),
        parsed: reading.into_facts(),
    })
}

/// One way of reading the part after `scheme://`.
struct Candidate {
    /// What this reading reports.
    parsed: ParsedConnection,
    /// Whether every `@` after the hosts is inside a `key=value`.
    plausible: bool,
}

/// Reads the part after `scheme://`, trying every `@` (and none) as the end of the user info.
pub(super) fn read_after_scheme(rest: &str) -> Result<Reading, ConnectionError> {
    let ends: Vec<Option<usize>> = iter::once(None)
        .chain(rest.match_indices('@').map(|(i, _)| Some(i)))
        .collect();
    let mut plausible = Vec::new();
    let mut any_valid = false;
    let mut last_error = BAD_URL;
    for &end in &ends {
        match read_with_user_info_end(rest, end) {
            Ok(candidate) => {
                any_valid = true;
                if candidate.plausible {
                    plausible.push((end, candidate.parsed));
                }
            }
            Err(e) => last_error = e,
        }
    }
    if plausible.len() == 1
        && let Some((end, parsed)) = plausible.pop()
    {
        // A later `@` lies in what this reading takes for the path or query. Were that `@` the
        // real end of the user info, this reading's facts would come from the password; so each
        // must be one that cannot end a user info, or be followed by plain query text.
        let later_are_query_text = ends
            .iter()
            .filter(|&&later| later > end)
            .all(|&later| later.is_some_and(|at| is_query_text_after(rest, at)));
        return Ok(if later_are_query_text {
            Reading::Certain(parsed)
        } else {
            Reading::Uncertain
        });
    }
    if any_valid || is_mysql_host_list(rest) {
        return Ok(Reading::Uncertain);
    }
    Err(last_error)
}

/// Reads `rest` taking the `@` at `end` (or none) as the end of the user info.
fn read_with_user_info_end(rest: &str, end: Option<usize>) -> Result<Candidate, ConnectionError> {
    let (user_info, tail) = match end {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut plain_user = true;
    let username = match user_info {
        Some(info) => {
            let user = user_name_of(info).ok_or(BAD_URL)?;
            // Possible, but more likely a key=value list taken for a user name.
            plain_user = !user.contains(['=', '(', ')', ',', ';']);
            Some(percent_decode(user)).filter(|u| !u.is_empty())
        }
        None => None,
    };
    let (authority, remainder) = split_authority(tail);
    let (host, port) = parse_hosts(authority)?;
    let database = remainder
        .strip_prefix('/')
        .map(|path| path.split(['?', '#']).next().unwrap_or_default())
        .filter(|path| is_plain_name(path, |c| matches!(c, '-' | '.' | '_' | '~' | '$')))
        .map(percent_decode);
    Ok(Candidate {
        parsed: ParsedConnection {
            host,
            port,
            database,
            username,
        },
        plausible: plain_user && every_at_is_in_a_value(remainder),
    })
}

/// The user name of a user info (up to its first `:`), unless it holds `/ ? #`, which a user
/// name does not but a path or query does.
fn user_name_of(user_info: &str) -> Option<&str> {
    let user = user_info.split(':').next().unwrap_or_default();
    (!user.contains(['/', '?', '#'])).then_some(user)
}

/// Whether the text after the `@` at `at` cannot be a user info's end followed by hosts, being
/// query text: its user name is impossible, or its "hosts" hold `=` or `&`.
fn is_query_text_after(rest: &str, at: usize) -> bool {
    if user_name_of(&rest[..at]).is_none() {
        return true;
    }
    let (authority, _) = split_authority(&rest[at + 1..]);
    authority.contains(['=', '&'])
}

/// Splits the host list from what follows it (`/path`, `?query`, `#fragment`, `;properties`).
fn split_authority(tail: &str) -> (&str, &str) {
    match tail.find(['/', '?', '#', ';']) {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    }
}

/// Whether every `@` in the path, query or fragment follows a `=`, as in `?user=me@example.com`
/// or `;password=p@ss`. Any `=` before it counts, not only one in its own `&`-separated part: a
/// password in a query may itself hold `& ; # ?`, and a looser test only makes more readings
/// plausible, so fewer strings certain.
fn every_at_is_in_a_value(remainder: &str) -> bool {
    remainder
        .find('@')
        .is_none_or(|at| remainder[..at].contains('='))
}

/// Whether the hosts are in MySQL Connector/J's key-value syntax,
/// `(host=h,port=3306)` or `address=(host=h)(port=3306)`, which is read for no facts.
fn is_mysql_host_list(rest: &str) -> bool {
    let hosts = rest.rsplit('@').next().unwrap_or_default();
    [rest, hosts].iter().any(|part| {
        part.starts_with('(')
            || part.starts_with("[(")
            || part
                .get(..8)
                .is_some_and(|head| head.eq_ignore_ascii_case("address="))
    })
}

/// Parses a comma-separated host list (MongoDB, libpq multi-host); reports the first host.
fn parse_hosts(authority: &str) -> Result<(Option<String>, Option<u16>), ConnectionError> {
    if authority.is_empty() {
        return Ok((None, None));
    }
    let mut first = None;
    for host_port in authority.split(',') {
        let parsed = parse_host_port(host_port)?;
        first.get_or_insert(parsed);
    }
    Ok(first.unwrap_or((None, None)))
}

/// Parses one `host[:port]` or `[ipv6][:port]`.
fn parse_host_port(host_port: &str) -> Result<(Option<String>, Option<u16>), ConnectionError> {
    let (host, port) = if let Some(after) = host_port.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or(BAD_URL)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| BAD_URL)?;
        let port = match tail {
            "" => None,
            tail => Some(tail.strip_prefix(':').ok_or(BAD_URL)?),
        };
        (ip.to_string(), port)
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if !is_host_name(host) {
            return Err(BAD_URL);
        }
        (percent_decode(host), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(parse_port(port)?),
    };
    Ok((Some(host), port))
}

/// Reads Microsoft's JDBC form, `host[\instance][:port][;key=value...]` after the scheme, which
/// has no user info: user and password are `;` properties.
fn read_sqlserver(rest: &str) -> Result<Reading, ConnectionError> {
    let (server, properties) = rest.split_once(';').unwrap_or((rest, ""));
    let properties = if properties
        .trim_matches(|c: char| c == ';' || c.is_whitespace())
        .is_empty()
    {
        Reading::Certain(ParsedConnection::default())
    } else {
        pairs::parse(properties)?
    };
    let (host, port) = pairs::split_server(server)?;
    let plain_server = !server.contains('@') && host.as_deref().is_none_or(pairs::is_server_name);
    let Reading::Certain(properties) = properties else {
        return Ok(Reading::Uncertain);
    };
    if !plain_server {
        return Ok(Reading::Uncertain);
    }
    Ok(Reading::Certain(ParsedConnection {
        host: host.or(properties.host),
        port: port.or(properties.port),
        database: properties.database,
        username: properties.username,
    }))
}
