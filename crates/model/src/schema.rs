//! The field schema of an account: the standard fields every contact has and
//! the custom fields the account declares.

use serde::{Deserialize, Serialize};

use crate::value::FieldType;

/// One field of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
}

/// The standard fields, always present (SPEC §1).
pub const STANDARD_FIELDS: &[(&str, FieldType)] = &[
    ("Email", FieldType::Text),
    ("MobilePhone", FieldType::Text),
    ("ExternalId", FieldType::Text),
    ("FirstName", FieldType::Text),
    ("LastName", FieldType::Text),
    ("CreateTime", FieldType::Date),
    ("EmailUnsubscribed", FieldType::Boolean),
    ("SmsUnsubscribed", FieldType::Boolean),
    ("PushUnsubscribed", FieldType::Boolean),
    ("UpdateTime", FieldType::Date),
];

pub const EMAIL: &str = "Email";
pub const MOBILE_PHONE: &str = "MobilePhone";
pub const EXTERNAL_ID: &str = "ExternalId";
pub const CREATE_TIME: &str = "CreateTime";
pub const UPDATE_TIME: &str = "UpdateTime";

/// An account's schema: standard fields first, then custom fields in
/// declaration order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub custom: Vec<FieldDef>,
}

/// Why a custom field cannot be declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldDeclError {
    #[error(
        "`{0}` is not a valid field name: start with a letter, then up to 63 letters, digits or underscores"
    )]
    InvalidName(String),
    #[error("`{0}` is a standard field and cannot be declared")]
    Standard(String),
    #[error("`{0}` is already declared")]
    AlreadyDeclared(String),
}

/// Checks `[A-Za-z][A-Za-z0-9_]{0,63}`.
pub fn is_valid_field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Schema {
    /// Every field, standard then custom.
    pub fn fields(&self) -> impl Iterator<Item = FieldDef> + '_ {
        STANDARD_FIELDS
            .iter()
            .map(|(n, t)| FieldDef {
                name: (*n).to_string(),
                field_type: *t,
            })
            .chain(self.custom.iter().cloned())
    }

    /// The type of a field, looked up by its exact (case-sensitive) name.
    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        STANDARD_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .or_else(|| {
                self.custom
                    .iter()
                    .find(|f| f.name == name)
                    .map(|f| f.field_type)
            })
    }

    pub fn is_standard(name: &str) -> bool {
        STANDARD_FIELDS.iter().any(|(n, _)| *n == name)
    }

    /// Checks that `def` can be added. Names that differ only in case from
    /// an existing field (or from `id`) are refused: they would be
    /// indistinguishable in a spreadsheet column header.
    pub fn check_new_field(&self, def: &FieldDef) -> Result<(), FieldDeclError> {
        if !is_valid_field_name(&def.name) {
            return Err(FieldDeclError::InvalidName(def.name.clone()));
        }
        if def.name.eq_ignore_ascii_case("id")
            || STANDARD_FIELDS
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&def.name))
        {
            return Err(FieldDeclError::Standard(def.name.clone()));
        }
        if self
            .custom
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(&def.name))
        {
            return Err(FieldDeclError::AlreadyDeclared(def.name.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names() {
        assert!(is_valid_field_name("Customer_Status"));
        assert!(is_valid_field_name(&format!("A{}", "b".repeat(63))));
        assert!(!is_valid_field_name(&format!("A{}", "b".repeat(64))));
        assert!(!is_valid_field_name("1abc"));
        assert!(!is_valid_field_name("_abc"));
        assert!(!is_valid_field_name("a-b"));
        assert!(!is_valid_field_name(""));
    }

    #[test]
    fn declaration_rules() {
        let mut s = Schema::default();
        let age = FieldDef {
            name: "Age".into(),
            field_type: FieldType::Number,
        };
        assert_eq!(s.check_new_field(&age), Ok(()));
        s.custom.push(age.clone());
        assert!(matches!(
            s.check_new_field(&age),
            Err(FieldDeclError::AlreadyDeclared(_))
        ));
        let email = FieldDef {
            name: "email".into(),
            field_type: FieldType::Text,
        };
        assert!(matches!(
            s.check_new_field(&email),
            Err(FieldDeclError::Standard(_))
        ));
        assert_eq!(s.field_type("Age"), Some(FieldType::Number));
        assert_eq!(s.field_type("age"), None);
        assert_eq!(s.field_type("CreateTime"), Some(FieldType::Date));
    }
}
