//! Plugins: list, inspect, install from uploaded bytes or the bundled
//! connectors, remove (refused while connections use it), check settings.

use std::path::Path;

use base64::Engine as _;

use super::dto::{CheckSettingsRequest, InstallPluginRequest, PluginDto, RequestedLimitsDto, SettingSpecDto};
use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError, valid_plugin_id};
use crate::plugin::InstalledPlugin;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::plugin::manifest::Manifest;
use crate::plugin::settings;
use crate::runtime::{CallError, ConnectionContext};

/// The largest component accepted in an upload. The largest shipped
/// connectors are a few MiB; interpreted guests (Python) reach ~40 MiB.
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;
/// The largest manifest accepted (a manifest is a few hundred bytes).
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;
/// The name uploaded components are known by in messages: never a path on
/// the host.
const UPLOAD_ORIGIN: &str = "uploaded component";

/// The DTO of an installed plugin.
pub fn plugin_dto(p: &InstalledPlugin) -> PluginDto {
    let info = &p.record.info;
    PluginDto {
        id: p.id().to_string(),
        version: p.manifest.version.to_string(),
        name: info.name.clone(),
        vendor: info.vendor.clone(),
        world: format!("atsbridge:connector/connector@{}", p.record.contract),
        contract: p.record.contract.to_string(),
        capabilities: info.capabilities.iter().map(|c| c.wit_name().to_string()).collect(),
        config_schema: info
            .config_schema
            .iter()
            .map(|s| SettingSpecDto {
                key: s.key.clone(),
                label: s.label.clone(),
                kind: s.kind.wit_name().to_string(),
                required: s.required,
                help: s.help.clone(),
                choices: s.choices.clone(),
                default: s.default_value.clone(),
            })
            .collect(),
        allowed_hosts: p.manifest.allowed_host_patterns.clone(),
        requested_limits: RequestedLimitsDto {
            memory_mib: p.manifest.limits.memory_mib.map(u64::from),
            timeout_secs: p.manifest.limits.timeout_secs.map(u64::from),
        },
        stages_per_job: p.manifest.stages.per_job,
        sha256: p.record.sha256.clone(),
        installed_at_unix: p.record.installed_at_unix,
        metrics: None,
    }
}

fn checked_id(id: &str) -> Result<(), ServiceError> {
    if valid_plugin_id(id) { Ok(()) } else { Err(ServiceError::BadPluginId(id.to_string())) }
}

impl Service {
    /// Installed plugins, by id. A damaged install is logged and left out.
    pub fn list_plugins(&self, caller: &Caller, query: &PageQuery) -> Result<Page<PluginDto>, ServiceError> {
        caller.require_operator()?;
        // Only the ids are listed whole (directory names); a plugin is
        // loaded when it is on the page.
        let registry = self.app.runtime.registry();
        let ids = registry.ids()?;
        let page = Page::fetch(
            query,
            |s| Some(s.to_string()),
            |(id, _): &(String, Option<PluginDto>)| id.clone(),
            Clone::clone,
            |(_, p)| p.is_some(),
            |after, n| {
                let from = after.map_or(0, |a| ids.partition_point(|id| id <= a));
                Ok(ids[from..]
                    .iter()
                    .take(n)
                    .map(|id| match registry.current(id) {
                        Ok(p) => (id.clone(), Some(plugin_dto(&p))),
                        Err(e) => {
                            tracing::warn!(plugin = %id, error = %e, "damaged plugin left out of the list");
                            (id.clone(), None)
                        }
                    })
                    .collect())
            },
        )?;
        Ok(Page { items: page.items.into_iter().filter_map(|(_, p)| p).collect(), next_cursor: page.next_cursor })
    }

    /// One plugin with its call metrics.
    pub fn plugin(&self, caller: &Caller, id: &str) -> Result<PluginDto, ServiceError> {
        caller.require_operator()?;
        checked_id(id)?;
        let installed = self.app.runtime.registry().current(id)?;
        let mut dto = plugin_dto(&installed);
        dto.metrics = serde_json::to_value(self.app.runtime.metrics().plugin(id)).ok();
        Ok(dto)
    }

    /// Installs from uploaded bytes or a bundled connector.
    pub async fn install_plugin(&self, caller: &Caller, req: InstallPluginRequest) -> Result<PluginDto, ServiceError> {
        caller.require_operator()?;
        let options = crate::plugin::InstallOptions { approve: req.approve, force: req.force };
        let installed = match req {
            InstallPluginRequest { bundled: Some(id), manifest: None, component_base64: None, .. } => {
                checked_id(&id)?;
                if crate::plugin::bundled::find(&id).is_none() {
                    return Err(ServiceError::NotFound { what: "bundled connector", id });
                }
                crate::plugin::bundled::install_bundled_with(&self.app.runtime, &id, &options).await?
            }
            InstallPluginRequest { bundled: None, manifest: Some(manifest), component_base64: Some(wasm), .. } => {
                if manifest.len() > MAX_MANIFEST_BYTES {
                    return Err(ServiceError::Invalid(format!("the manifest is over {MAX_MANIFEST_BYTES} bytes")));
                }
                // base64 is 4 characters per 3 bytes.
                if wasm.len() / 4 * 3 > MAX_COMPONENT_BYTES {
                    return Err(ServiceError::Invalid(format!("the component is over {MAX_COMPONENT_BYTES} bytes")));
                }
                let wasm = base64::engine::general_purpose::STANDARD
                    .decode(wasm.trim())
                    .map_err(|e| ServiceError::Invalid(format!("component_base64 is not base64: {e}")))?;
                let mut manifest = Manifest::parse(&manifest).map_err(|e| ServiceError::Install(e.to_string()))?;
                checked_id(&manifest.id)?;
                manifest.component = None;
                crate::plugin::install::install_with(
                    &self.app.runtime,
                    manifest,
                    wasm,
                    Path::new(UPLOAD_ORIGIN),
                    &options,
                )
                .await?
            }
            _ => {
                return Err(ServiceError::Invalid(
                    "send either `manifest` and `component_base64`, or `bundled`".to_string(),
                ));
            }
        };
        Ok(plugin_dto(&installed))
    }

    /// Removes a plugin; refused while connections use it unless `force`.
    pub fn remove_plugin(&self, caller: &Caller, id: &str, force: bool) -> Result<(), ServiceError> {
        caller.require_operator()?;
        checked_id(id)?;
        if self.app.runtime.registry().current_name(id).is_none() {
            return Err(ServiceError::NotFound { what: "plugin", id: id.to_string() });
        }
        Ok(self.app.remove_plugin(id, force)?)
    }

    /// Tries settings against the ATS without storing them.
    pub async fn check_plugin_settings(
        &self,
        caller: &Caller,
        id: &str,
        req: CheckSettingsRequest,
    ) -> Result<(), ServiceError> {
        caller.require_operator()?;
        checked_id(id)?;
        let installed = self.app.runtime.registry().current(id)?;
        let settings = settings::validate(&installed.record.info.config_schema, &req.settings)?;
        let extra_hosts = AllowedHosts::parse(&req.extra_hosts).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let conn = ConnectionContext { id: format!("check-{id}"), settings, extra_hosts, recording: None };
        let plugin = self.app.runtime.plugin(id).await?;
        plugin.check(&conn).await.map_err(call_error)
    }
}

/// A failed plugin call, as the caller sees it.
pub(crate) fn call_error(e: CallError) -> ServiceError {
    match e {
        CallError::Connector { error, .. } => {
            ServiceError::Connector { kind: error.kind().to_string(), message: error.message().to_string() }
        }
        other => ServiceError::Plugin(other.to_string()),
    }
}
