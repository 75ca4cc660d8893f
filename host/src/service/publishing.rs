//! Publication and publish rules: rules per connection (create, list,
//! update, reorder, delete, preview, apply now), a person's publish and
//! unpublish with who and why, handing a position back to the rules, and
//! what the public pages need (a published position by its public id, an
//! application through its form).

use std::collections::BTreeMap;

use super::dto::PositionDto;
use super::publish_dto::{
    AdDto, ApplyReportDto, CreateRuleRequest, PreviewDto, PreviewRequest, PublishRequest, PublishRuleDto,
    PublishRulesDto, ReorderRulesRequest, RuleFilterDto, UpdateRuleRequest, rule_dto,
};
use super::{Caller, Service, ServiceError};
use crate::publish::filter::CompiledFilter;
use crate::publish::public::Application;
use crate::publish::rules::{self, apply_rules};
use crate::publish::template::AdRenderer;
use crate::publish::{ApplyReport, PublishError};
use crate::store::{
    Actor, AdTemplate, Decision, MovedBy, NewCandidate, NewResume, Position, PublishRule, RuleFilter, RuleSet,
    TitlePattern, now_unix,
};

/// The most rules one connection may have: a handful is typical; each is
/// matched against every position on every sync.
pub const MAX_RULES_PER_CONNECTION: usize = 50;
/// The longest rule name, in characters.
const MAX_RULE_NAME_CHARS: usize = 100;
/// The longest user name or reason recorded with a decision, in characters.
const MAX_NOTE_CHARS: usize = 500;

impl From<PublishError> for ServiceError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Store(s) => s.into(),
            other => ServiceError::Invalid(other.to_string()),
        }
    }
}

fn filter_from(dto: RuleFilterDto) -> Result<RuleFilter, ServiceError> {
    let title = match dto.title {
        None => None,
        Some(t) if t.kind == "glob" => Some(TitlePattern::Glob(t.pattern)),
        Some(t) if t.kind == "regex" => Some(TitlePattern::Regex(t.pattern)),
        Some(t) => return Err(ServiceError::Invalid(format!("title pattern kind `{}` is not glob or regex", t.kind))),
    };
    Ok(RuleFilter { statuses: dto.statuses, title, location: dto.location, extra: dto.extra })
}

fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_RULE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(format!("a rule name is 1 to {MAX_RULE_NAME_CHARS} characters of text")));
    }
    Ok(name.to_string())
}

fn note(value: Option<String>, what: &str) -> Result<Option<String>, ServiceError> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > MAX_NOTE_CHARS || v.chars().any(char::is_control) => {
            Err(ServiceError::Invalid(format!("{what} is at most {MAX_NOTE_CHARS} characters of text")))
        }
        other => Ok(other),
    }
}

fn rules_dto(set: &RuleSet) -> PublishRulesDto {
    PublishRulesDto {
        rules: set.rules.iter().enumerate().map(|(i, r)| rule_dto(&set.connection_id, i, r)).collect(),
        pending: set.pending,
    }
}

fn report_dto(r: ApplyReport) -> ApplyReportDto {
    ApplyReportDto {
        examined: r.examined,
        published: r.published,
        unpublished: r.unpublished,
        decided_by_users: r.decided_by_users,
        render_errors: r.render_errors,
    }
}

impl Service {
    /// A connection's rules, in order.
    pub fn publish_rules(&self, caller: &Caller, connection: &str) -> Result<PublishRulesDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        Ok(rules_dto(&self.app.store.publish_rules(&c.id)?))
    }

    /// Adds a rule; it applies on the next sync or on "apply now".
    pub fn create_publish_rule(
        &self,
        caller: &Caller,
        connection: &str,
        req: CreateRuleRequest,
    ) -> Result<PublishRuleDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        let now = now_unix();
        let rule = PublishRule {
            id: "r0".into(),
            name: check_name(&req.name)?,
            enabled: req.enabled.unwrap_or(true),
            filter: filter_from(req.filter)?,
            template: AdTemplate { title: req.template.title, description: req.template.description },
            created_at_unix: now,
            updated_at_unix: now,
        };
        rules::validate(&rule)?;
        let (set, index) = self.app.store.update_publish_rules(&c.id, |set| {
            if set.rules.len() >= MAX_RULES_PER_CONNECTION {
                return Err(ServiceError::Invalid(format!(
                    "a connection has at most {MAX_RULES_PER_CONNECTION} publish rules"
                )));
            }
            let mut rule = rule.clone();
            rule.id = format!("r{}", set.next_id.max(1));
            set.next_id = set.next_id.max(1) + 1;
            let at = req.at.map_or(set.rules.len(), |a| a.saturating_sub(1).min(set.rules.len()));
            set.rules.insert(at, rule);
            set.pending = true;
            Ok(at)
        })??;
        tracing::info!(connection = %c.id, rule = %set.rules[index].id, "publish rule created");
        Ok(rule_dto(&c.id, index, &set.rules[index]))
    }

    /// Changes a rule.
    pub fn update_publish_rule(
        &self,
        caller: &Caller,
        connection: &str,
        rule_id: &str,
        req: UpdateRuleRequest,
    ) -> Result<PublishRuleDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        let name = req.name.as_deref().map(check_name).transpose()?;
        let filter = req.filter.map(filter_from).transpose()?;
        let current = self.app.store.publish_rules(&c.id)?;
        let mut rule = current.rules.iter().find(|r| r.id == rule_id).cloned().ok_or_else(|| not_found(rule_id))?;
        if let Some(n) = name {
            rule.name = n;
        }
        if let Some(f) = filter {
            rule.filter = f;
        }
        if let Some(t) = req.template {
            rule.template = AdTemplate { title: t.title, description: t.description };
        }
        if let Some(e) = req.enabled {
            rule.enabled = e;
        }
        rule.updated_at_unix = now_unix();
        rules::validate(&rule)?;
        let (set, index) = self.app.store.update_publish_rules(&c.id, |set| {
            let i = set.rules.iter().position(|r| r.id == rule.id).ok_or_else(|| not_found(rule_id))?;
            set.rules[i] = rule.clone();
            set.pending = true;
            Ok::<_, ServiceError>(i)
        })??;
        Ok(rule_dto(&c.id, index, &set.rules[index]))
    }

    /// Deletes a rule; positions it published are unpublished on the next
    /// pass unless another rule matches them.
    pub fn delete_publish_rule(&self, caller: &Caller, connection: &str, rule_id: &str) -> Result<(), ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        self.app.store.update_publish_rules(&c.id, |set| {
            let before = set.rules.len();
            set.rules.retain(|r| r.id != rule_id);
            if set.rules.len() == before {
                return Err(not_found(rule_id));
            }
            set.pending = true;
            Ok(())
        })??;
        Ok(())
    }

    /// Puts the rules in a new order (every id once).
    pub fn reorder_publish_rules(
        &self,
        caller: &Caller,
        connection: &str,
        req: ReorderRulesRequest,
    ) -> Result<PublishRulesDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        let (set, ()) = self.app.store.update_publish_rules(&c.id, |set| {
            let mut given = req.rule_ids.clone();
            given.sort();
            let mut have: Vec<String> = set.rules.iter().map(|r| r.id.clone()).collect();
            have.sort();
            if given != have {
                return Err(ServiceError::Invalid(format!(
                    "give every rule id of the connection once: {}",
                    have.join(", ")
                )));
            }
            let mut by_id: BTreeMap<String, PublishRule> = set.rules.drain(..).map(|r| (r.id.clone(), r)).collect();
            set.rules = req.rule_ids.iter().filter_map(|id| by_id.remove(id)).collect();
            set.pending = true;
            Ok(())
        })??;
        Ok(rules_dto(&set))
    }

    /// Renders a rule (stored, or given inline) against a position of the
    /// connection; stores nothing.
    pub fn preview_publish_rule(
        &self,
        caller: &Caller,
        connection: &str,
        req: PreviewRequest,
    ) -> Result<PreviewDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        let position = match self.app.store.position(req.position_id)? {
            Some(p) if p.connection_id == c.id => p,
            _ => return Err(ServiceError::NotFound { what: "position", id: req.position_id.to_string() }),
        };
        let (rule_id, filter, template) = match (&req.rule_id, req.template) {
            (Some(id), None) => {
                let set = self.app.store.publish_rules(&c.id)?;
                let rule = set.rules.into_iter().find(|r| &r.id == id).ok_or_else(|| not_found(id))?;
                let filter = match req.filter {
                    Some(f) => filter_from(f)?,
                    None => rule.filter,
                };
                (rule.id, filter, rule.template)
            }
            (id, Some(t)) => (
                id.clone().unwrap_or_else(|| "preview".into()),
                filter_from(req.filter.unwrap_or_default())?,
                AdTemplate { title: t.title, description: t.description },
            ),
            (None, None) => return Err(ServiceError::Invalid("give rule_id, or a template (and a filter)".into())),
        };
        let matches = CompiledFilter::new(&filter)?.matches(&position);
        let ad = AdRenderer::new(&rule_id, &template)?.render(&position)?;
        Ok(PreviewDto {
            matches,
            ad: AdDto { rule_id: ad.rule_id, title: ad.title, description_html: ad.description_html },
        })
    }

    /// Applies a connection's rules to all its positions now (blocking:
    /// reads every position of the connection).
    pub fn apply_publish_rules(&self, caller: &Caller, connection: &str) -> Result<ApplyReportDto, ServiceError> {
        let c = self.visible_connection(caller, connection)?;
        Ok(report_dto(apply_rules(&self.app.store, &c.id, None)?))
    }

    /// A person's decision to publish (refused while the job is closed) or
    /// unpublish; it beats every rule until handed back.
    pub fn decide_publication(
        &self,
        caller: &Caller,
        credential: String,
        id: u64,
        publish: bool,
        req: PublishRequest,
    ) -> Result<PositionDto, ServiceError> {
        let p = self.visible_position_for_publication(caller, id)?;
        if publish && p.is_closed() {
            return Err(ServiceError::Conflict(format!("position {id} is closed in the ATS and cannot be published")));
        }
        let decision = Decision {
            publish,
            by: Actor::User { credential, user: note(req.user, "the user")? },
            reason: note(req.reason, "the reason")?,
            at_unix: now_unix(),
        };
        let (p, _) = self.app.store.update_publication(id, |p| {
            let changed = p.decide(decision.clone());
            // A person's decision shows the position's own fields: a rule's
            // ad would no longer be kept up to date.
            let had_ad = p.publication.ad.take().is_some();
            Ok(changed || had_ad)
        })?;
        Ok(self.position_view(&p))
    }

    /// Drops a person's decision: the connection's rules decide again, now.
    pub fn hand_publication_to_rules(&self, caller: &Caller, id: u64) -> Result<PositionDto, ServiceError> {
        let p = self.visible_position_for_publication(caller, id)?;
        let set = self.app.store.publish_rules(&p.connection_id)?;
        let compiled = crate::publish::CompiledRules::new(&set)?;
        let now = now_unix();
        let (p, _) = self.app.store.update_publication(id, |p| {
            if !p.decided_by_user() {
                return Ok(false);
            }
            let was_published = p.published;
            p.publication.decision = None;
            p.publication.ad = None;
            p.published = false;
            let mut errors = 0;
            match compiled.verdict(p, &mut errors) {
                rules::Verdict::Publish(ad) => {
                    p.decide(Decision {
                        publish: true,
                        by: Actor::Rule { rule_id: ad.rule_id.clone() },
                        reason: Some("matches the rule".into()),
                        at_unix: now,
                    });
                    p.publication.ad = Some(ad);
                }
                _ if was_published => {
                    p.publication.last_change = Some(crate::store::PublicationChange {
                        published: false,
                        by: Actor::Rule { rule_id: String::new() },
                        reason: Some("handed back to the rules; none matches".into()),
                        at_unix: now,
                    });
                }
                _ => {}
            }
            Ok(true)
        })?;
        Ok(self.position_view(&p))
    }

    fn visible_position_for_publication(&self, caller: &Caller, id: u64) -> Result<Position, ServiceError> {
        match self.app.store.position(id)? {
            Some(p) if caller.sees(&p.account_id) => Ok(p),
            _ => Err(ServiceError::NotFound { what: "position", id: id.to_string() }),
        }
    }

    /// A position as the API shows it, with its public URL.
    pub fn position_view(&self, p: &Position) -> PositionDto {
        super::positions::position_dto(p, self.app.public_base_url.as_deref())
    }

    /// The published, open position a public id names; `None` for anything
    /// else (unknown, unpublished, closed), which the public sees as 404.
    pub fn public_position(&self, public_id: &str) -> Result<Option<Position>, ServiceError> {
        Ok(self.app.store.position_by_public_id(public_id)?.filter(|p| p.published && !p.is_closed()))
    }
}

impl Service {
    /// Creates a candidate, with the resume, in the account's first stage
    /// for the published position a public id names (the form's submit).
    /// The resume's type was checked by content; its name gets that type's
    /// extension.
    pub fn submit_application(&self, public_id: &str, a: Application) -> Result<(), ServiceError> {
        let not_found = || ServiceError::NotFound { what: "position", id: "(public)".into() };
        let position = self.public_position(public_id)?.ok_or_else(not_found)?;
        let ext = a.kind.extension();
        let base = a.file_name.rsplit(['/', '\\']).next().unwrap_or("").trim();
        let file_name = if base.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
            base.to_string()
        } else {
            format!("{}.{ext}", if base.is_empty() { "resume" } else { base })
        };
        // Through the one place candidates are created, so an auto-push
        // rule queues the push for form applicants too.
        let (candidate, _) = self.store_create_candidate(NewCandidate {
            position_id: position.id,
            name: a.name,
            email: a.email,
            phone: None,
            links: Vec::new(),
            resume: Some(NewResume { file_name, content_type: a.kind.media_type().into(), bytes: a.bytes }),
            answers: BTreeMap::new(),
            source: Some(FORM_SOURCE.into()),
            stage_id: None,
            by: MovedBy::Form,
        })?;
        // Durable before the candidate is told it was received.
        self.app.store.flush()?;
        tracing::info!(
            position = position.id,
            candidate = candidate.id,
            "application received through the public form"
        );
        Ok(())
    }
}

/// The source recorded on candidates who applied through the public form.
pub const FORM_SOURCE: &str = "careers-page";

fn not_found(rule_id: &str) -> ServiceError {
    ServiceError::NotFound { what: "publish rule", id: rule_id.to_string() }
}
