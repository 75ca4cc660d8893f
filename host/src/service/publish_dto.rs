//! The API's types for publication and publish rules (beside `dto`, which
//! holds the rest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{Actor, Decision, Position, PublicationChange, PublishRule, RuleFilter, SyncCause, TitlePattern};

/// Who or what published or unpublished a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActorDto {
    /// `user`, `rule` or `sync`.
    pub kind: String,
    /// For `user`: `operator` or `key:<API key id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// For `user`: the platform's user, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// For `rule`: the rule's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// For `sync`: `closed_in_ats`, `removed_in_ats` or `reopened`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl ActorDto {
    fn of(a: &Actor) -> ActorDto {
        let blank =
            |kind: &str| ActorDto { kind: kind.into(), credential: None, user: None, rule_id: None, cause: None };
        match a {
            Actor::User { credential, user } => {
                ActorDto { credential: Some(credential.clone()), user: user.clone(), ..blank("user") }
            }
            Actor::Rule { rule_id } => ActorDto { rule_id: Some(rule_id.clone()), ..blank("rule") },
            Actor::Sync { cause } => ActorDto { cause: Some(cause_name(*cause).into()), ..blank("sync") },
        }
    }

    /// For people: `user key:ab12 (jane@acme)`, `rule r2`, `sync (closed in the ATS)`.
    pub fn describe(&self) -> String {
        match self.kind.as_str() {
            "user" => {
                let who = self.credential.clone().unwrap_or_default();
                match &self.user {
                    Some(u) => format!("user {who} ({u})"),
                    None => format!("user {who}"),
                }
            }
            "rule" => format!("rule {}", self.rule_id.clone().unwrap_or_default()),
            _ => format!("sync ({})", self.cause.clone().unwrap_or_default().replace('_', " ")),
        }
    }
}

fn cause_name(c: SyncCause) -> &'static str {
    match c {
        SyncCause::ClosedInAts => "closed_in_ats",
        SyncCause::RemovedInAts => "removed_in_ats",
        SyncCause::Reopened => "reopened",
    }
}

/// A standing decision to publish or not.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionDto {
    pub publish: bool,
    pub by: ActorDto,
    pub reason: Option<String>,
    pub at_unix: i64,
}

/// The last change of `published`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicationChangeDto {
    pub published: bool,
    pub by: ActorDto,
    pub reason: Option<String>,
    pub at_unix: i64,
}

/// The ad a rule rendered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdDto {
    pub rule_id: String,
    pub title: String,
    /// Sanitized HTML.
    pub description_html: String,
}

/// A question of the application form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuestionDto {
    pub id: String,
    /// `resume_upload`.
    pub kind: String,
    pub label: String,
    pub required: bool,
}

/// A position's publication: whether it is shown, who decided and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PublicationDto {
    /// Shown to candidates now.
    pub published: bool,
    /// The standing decision (a user's or a rule's); `null`: nobody decided.
    pub decision: Option<DecisionDto>,
    /// The last change of `published` and its cause.
    pub last_change: Option<PublicationChangeDto>,
    /// The public page with the application form (answers 404 while not published).
    pub public_url: Option<String>,
    /// The rule's ad, when a rule published it.
    pub ad: Option<AdDto>,
    pub questions: Vec<QuestionDto>,
    /// One line for people: why it is (not) published.
    pub explanation: String,
}

/// The publication of a position, with its public URL under `public_base`
/// (a path alone when the base is unknown).
pub fn publication_dto(p: &Position, public_base: Option<&str>) -> PublicationDto {
    let decision = p.publication.decision.as_ref().map(|d: &Decision| DecisionDto {
        publish: d.publish,
        by: ActorDto::of(&d.by),
        reason: d.reason.clone(),
        at_unix: d.at_unix,
    });
    let last_change = p.publication.last_change.as_ref().map(|c: &PublicationChange| PublicationChangeDto {
        published: c.published,
        by: ActorDto::of(&c.by),
        reason: c.reason.clone(),
        at_unix: c.at_unix,
    });
    let explanation = match (&decision, p.published) {
        (None, _) => "not published: nobody decided to publish it".to_string(),
        (Some(d), true) => format!(
            "published by {}{}",
            d.by.describe(),
            d.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        ),
        (Some(d), false) if d.publish => format!(
            "not published: the job is closed in the ATS ({}); published again by {} when it reopens",
            p.closed_reason.map_or("closed", |r| match r {
                crate::store::CloseReason::ClosedInAts => "closed",
                crate::store::CloseReason::RemovedInAts => "removed",
            }),
            d.by.describe()
        ),
        (Some(d), false) => format!(
            "unpublished by {}{}",
            d.by.describe(),
            d.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        ),
    };
    PublicationDto {
        published: p.published,
        decision,
        last_change,
        public_url: p
            .publication
            .public_id
            .as_ref()
            .map(|id| format!("{}/p/{id}", public_base.unwrap_or("").trim_end_matches('/'))),
        ad: p.publication.ad.as_ref().map(|a| AdDto {
            rule_id: a.rule_id.clone(),
            title: a.title.clone(),
            description_html: a.description_html.clone(),
        }),
        questions: p
            .publication
            .questions
            .iter()
            .map(|q| QuestionDto {
                id: q.id.clone(),
                kind: "resume_upload".into(),
                label: q.label.clone(),
                required: q.required,
            })
            .collect(),
        explanation,
    }
}

/// Publishes or unpublishes a position: who (on the platform) and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The platform's user acting (an email or a name), recorded with the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A title pattern: a glob (`*`, `?`; case-insensitive, whole title) or a
/// regular expression (searched; bounded in size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitlePatternDto {
    /// `glob` or `regex`.
    pub kind: String,
    pub pattern: String,
}

/// Which positions a rule publishes; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFilterDto {
    /// `open`, `draft`, `on_hold`, `other`; empty: `open`.
    #[serde(default)]
    pub statuses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<TitlePatternDto>,
    /// A glob one of the locations must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Globs by extra ATS field name (`{"department": "Eng*"}`).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// An ad template: `{{ title }}`, `{{ description }}` (sanitized HTML),
/// `{{ location }}`, `{{ locations }}`, `{{ status }}`, `{{ job_code }}`,
/// `{{ extra.<field> }}`; `if` and `for` tags; filters `upper`, `lower`,
/// `title`, `capitalize`, `trim`, `default`, `first`, `last`, `length`,
/// `join`, `truncate`, `striptags`, `escape`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdTemplateDto {
    /// Plain text.
    pub title: String,
    /// HTML (autoescaped).
    pub description: String,
}

/// A publish rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishRuleDto {
    pub id: String,
    pub connection: String,
    /// 1-based place in the order (first match wins).
    pub position: usize,
    pub name: String,
    pub enabled: bool,
    pub filter: RuleFilterDto,
    pub template: AdTemplateDto,
    pub created_at_unix: i64,
    pub updated_at_unix: i64,
}

/// A connection's rules, in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishRulesDto {
    pub rules: Vec<PublishRuleDto>,
    /// Rules changed since they were applied: the next sync (or apply-now) applies them.
    pub pending: bool,
}

/// Creates a rule (at the end of the order unless `at` is given).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRuleRequest {
    pub name: String,
    #[serde(default)]
    pub filter: RuleFilterDto,
    pub template: AdTemplateDto,
    /// Enabled unless false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 1-based place in the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<usize>,
}

/// Changes a rule; fields not given stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRuleRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<RuleFilterDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<AdTemplateDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The new order: every rule id of the connection, once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRulesRequest {
    pub rule_ids: Vec<String>,
}

/// Renders a rule against a position without saving anything: a stored
/// rule (`rule_id`) or one given inline (`filter`, `template`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub position_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<RuleFilterDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<AdTemplateDto>,
}

/// A preview: whether the rule matches the position, and its ad.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PreviewDto {
    pub matches: bool,
    pub ad: AdDto,
}

/// What applying the rules did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplyReportDto {
    pub examined: u64,
    pub published: u64,
    pub unpublished: u64,
    /// Left alone: a person decided.
    pub decided_by_users: u64,
    pub render_errors: u64,
}

impl From<&RuleFilter> for RuleFilterDto {
    fn from(f: &RuleFilter) -> Self {
        RuleFilterDto {
            statuses: f.statuses.clone(),
            title: f.title.as_ref().map(|t| match t {
                TitlePattern::Glob(p) => TitlePatternDto { kind: "glob".into(), pattern: p.clone() },
                TitlePattern::Regex(p) => TitlePatternDto { kind: "regex".into(), pattern: p.clone() },
            }),
            location: f.location.clone(),
            extra: f.extra.clone(),
        }
    }
}

/// A rule as the API shows it.
pub fn rule_dto(connection: &str, index: usize, r: &PublishRule) -> PublishRuleDto {
    PublishRuleDto {
        id: r.id.clone(),
        connection: connection.to_string(),
        position: index + 1,
        name: r.name.clone(),
        enabled: r.enabled,
        filter: RuleFilterDto::from(&r.filter),
        template: AdTemplateDto { title: r.template.title.clone(), description: r.template.description.clone() },
        created_at_unix: r.created_at_unix,
        updated_at_unix: r.updated_at_unix,
    }
}
