//! Validating a connection's settings against a plugin's config schema, so
//! the host can check and store settings without knowing the ATS.

use std::collections::BTreeMap;

use crate::contract::{SettingInput, SettingKind, SettingSpec};

/// What is wrong with a set of settings. Secret values never appear here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("missing required setting `{key}` ({label})")]
    Missing { key: String, label: String },
    #[error("unknown setting `{key}` (this plugin takes: {known})")]
    Unknown { key: String, known: String },
    #[error("setting `{key}` must be an absolute http(s) URL: {reason}")]
    BadUrl { key: String, reason: String },
    #[error("setting `{key}` must be one of {choices}, not `{value}`")]
    BadChoice { key: String, value: String, choices: String },
}

/// Checks `input` against `schema`, applies defaults, and marks secrets.
/// Keys are returned in schema order.
pub fn validate(
    schema: &[SettingSpec],
    input: &BTreeMap<String, String>,
) -> Result<Vec<(String, SettingInput)>, SettingsError> {
    if let Some(key) = input.keys().find(|k| !schema.iter().any(|s| &s.key == *k)) {
        let known = schema.iter().map(|s| s.key.as_str()).collect::<Vec<_>>().join(", ");
        return Err(SettingsError::Unknown { key: key.clone(), known });
    }
    let mut out = Vec::with_capacity(schema.len());
    for spec in schema {
        let value = input.get(&spec.key).filter(|v| !v.is_empty()).cloned().or_else(|| spec.default_value.clone());
        let Some(value) = value else {
            if spec.required {
                return Err(SettingsError::Missing { key: spec.key.clone(), label: spec.label.clone() });
            }
            continue;
        };
        match spec.kind {
            SettingKind::Url => check_url(&spec.key, &value)?,
            SettingKind::Choice if !spec.choices.contains(&value) => {
                return Err(SettingsError::BadChoice {
                    key: spec.key.clone(),
                    value,
                    choices: spec.choices.join(", "),
                });
            }
            _ => {}
        }
        let value = match spec.kind {
            SettingKind::Secret => SettingInput::Secret(value.into()),
            _ => SettingInput::Text(value),
        };
        out.push((spec.key.clone(), value));
    }
    Ok(out)
}

fn check_url(key: &str, value: &str) -> Result<(), SettingsError> {
    let bad = |reason: String| SettingsError::BadUrl { key: key.to_string(), reason };
    let url = url::Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(format!("scheme `{}`", url.scheme())));
    }
    if url.host_str().is_none() {
        return Err(bad("no host".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: &str, kind: SettingKind, required: bool, default: Option<&str>, choices: &[&str]) -> SettingSpec {
        SettingSpec {
            key: key.into(),
            label: key.to_uppercase(),
            kind,
            required,
            help: String::new(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
            default_value: default.map(str::to_string),
        }
    }

    fn schema() -> Vec<SettingSpec> {
        vec![
            spec("base-url", SettingKind::Url, false, Some("https://api.example.com"), &[]),
            spec("api-key", SettingKind::Secret, true, None, &[]),
            spec("region", SettingKind::Choice, false, None, &["us", "eu"]),
        ]
    }

    fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn applies_defaults_and_marks_secrets() {
        let out = validate(&schema(), &input(&[("api-key", "k")])).unwrap();
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0].1, SettingInput::Text(u) if u == "https://api.example.com"));
        assert!(matches!(&out[1].1, SettingInput::Secret(_)));
        assert!(!format!("{out:?}").contains("\"k\""));
    }

    #[test]
    fn names_each_problem() {
        assert!(
            matches!(validate(&schema(), &input(&[])), Err(SettingsError::Missing { key, .. }) if key == "api-key")
        );
        let e = validate(&schema(), &input(&[("api-key", "k"), ("colour", "x")])).unwrap_err();
        assert!(e.to_string().contains("colour") && e.to_string().contains("base-url"));
        let e = validate(&schema(), &input(&[("api-key", "k"), ("base-url", "ftp://x")])).unwrap_err();
        assert!(matches!(e, SettingsError::BadUrl { .. }));
        let e = validate(&schema(), &input(&[("api-key", "k"), ("region", "apac")])).unwrap_err();
        assert!(e.to_string().contains("us, eu"));
    }
}
