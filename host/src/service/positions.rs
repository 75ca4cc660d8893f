//! Positions: filter and page, get, edit, clear an edit, publish,
//! unpublish.

use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{EditPositionRequest, PositionDto, TrackedDto, UserDto};
use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError};
use crate::store::{self, FieldEdit, FieldName, Position, PositionStatus, Tracked};

/// The most locations one edit may set.
const MAX_LOCATIONS: usize = 100;
/// The longest edited text, in bytes (a long job description is ~20 KB).
const MAX_TEXT_BYTES: usize = 256 << 10;

/// `GET /positions` filters.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PositionFilter {
    /// Only this connection's.
    pub connection: Option<String>,
    /// Only this account's.
    pub account: Option<String>,
    /// `open`, `closed`, `draft`, `on_hold` or `other`.
    pub status: Option<String>,
    pub published: Option<bool>,
}

fn status_name(s: &PositionStatus) -> &'static str {
    match s {
        PositionStatus::Open => "open",
        PositionStatus::Closed => "closed",
        PositionStatus::Draft => "draft",
        PositionStatus::OnHold => "on_hold",
        PositionStatus::Other(_) => "other",
    }
}

/// A status filter as the store matches it: `None` inside for `other`.
fn status_filter(s: &str) -> Result<Option<PositionStatus>, ServiceError> {
    match s {
        "open" => Ok(Some(PositionStatus::Open)),
        "closed" => Ok(Some(PositionStatus::Closed)),
        "draft" => Ok(Some(PositionStatus::Draft)),
        "on_hold" => Ok(Some(PositionStatus::OnHold)),
        "other" => Ok(None),
        _ => Err(ServiceError::Invalid(format!("`{s}` is not a status (open, closed, draft, on_hold, other)"))),
    }
}

fn tracked<T: Clone, U>(t: &Tracked<T>, f: impl Fn(&T) -> U) -> TrackedDto<U> {
    TrackedDto { value: f(t.effective()), ats: f(&t.ats), edited: t.local.is_some() }
}

/// A position as the API shows it; its public URL under `public_base`.
pub fn position_dto(p: &Position, public_base: Option<&str>) -> PositionDto {
    let users = |v: &Vec<crate::store::AuthorizedUser>| {
        v.iter().map(|u| UserDto { ats_id: u.ats_id.clone(), name: u.name.clone(), email: u.email.clone() }).collect()
    };
    PositionDto {
        id: p.id,
        account: p.account_id.clone(),
        connection: p.connection_id.clone(),
        ats_job_code: p.ats_job_code.clone(),
        status: status_name(&p.status).to_string(),
        ats_raw_status: p.ats_raw_status.clone(),
        closed_reason: p
            .closed_reason
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
        published: p.published,
        publication: super::publish_dto::publication_dto(p, public_base),
        name: tracked(&p.name, Clone::clone),
        description: tracked(&p.description, Clone::clone),
        locations: tracked(&p.locations, Clone::clone),
        authorized_users: tracked(&p.authorized_users, users),
        extra: p.extra.clone(),
        ats_updated_at: p.ats_updated_at.clone(),
        created_at_unix: p.created_at_unix,
        updated_at_unix: p.updated_at_unix,
    }
}

/// A field name as the API and CLI spell it.
pub fn field_name(name: &str) -> Result<FieldName, ServiceError> {
    match name {
        "name" => Ok(FieldName::Name),
        "description" => Ok(FieldName::Description),
        "locations" => Ok(FieldName::Locations),
        "authorized_users" | "authorized-users" => Ok(FieldName::AuthorizedUsers),
        other => Err(ServiceError::Invalid(format!(
            "`{other}` is not an editable field (name, description, locations, authorized_users)"
        ))),
    }
}

impl Service {
    /// Positions the caller sees, filtered, by id, a page at a time from
    /// the store's indexes (never every position in memory).
    pub fn list_positions(
        &self,
        caller: &Caller,
        filter: &PositionFilter,
        query: &PageQuery,
    ) -> Result<Page<PositionDto>, ServiceError> {
        let status = filter.status.as_deref().map(status_filter).transpose()?;
        let mut stored = store::PositionFilter {
            connection_id: None,
            account_id: None,
            status: status.clone().flatten(),
            published: filter.published,
        };
        if let Some(c) = &filter.connection {
            let c = self.visible_connection(caller, c)?;
            if filter.account.as_deref().is_some_and(|a| a != c.account_id) {
                return Ok(Page { items: Vec::new(), next_cursor: None });
            }
            stored.connection_id = Some(c.id);
        }
        // An account key sees its own account's positions only.
        let account = match (&filter.account, caller) {
            (Some(a), _) => Some(self.visible_account(caller, a)?.id),
            (None, Caller::Account(own)) => Some(own.clone()),
            (None, Caller::Operator) => None,
        };
        // `other` is any status the connector could not map: matched here,
        // as the store matches exact statuses.
        let keep = |p: &Position| status.as_ref().is_none_or(|s| s.is_some() || status_name(&p.status) == "other");
        let page = Page::fetch(
            query,
            |s| s.parse::<u64>().ok(),
            |p: &Position| p.id,
            u64::to_string,
            keep,
            |after, n| {
                let after = after.copied();
                Ok(match (&stored.connection_id, &account) {
                    (None, Some(account)) => self.app.store.positions_page_of_account(account, &stored, after, n)?,
                    _ => self.app.store.positions_page(&stored, after, n)?,
                })
            },
        )?;
        Ok(page.map(|p| self.position_view(&p)))
    }

    fn visible_position(&self, caller: &Caller, id: u64) -> Result<Position, ServiceError> {
        match self.app.store.position(id)? {
            Some(p) if caller.sees(&p.account_id) => Ok(p),
            _ => Err(ServiceError::NotFound { what: "position", id: id.to_string() }),
        }
    }

    pub fn position(&self, caller: &Caller, id: u64) -> Result<PositionDto, ServiceError> {
        Ok(self.position_view(&self.visible_position(caller, id)?))
    }

    /// Local edits; each survives later syncs until cleared.
    pub fn edit_position(
        &self,
        caller: &Caller,
        id: u64,
        req: EditPositionRequest,
    ) -> Result<PositionDto, ServiceError> {
        let mut p = self.visible_position(caller, id)?;
        let mut edits = Vec::new();
        edits.extend(req.name.map(FieldEdit::Name));
        edits.extend(req.description.map(FieldEdit::Description));
        edits.extend(req.locations.map(FieldEdit::Locations));
        if edits.is_empty() {
            return Err(ServiceError::Invalid("nothing to edit: give name, description or locations".into()));
        }
        for edit in &edits {
            let too_long = match edit {
                FieldEdit::Name(t) | FieldEdit::Description(t) => t.len() > MAX_TEXT_BYTES,
                FieldEdit::Locations(l) => l.len() > MAX_LOCATIONS || l.iter().any(|s| s.len() > MAX_TEXT_BYTES),
                FieldEdit::AuthorizedUsers(_) => false,
            };
            if too_long {
                return Err(ServiceError::Invalid(format!(
                    "an edit may hold at most {MAX_TEXT_BYTES} bytes of text and {MAX_LOCATIONS} locations"
                )));
            }
        }
        for edit in edits {
            p = self.app.store.edit_position(id, edit)?;
        }
        // The edited fields may make the position match a rule, or no
        // rule any more: judged now, not on the next change of the rules.
        let p = crate::publish::rules::after_edit(&self.app.store, &p)?;
        Ok(self.position_view(&p))
    }

    /// Drops a local edit: the field follows the ATS again.
    pub fn clear_position_edit(&self, caller: &Caller, id: u64, field: &str) -> Result<PositionDto, ServiceError> {
        self.visible_position(caller, id)?;
        let field = field_name(field)?;
        let p = self.app.store.clear_edit(id, field)?;
        // Back to the ATS's value: the rules judge the position again now.
        let p = crate::publish::rules::after_edit(&self.app.store, &p)?;
        Ok(self.position_view(&p))
    }
}
