//! Validation of a secret's name, description, tags and free-form metadata.

use std::collections::BTreeMap;

use crate::error::SecretError;
use crate::limits::{
    MAX_CHANGE_REASON_CHARS, MAX_DESCRIPTION_CHARS, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_CHARS,
    MAX_METADATA_VALUE_CHARS, MAX_TAG_CHARS, MAX_TAGS,
};

/// The longest secret name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Checks a secret name against `^[a-zA-Z][a-zA-Z0-9_-]{0,254}$`.
pub fn validate_secret_name(name: &str) -> Result<(), SecretError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(SecretError::validation("name", "must not be empty"));
    };
    if !first.is_ascii_alphabetic() {
        return Err(SecretError::validation(
            "name",
            "must start with a letter (a-z, A-Z)",
        ));
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(SecretError::validation(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(SecretError::validation(
            "name",
            "may contain only letters, digits, '_' and '-'",
        ));
    }
    Ok(())
}

/// Checks a description's length (at most 1,000 characters) and content.
pub fn validate_description(description: &str) -> Result<(), SecretError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(SecretError::validation(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if description.contains('\0') {
        return Err(SecretError::validation(
            "description",
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

/// Checks and normalises tags: at most 50, each 1 to 64 characters of letters, digits and
/// `-_.:/=@`, lower-cased, duplicates removed, order kept.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, SecretError> {
    if tags.len() > MAX_TAGS {
        return Err(SecretError::validation(
            "tags",
            format!("at most {MAX_TAGS} tags are allowed"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.is_empty() {
            return Err(SecretError::validation("tags", "a tag must not be empty"));
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(SecretError::validation(
                "tags",
                format!("a tag must be at most {MAX_TAG_CHARS} characters"),
            ));
        }
        if !tag.chars().all(is_tag_char) {
            return Err(SecretError::validation(
                "tags",
                format!("tag '{tag}' may contain only letters, digits and -_.:/=@"),
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Whether `c` may appear in a tag.
pub fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '=' | '@')
}

/// Checks free-form metadata: at most 50 entries, keys 1 to 128 characters, values up to 1,024.
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), SecretError> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(SecretError::validation(
            "metadata",
            format!("at most {MAX_METADATA_ENTRIES} entries are allowed"),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS {
            return Err(SecretError::validation(
                "metadata",
                format!("keys must be 1 to {MAX_METADATA_KEY_CHARS} characters"),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(SecretError::validation(
                "metadata",
                format!("value of '{key}' must be at most {MAX_METADATA_VALUE_CHARS} characters"),
            ));
        }
        if key.contains('\0') || value.contains('\0') {
            return Err(SecretError::validation(
                "metadata",
                "must not contain NUL characters",
            ));
        }
    }
    Ok(())
}

/// Checks a version's change reason (at most 500 characters).
pub fn validate_change_reason(reason: &str) -> Result<(), SecretError> {
    if reason.chars().count() > MAX_CHANGE_REASON_CHARS {
        return Err(SecretError::validation(
            "changeReason",
            format!("must be at most {MAX_CHANGE_REASON_CHARS} characters"),
        ));
    }
    if reason.contains('\0') {
        return Err(SecretError::validation(
            "changeReason",
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

/// Checks an identifier of the platform (organization, team, project, user, role).
pub fn validate_platform_id(field: &str, id: &str) -> Result<(), SecretError> {
    if id.is_empty() || id.len() > 128 {
        return Err(SecretError::validation(
            field,
            "must be 1 to 128 characters",
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    {
        return Err(SecretError::validation(
            field,
            "may contain only letters, digits and -_.@",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn names_follow_the_specified_pattern() {
        for ok in [
            "a",
            "OPENAI_API_KEY",
            "db-password-2",
            &format!("a{}", "b".repeat(254)),
        ] {
            assert!(validate_secret_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "_x",
            "-x",
            "has space",
            "dot.name",
            "ümlaut",
            &"a".repeat(256),
        ] {
            let err = validate_secret_name(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ValidationError, "{bad}");
        }
    }

    #[test]
    fn description_longer_than_limit_is_rejected() {
        assert!(validate_description(&"é".repeat(1000)).is_ok());
        assert!(validate_description(&"x".repeat(1001)).is_err());
    }

    #[test]
    fn tags_are_normalised_and_limited() {
        let tags = normalize_tags(&["GitHub".into(), "api".into(), "github".into()]).unwrap();
        assert_eq!(tags, vec!["github", "api"]);
        assert!(normalize_tags(&vec!["t".to_string(); 51]).is_err());
        assert!(normalize_tags(&["x".repeat(65)]).is_err());
        assert!(normalize_tags(&["has space".into()]).is_err());
        assert!(normalize_tags(&["quo\"te".into()]).is_err());
        assert!(normalize_tags(&["".into()]).is_err());
        let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&fifty).unwrap().len(), 50);
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let mut m = BTreeMap::new();
        m.insert("owner".to_string(), "platform".to_string());
        assert!(validate_metadata(&m).is_ok());
        m.insert("big".to_string(), "v".repeat(1025));
        assert!(validate_metadata(&m).is_err());
    }

    #[test]
    fn platform_ids_are_checked() {
        assert!(validate_platform_id("organizationId", "org-1").is_ok());
        assert!(validate_platform_id("organizationId", "").is_err());
        assert!(validate_platform_id("organizationId", "a b").is_err());
    }
}
