//! Contact identities: how emails, phone numbers and external ids are
//! checked and normalised before they are matched (SPEC §1).

/// Why an identity value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "`{0}` is not a valid phone number: give the country code with `+` or `00`, e.g. `+48 600 100 200`"
    )]
    Phone(String),
    #[error(
        "`{0}` is not a valid email address: it needs a name, one `@` and a domain, without spaces"
    )]
    Email(String),
    #[error("`{0}` is not a valid external id: it must be non-empty and at most 256 characters")]
    ExternalId(String),
}

/// Normalises a phone number to E.164: spaces, dashes, dots and parentheses
/// are dropped, a leading `00` becomes `+`, and what remains must be `+`
/// followed by 3 to 15 digits, the first not zero.
pub fn normalize_phone(raw: &str) -> Result<String, IdentityError> {
    let err = || IdentityError::Phone(raw.to_string());
    let kept: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = if let Some(rest) = kept.strip_prefix('+') {
        rest
    } else if let Some(rest) = kept.strip_prefix("00") {
        rest
    } else {
        return Err(err());
    };
    let ok = (3..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(format!("+{digits}"))
    } else {
        Err(err())
    }
}

/// Checks an email address loosely (one `@`, something on both sides, no
/// whitespace) and returns it unchanged: emails are stored as sent.
pub fn check_email(raw: &str) -> Result<&str, IdentityError> {
    let mut parts = raw.split('@');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && !domain.is_empty()
                && raw.len() <= 320
                && !raw.chars().any(char::is_whitespace)
        }
        _ => false,
    };
    if ok {
        Ok(raw)
    } else {
        Err(IdentityError::Email(raw.to_string()))
    }
}

/// The key an email is matched by: lower-cased as `str::to_lowercase` does.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Checks an external id (the customer's CRM id), matched exactly.
pub fn check_external_id(raw: &str) -> Result<&str, IdentityError> {
    if raw.is_empty() || raw.chars().count() > 256 {
        Err(IdentityError::ExternalId(raw.to_string()))
    } else {
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(normalize_phone("+48 600-100-200").unwrap(), "+48600100200");
        assert_eq!(
            normalize_phone("0048 (600) 100.200").unwrap(),
            "+48600100200"
        );
        assert_eq!(
            normalize_phone("+1 (555) 010-9999").unwrap(),
            "+15550109999"
        );
        for bad in [
            "600100200",
            "+48 600 abc",
            "+",
            "",
            "+0600100200",
            "+48/600",
            "++48600",
        ] {
            assert!(normalize_phone(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("Ann@Example.com").is_ok());
        assert_eq!(email_key("Ann@Example.COM"), "ann@example.com");
        for bad in ["ann", "@x", "a@", "a b@x", "a@b@c", ""] {
            assert!(check_email(bad).is_err(), "{bad} accepted");
        }
    }
}
