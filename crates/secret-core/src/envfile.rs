//! `.env` files: read as python-dotenv reads them, never expanding anything, and written so
//! that python-dotenv reads back exactly the values that were stored.
//!
//! The contract is python-dotenv's `dotenv_values(stream, interpolate=False)`. The parser
//! is `adotenv` with its `PYTHON_DOTENV` dialect, whose conformance tests were recorded
//! against python-dotenv 1.2: `export` prefixes, single quotes (literal but for `\'` and
//! `\\`), double quotes with their escapes, multi-line quoted values, inline comments after
//! unquoted values, whitespace around `=`, CRLF line endings. `$VAR` and `${VAR}` stay as
//! written: an import must never become a way to read the server's own environment.

use std::collections::HashMap;

use adotenv::{Dialect, ItemKind};

const DIALECT: Dialect = Dialect::PYTHON_DOTENV;

/// A statement of a `.env` file that an import acts on, in file order.
#[derive(Clone, PartialEq, Eq)]
pub enum EnvStatement {
    /// `KEY=value`, `KEY=` (an empty value) or a bare `KEY` (no value: `None`).
    Assignment {
        key: String,
        value: Option<String>,
        /// The one-based line of the key.
        line: usize,
    },
    /// A statement that is not a declaration python-dotenv would read; `message` says what
    /// is wrong and never quotes the line (it may hold a value).
    Invalid { line: usize, message: String },
}

impl std::fmt::Debug for EnvStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvStatement::Assignment { key, value, line } => f
                .debug_struct("Assignment")
                .field("key", key)
                .field("value", &value.as_ref().map(|_| "<redacted>"))
                .field("line", line)
                .finish(),
            EnvStatement::Invalid { line, message } => f
                .debug_struct("Invalid")
                .field("line", line)
                .field("message", message)
                .finish(),
        }
    }
}

impl EnvStatement {
    /// The one-based line the statement starts on.
    pub fn line(&self) -> usize {
        match self {
            EnvStatement::Assignment { line, .. } | EnvStatement::Invalid { line, .. } => *line,
        }
    }
}

/// A key declared more than once: the last declaration wins, as in python-dotenv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDuplicate {
    pub key: String,
    /// The lines of every declaration, in order; the last one is the one used.
    pub lines: Vec<usize>,
}

/// A `.env` file as an import sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    /// One assignment per key (its last declaration) and every statement that could not be
    /// read, in file order.
    pub statements: Vec<EnvStatement>,
    /// The keys declared more than once.
    pub duplicates: Vec<EnvDuplicate>,
}

/// Reads `content` as python-dotenv does (without interpolation). A leading byte-order
/// mark is dropped.
pub fn parse(content: &str) -> EnvFile {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let (doc, _) = adotenv::parse_with(content, DIALECT);
    let mut all = Vec::new();
    for item in doc.items() {
        match item.kind() {
            ItemKind::Entry => {
                if let Some(entry) = item.entry() {
                    all.push(EnvStatement::Assignment {
                        key: entry.key().to_string(),
                        value: entry.value().map(str::to_string),
                        line: entry.line(),
                    });
                }
            }
            ItemKind::Invalid | ItemKind::Ignored => {
                let line = item
                    .diagnostic()
                    .map(adotenv::Diagnostic::line)
                    .unwrap_or_else(|| line_of(content, item.span().start));
                let message = item.diagnostic().map_or_else(
                    || "not a KEY=value statement".to_string(),
                    |d| format!("not a KEY=value statement: {}", d.message()),
                );
                all.push(EnvStatement::Invalid { line, message });
            }
            _ => {}
        }
    }
    let mut lines_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for s in &all {
        if let EnvStatement::Assignment { key, line, .. } = s {
            lines_of.entry(key.as_str()).or_default().push(*line);
        }
    }
    let mut duplicates: Vec<EnvDuplicate> = lines_of
        .iter()
        .filter(|(_, lines)| lines.len() > 1)
        .map(|(key, lines)| EnvDuplicate {
            key: (*key).to_string(),
            lines: lines.clone(),
        })
        .collect();
    duplicates.sort_by_key(|d| d.lines.last().copied());
    let last: HashMap<&str, usize> = lines_of
        .iter()
        .filter_map(|(k, lines)| lines.last().map(|l| (*k, *l)))
        .collect();
    let statements = all
        .iter()
        .filter(|s| match s {
            EnvStatement::Assignment { key, line, .. } => last.get(key.as_str()) == Some(line),
            EnvStatement::Invalid { .. } => true,
        })
        .cloned()
        .collect();
    EnvFile {
        statements,
        duplicates,
    }
}

fn line_of(content: &str, offset: usize) -> usize {
    content
        .get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// `KEY=value` spelled so that python-dotenv reads back exactly `key` and `value`, without
/// expanding anything; `None` when no spelling does (a key python-dotenv cannot read
/// unquoted, or a value with characters no quoting carries).
pub fn encode_assignment(key: &str, value: &str) -> Option<String> {
    let plain_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !plain_key {
        return None;
    }
    let token = adotenv::encode_value_with(value, DIALECT).ok()?;
    // python-dotenv interpolates `$` unless told not to; keep a value with `$` in single
    // quotes when that spelling exists, so that even a reader that interpolates by
    // default leaves it alone.
    let token = if value.contains('$') && !token.starts_with('\'') {
        single_quoted(value).unwrap_or(token)
    } else {
        token
    };
    let line = format!("{key}={token}");
    reads_back(&line, key, value).then_some(line)
}

/// `'value'` when the single-quoted spelling reads back exactly (python-dotenv decodes
/// `\'` and `\\` inside single quotes and nothing else).
fn single_quoted(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    reads_back(&format!("K={out}"), "K", value).then_some(out)
}

/// Whether `line` alone reads as exactly one declaration of `key` with `value`.
fn reads_back(line: &str, key: &str, value: &str) -> bool {
    let source = format!("{line}\n");
    let file = parse(&source);
    matches!(
        file.statements.as_slice(),
        [EnvStatement::Assignment { key: k, value: Some(v), .. }] if k == key && v == value
    )
}

/// The key/value map python-dotenv reads from `content` (the last declaration of a key
/// wins; bare keys and unreadable statements are left out).
pub fn values(content: &str) -> Vec<(String, String)> {
    parse(content)
        .statements
        .into_iter()
        .filter_map(|s| match s {
            EnvStatement::Assignment {
                key,
                value: Some(value),
                ..
            } => Some((key, value)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn pairs(content: &str) -> Vec<(String, Option<String>, usize)> {
        parse(content)
            .statements
            .into_iter()
            .map(|s| match s {
                EnvStatement::Assignment { key, value, line } => (key, value, line),
                EnvStatement::Invalid { line, message } => panic!("line {line}: {message}"),
            })
            .collect()
    }

    fn one(content: &str) -> (String, Option<String>) {
        let mut p = pairs(content);
        assert_eq!(p.len(), 1, "{content:?}");
        let (k, v, _) = p.remove(0);
        (k, v)
    }

    #[test]
    fn the_forms_python_dotenv_reads() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("A=plain", "A", Some("plain")),
            ("export B=exported", "B", Some("exported")),
            ("C = spaced ", "C", Some("spaced")),
            ("D='single $HOME \\n'", "D", Some("single $HOME \\n")),
            (
                "E=\"double \\n \\\" \\\\ end\"",
                "E",
                Some("double \n \" \\ end"),
            ),
            ("F=value # a comment", "F", Some("value")),
            ("G=a#b", "G", Some("a#b")),
            ("H=", "H", Some("")),
            ("I", "I", None),
            ("J=\"two\nlines\"", "J", Some("two\nlines")),
            ("K='it\\'s'", "K", Some("it's")),
        ];
        for (content, key, value) in cases {
            let (k, v) = one(content);
            assert_eq!(k, *key, "{content:?}");
            assert_eq!(v.as_deref(), *value, "{content:?}");
        }
    }

    #[test]
    fn nothing_is_expanded_from_the_environment_or_the_file() {
        let file = "HOME_COPY=$HOME\nKEY=${SECRETS_MASTER_KEY}\nREF=\"${HOME_COPY}/x\"\n";
        let p = pairs(file);
        let got: Vec<_> = p
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("HOME_COPY", Some("$HOME")),
                ("KEY", Some("${SECRETS_MASTER_KEY}")),
                ("REF", Some("${HOME_COPY}/x")),
            ]
        );
    }

    #[test]
    fn crlf_a_bom_and_lines() {
        let p = pairs("\u{feff}A=1\r\n# note\r\nB=\"x\r\ny\"\r\nC=3\r\n");
        let got: Vec<_> = p
            .iter()
            .map(|(k, v, l)| (k.as_str(), v.as_deref(), *l))
            .collect();
        assert_eq!(got[0], ("A", Some("1"), 1));
        assert_eq!(got[1].0, "B");
        assert_eq!(got[1].2, 3);
        assert_eq!(got[2], ("C", Some("3"), 5));
    }

    #[test]
    fn the_last_duplicate_wins_and_is_reported() {
        let file = parse("A=1\nB=2\nA=3\n");
        assert_eq!(
            file.duplicates,
            [EnvDuplicate {
                key: "A".into(),
                lines: vec![1, 3]
            }]
        );
        let got: Vec<_> = values("A=1\nB=2\nA=3\n");
        assert_eq!(
            got,
            [("B".to_string(), "2".to_string()), ("A".into(), "3".into())]
        );
    }

    #[test]
    fn an_unreadable_statement_is_reported_without_its_text() {
        let file = parse("GOOD=1\nA=\"never closed\nB=2\n");
        let invalid: Vec<_> = file
            .statements
            .iter()
            .filter_map(|s| match s {
                EnvStatement::Invalid { line, message } => Some((*line, message.clone())),
                EnvStatement::Assignment { .. } => None,
            })
            .collect();
        assert!(!invalid.is_empty(), "{file:?}");
        assert_eq!(invalid[0].0, 2);
        assert!(!invalid[0].1.contains("never closed"));
    }

    #[test]
    fn encoded_values_read_back_exactly() {
        let hard = [
            "plain",
            "two words",
            " leading and trailing ",
            "new\nline",
            "carriage\r\nreturn",
            "tab\there",
            "quote \" double",
            "quote ' single",
            "both ' and \"",
            "hash # here",
            "#starts",
            "$HOME and ${SECRETS_MASTER_KEY}",
            "back\\slash \\n literal",
            "ends with backslash\\",
            "=equals=",
            "unicode é 秘密 🔑",
            "'",
            "\"",
        ];
        for value in hard {
            let line = encode_assignment("NAME", value).expect(value);
            let read = values(&format!("{line}\n"));
            assert_eq!(read, [("NAME".to_string(), value.to_string())], "{line}");
        }
    }

    #[test]
    fn a_dollar_is_single_quoted_where_it_can_be() {
        assert_eq!(
            encode_assignment("A", "$HOME").as_deref(),
            Some("A='$HOME'")
        );
    }

    #[test]
    fn keys_python_dotenv_cannot_read_are_refused() {
        assert!(encode_assignment("has space", "v").is_none());
        assert!(encode_assignment("", "v").is_none());
        assert!(encode_assignment("A=B", "v").is_none());
    }

    #[test]
    fn debug_never_shows_a_value() {
        let file = parse("A=hunter2\n");
        assert!(!format!("{file:?}").contains("hunter2"));
    }
}
