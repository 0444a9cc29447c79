//! The UI's pages: one askama template each (`templates/ui/`), with the view models they
//! show. Templates escape everything they print.

use actix_web::HttpResponse;
use askama::Template;
use chrono::{DateTime, Utc};
use secret_access::Action;
use secret_core::model::SecretMetadata;
use secret_core::{SecretError, SecretScope, SecretType};

use super::super::error::ApiError;
use super::page;

/// A query or form value trimmed; `None` when absent or blank.
pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// `url`-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Expiry within this many days is shown as a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
pub(crate) struct SignInPage<'a> {
    pub(crate) csrf: &'a str,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    /// Whether the development sign-in page exists (`--dev`).
    pub(crate) dev: bool,
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

/// The page answering `err`, with the status and code the API gives it.
pub(crate) fn error_page(err: SecretError) -> HttpResponse {
    let api = ApiError::from_secret(err, "");
    let (status, code, message) = api.parts();
    page(
        status,
        ErrorPage {
            status: status.as_u16(),
            code,
            message,
        }
        .render(),
    )
}

/// The status the API answers `err` with, and the error as one line (`CODE: message`)
/// for a page that shows it above its form.
pub(crate) fn error_line(err: SecretError) -> (actix_web::http::StatusCode, String) {
    let api = ApiError::from_secret(err, "");
    let (status, code, message) = api.parts();
    (status, format!("{code}: {message}"))
}

/// One option of a filter's drop-down.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

/// The scope choices, `selected` marked.
pub(crate) fn scope_choices(selected: Option<SecretScope>) -> Vec<Choice> {
    SecretScope::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().to_string(),
            label: title(s.as_str()),
            selected: Some(*s) == selected,
        })
        .collect()
}

/// The type choices, `selected` marked.
pub(crate) fn type_choices(selected: Option<SecretType>) -> Vec<Choice> {
    SecretType::ALL
        .iter()
        .map(|t| Choice {
            value: t.as_str().to_string(),
            label: t.display_name().to_string(),
            selected: Some(*t) == selected,
        })
        .collect()
}

/// `API_KEY` -> `Api Key`.
pub(crate) fn title(code: &str) -> String {
    code.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_string() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a date shows: the day, and a CSS class when it needs attention.
pub(crate) struct Dated {
    pub(crate) text: String,
    /// `""`, `"warn"` (soon or overdue by the rotation interval) or `"danger"` (past).
    pub(crate) class: &'static str,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The expiry: "Never", or the day, warned within 30 days, in danger once past.
pub(crate) fn expiry(meta: &SecretMetadata, now: DateTime<Utc>) -> Dated {
    match meta.expires_at {
        None => Dated {
            text: "Never".to_string(),
            class: "",
        },
        Some(at) if at <= now => Dated {
            text: format!("{} (expired)", day(at)),
            class: "danger",
        },
        Some(at) if at - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) => Dated {
            text: format!("{} (in {} days)", day(at), (at - now).num_days()),
            class: "warn",
        },
        Some(at) => Dated {
            text: day(at),
            class: "",
        },
    }
}

/// The last rotation ("never" when none), warned once past the rotation interval.
pub(crate) fn rotated(meta: &SecretMetadata, now: DateTime<Utc>) -> Dated {
    let overdue = meta.rotation_enabled && meta.next_rotation_at.is_some_and(|at| at <= now);
    let text = match meta.last_rotated_at {
        None => "never".to_string(),
        Some(at) => format!("{}d ago", (now - at).num_days().max(0)),
    };
    Dated {
        text,
        class: if overdue { "warn" } else { "" },
    }
}

/// A secret as a card of the list.
pub(crate) struct Card {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) type_label: String,
    pub(crate) description: Option<String>,
    pub(crate) scope: String,
    pub(crate) expiry: Dated,
    pub(crate) rotated: Dated,
    pub(crate) tags: Vec<String>,
    pub(crate) deleted: bool,
    pub(crate) can_update: bool,
    pub(crate) can_delete: bool,
}

impl Card {
    pub(crate) fn of(meta: &SecretMetadata, allowed: &[Action], now: DateTime<Utc>) -> Card {
        Card {
            id: meta.id.to_string(),
            name: meta.name.clone(),
            type_label: meta.secret_type.display_name().to_string(),
            description: meta.description.clone(),
            scope: title(meta.scope.as_str()),
            expiry: expiry(meta, now),
            rotated: rotated(meta, now),
            tags: meta.tags.clone(),
            deleted: meta.is_deleted(),
            can_update: allowed.contains(&Action::Update),
            can_delete: allowed.contains(&Action::Delete),
        }
    }
}

/// The filters of the list, as the query gave them (for the form and the page links).
pub(crate) struct Filters {
    pub(crate) scopes: Vec<Choice>,
    pub(crate) types: Vec<Choice>,
    pub(crate) search: String,
    pub(crate) tag: String,
    /// The query string of these filters without the page (`scope=..&type=..`).
    pub(crate) query: String,
}

#[derive(Template)]
#[template(path = "ui/list.html")]
pub(crate) struct ListPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    /// Whether the navigation shows the audit view.
    pub(crate) admin: bool,
    pub(crate) filters: Filters,
    pub(crate) cards: Vec<Card>,
    pub(crate) page: u64,
    pub(crate) pages: u64,
    pub(crate) total: u64,
}

/// One version of the detail page's history.
pub(crate) struct VersionRow {
    pub(crate) version: i64,
    pub(crate) current: bool,
    pub(crate) reason: String,
    pub(crate) created: String,
    pub(crate) by: String,
}

/// One grant of the detail page.
pub(crate) struct GrantRow {
    pub(crate) id: String,
    pub(crate) grantee: String,
    pub(crate) permissions: String,
    pub(crate) expires: String,
}

#[derive(Template)]
#[template(path = "ui/detail.html")]
pub(crate) struct DetailPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    /// Whether the navigation shows the audit view.
    pub(crate) admin: bool,
    pub(crate) card: Card,
    pub(crate) version: i64,
    pub(crate) vault: String,
    pub(crate) masked: String,
    /// The value, only on the page answering a reveal.
    pub(crate) revealed: Option<zeroize::Zeroizing<String>>,
    pub(crate) can_read: bool,
    pub(crate) versions: Vec<VersionRow>,
    /// `None` when the caller may not see the grants.
    pub(crate) grants: Option<Vec<GrantRow>>,
    /// When the value was last read ("never" when it was not) and by which modules.
    pub(crate) last_used: String,
    pub(crate) used_by: Vec<String>,
    /// The grantee types, for the grant form.
    pub(crate) grantee_types: Vec<Choice>,
    pub(crate) notice: Option<String>,
}

/// The grantee types, for the grant form.
pub(crate) fn grantee_types() -> Vec<Choice> {
    secret_core::GranteeType::ALL
        .iter()
        .map(|g| Choice {
            value: g.as_str().to_string(),
            label: title(g.as_str()),
            selected: false,
        })
        .collect()
}
