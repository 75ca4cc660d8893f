//! `atsbridge rules ...`: a connection's auto-publish rules.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use axum::http::Method;
use clap::Subcommand;

use super::client::{Backend, segment};
use crate::service::publish_dto::{
    AdTemplateDto, ApplyReportDto, CreateRuleRequest, PreviewDto, PreviewRequest, PublishRuleDto, PublishRulesDto,
    ReorderRulesRequest, RuleFilterDto, TitlePatternDto, UpdateRuleRequest,
};

/// A rule's filter and template as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RuleSpec {
    /// Statuses it publishes (open, draft, on_hold, other; repeatable) [default: open].
    #[arg(long = "status")]
    statuses: Vec<String>,
    /// Title glob (`*engineer*`, case-insensitive).
    #[arg(long, conflicts_with = "title_regex")]
    title_glob: Option<String>,
    /// Title regular expression.
    #[arg(long)]
    title_regex: Option<String>,
    /// Location glob.
    #[arg(long)]
    location: Option<String>,
    /// Extra ATS field glob, `field=glob` (repeatable): `--extra department=Eng*`.
    #[arg(long = "extra")]
    extra: Vec<String>,
    /// The ad's title template (`{{ title }} in {{ location }}`).
    #[arg(long)]
    ad_title: Option<String>,
    /// The ad's description template (HTML; `{{ description }}` is the ATS's, sanitized).
    #[arg(long)]
    ad_description: Option<String>,
}

impl RuleSpec {
    fn filter_given(&self) -> bool {
        !self.statuses.is_empty()
            || self.title_glob.is_some()
            || self.title_regex.is_some()
            || self.location.is_some()
            || !self.extra.is_empty()
    }

    fn filter(&self) -> anyhow::Result<RuleFilterDto> {
        let mut extra = BTreeMap::new();
        for pair in &self.extra {
            let (k, v) = pair.split_once('=').with_context(|| format!("`{pair}` is not field=glob"))?;
            extra.insert(k.to_string(), v.to_string());
        }
        let title = match (&self.title_glob, &self.title_regex) {
            (Some(g), _) => Some(TitlePatternDto { kind: "glob".into(), pattern: g.clone() }),
            (None, Some(r)) => Some(TitlePatternDto { kind: "regex".into(), pattern: r.clone() }),
            (None, None) => None,
        };
        Ok(RuleFilterDto { statuses: self.statuses.clone(), title, location: self.location.clone(), extra })
    }

    fn template(&self) -> Option<AdTemplateDto> {
        if self.ad_title.is_none() && self.ad_description.is_none() {
            return None;
        }
        Some(AdTemplateDto {
            title: self.ad_title.clone().unwrap_or_else(|| "{{ title }}".into()),
            description: self.ad_description.clone().unwrap_or_else(|| "{{ description }}".into()),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List a connection's rules in order (the first that matches publishes).
    List { connection: String },
    /// Add a rule; it applies on the next sync, or now with `rules apply`.
    Create {
        connection: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        spec: RuleSpec,
        /// 1-based place in the order [default: last].
        #[arg(long)]
        at: Option<usize>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Change a rule (what is not given stays).
    Update {
        connection: String,
        rule: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        spec: RuleSpec,
        #[arg(long)]
        enable: bool,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
    },
    /// Put the rules in a new order: every rule id, first first.
    Reorder { connection: String, rule_ids: Vec<String> },
    /// Delete a rule.
    Delete { connection: String, rule: String },
    /// Render a rule's ad against a position without saving anything.
    Preview {
        connection: String,
        /// The position to render against.
        #[arg(long)]
        position: u64,
        /// A stored rule.
        #[arg(long)]
        rule: Option<String>,
        /// Or a rule given here.
        #[command(flatten)]
        spec: RuleSpec,
    },
    /// Apply the connection's rules to all its positions now.
    Apply { connection: String },
}

fn base(connection: &str) -> String {
    format!("/api/v1/connections/{}/publish-rules", segment(connection))
}

fn print_rule(r: &PublishRuleDto) {
    let mut filter = Vec::new();
    if !r.filter.statuses.is_empty() {
        filter.push(format!("status {}", r.filter.statuses.join("|")));
    }
    if let Some(t) = &r.filter.title {
        filter.push(format!("title {} `{}`", t.kind, t.pattern));
    }
    if let Some(l) = &r.filter.location {
        filter.push(format!("location `{l}`"));
    }
    for (k, v) in &r.filter.extra {
        filter.push(format!("{k} `{v}`"));
    }
    let filter = if filter.is_empty() { "every open position".to_string() } else { filter.join(", ") };
    let state = if r.enabled { "" } else { " (disabled)" };
    println!("{:>2}. {} {}{state}: {filter}; ad title `{}`", r.position, r.id, r.name, r.template.title);
}

pub async fn run(cmd: RulesCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        RulesCommand::List { connection } => {
            let rules: PublishRulesDto = api.get(&base(&connection)).await?;
            if json {
                return super::print_json(&rules);
            }
            if rules.rules.is_empty() {
                println!("no publish rules on {connection}");
            }
            rules.rules.iter().for_each(print_rule);
            if rules.pending {
                println!(
                    "(changed since last applied: the next sync applies them, or `atsbridge rules apply {connection}`)"
                );
            }
        }
        RulesCommand::Create { connection, name, spec, at, disabled } => {
            let template = spec
                .template()
                .unwrap_or(AdTemplateDto { title: "{{ title }}".into(), description: "{{ description }}".into() });
            let req = CreateRuleRequest { name, filter: spec.filter()?, template, enabled: Some(!disabled), at };
            let r: PublishRuleDto = api.post(&base(&connection), &req).await?;
            if json {
                return super::print_json(&r);
            }
            print_rule(&r);
            println!("created; it applies on the next sync (or now: `atsbridge rules apply {connection}`)");
        }
        RulesCommand::Update { connection, rule, name, spec, enable, disable } => {
            let req = UpdateRuleRequest {
                name,
                filter: if spec.filter_given() { Some(spec.filter()?) } else { None },
                template: spec.template(),
                enabled: if enable {
                    Some(true)
                } else if disable {
                    Some(false)
                } else {
                    None
                },
            };
            let path = format!("{}/{}", base(&connection), segment(&rule));
            let r: PublishRuleDto = api.send(Method::PATCH, &path, Some(&req)).await?;
            if json {
                return super::print_json(&r);
            }
            print_rule(&r);
        }
        RulesCommand::Reorder { connection, rule_ids } => {
            let path = format!("{}/order", base(&connection));
            let rules: PublishRulesDto = api.send(Method::PUT, &path, Some(&ReorderRulesRequest { rule_ids })).await?;
            if json {
                return super::print_json(&rules);
            }
            rules.rules.iter().for_each(print_rule);
        }
        RulesCommand::Delete { connection, rule } => {
            let path = format!("{}/{}", base(&connection), segment(&rule));
            let _: serde_json::Value = api.send(Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "deleted": rule }));
            }
            println!("deleted rule {rule}; positions it published are unpublished when the rules next apply");
        }
        RulesCommand::Preview { connection, position, rule, spec } => {
            let template = spec.template();
            if rule.is_none() && template.is_none() {
                bail!("pass --rule ID, or --ad-title/--ad-description (and filter flags)");
            }
            let req = PreviewRequest {
                position_id: position,
                rule_id: rule,
                filter: if spec.filter_given() { Some(spec.filter()?) } else { None },
                template,
            };
            let p: PreviewDto = api.post(&format!("{}/preview", base(&connection)), &req).await?;
            if json {
                return super::print_json(&p);
            }
            println!("matches position #{position}: {}", if p.matches { "yes" } else { "no" });
            println!("title:       {}", p.ad.title);
            println!("description: {}", p.ad.description_html);
        }
        RulesCommand::Apply { connection } => {
            let r: ApplyReportDto = api.post(&format!("{}/apply", base(&connection)), &()).await?;
            if json {
                return super::print_json(&r);
            }
            println!(
                "looked at {} position(s): {} published, {} unpublished, {} left to a person's decision, {} ad error(s)",
                r.examined, r.published, r.unpublished, r.decided_by_users, r.render_errors
            );
        }
    }
    Ok(())
}
