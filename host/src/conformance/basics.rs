//! `info`, and `check` with good and with wrong credentials.

use super::{Checked, Run, fail, skip};
use crate::contract::{ConnectorError, SettingKind};
use crate::plugin::install::check_info;
use crate::plugin::settings;
use crate::runtime::{CallError, SettingInput};

/// `info()` answers, agrees with the manifest (the checks `plugin install`
/// makes), and the given settings validate against its schema.
pub(super) async fn info(run: &mut Run<'_>) -> Checked {
    let info = run.plugin.info().await.map_err(|e| fail(format!("info() failed: {e}")))?;
    check_info(&info, run.plugin.manifest()).map_err(|e| fail(format!("info() is not installable: {e}")))?;
    let capabilities: Vec<&str> = info.capabilities.iter().map(|c| c.wit_name()).collect();
    if capabilities.iter().collect::<std::collections::HashSet<_>>().len() != capabilities.len() {
        return Err(fail(format!("info() lists a capability twice: {}", capabilities.join(", "))));
    }
    let secrets = info.config_schema.iter().filter(|s| s.kind == SettingKind::Secret).count();
    let summary = format!(
        "{} {}; {} settings ({secrets} secret); capabilities: {}",
        info.name,
        info.version,
        info.config_schema.len(),
        if capabilities.is_empty() { "none".to_string() } else { capabilities.join(", ") }
    );
    let validated = settings::validate(&info.config_schema, run.settings);
    run.info = Some(info);
    let validated = validated.map_err(|e| fail(format!("the given settings do not fit the schema: {e}")))?;
    run.validated = Some(validated);
    Ok(summary)
}

/// `check` accepts the good settings.
pub(super) async fn check(run: &mut Run<'_>) -> Checked {
    let conn = run.connection("check")?;
    run.patience
        .call(|| run.plugin.check(&conn))
        .await
        .map_err(|e| fail(format!("check() refused the given settings: {e}")))?;
    run.checked = true;
    Ok("the ATS accepted the settings".into())
}

/// `check` answers `unauthorized` when every secret setting has a wrong
/// value. Only meaningful once the right values were accepted: otherwise
/// an ATS that is down, or refuses everything, would pass it.
pub(super) async fn bad_credentials(run: &Run<'_>) -> Checked {
    let mut conn = run.connection("bad-credentials")?;
    if !run.checked {
        return Err(skip("needs `check` to accept the right settings first"));
    }
    let mut falsified = Vec::new();
    for (key, value) in &mut conn.settings {
        if let SettingInput::Secret(_) = value {
            *value = SettingInput::Secret(format!("wrong-{key}-atsbridge-conformance").into());
            falsified.push(key.clone());
        }
    }
    if falsified.is_empty() {
        return Err(skip("the config schema has no secret setting to make wrong"));
    }
    let keys = falsified.join(", ");
    match run.patience.call(|| run.plugin.check(&conn)).await {
        Err(CallError::Connector { error: ConnectorError::Unauthorized(message), .. }) => {
            Ok(format!("wrong {keys} → unauthorized ({message})"))
        }
        Ok(()) => Err(fail(format!("check() accepted wrong values of {keys}"))),
        Err(e) => Err(fail(format!("wrong {keys} should give `unauthorized`, got `{}`: {e}", e.kind()))),
    }
}
