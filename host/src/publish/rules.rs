//! Applying a connection's publish rules to its positions.
//!
//! For each position that is not closed and whose standing decision is not
//! a person's, the first enabled rule that matches publishes it with the
//! rule's ad; a position a rule had published that no rule matches any
//! more is unpublished (by that rule, saying so). Each position changes in
//! its own transaction that re-reads it, so a person's decision made during
//! the pass is never overwritten.

use tracing::warn;

use super::PublishError;
use super::filter::CompiledFilter;
use super::template::AdRenderer;
use crate::store::{Actor, Ad, Decision, Position, PublishRule, RuleSet, Store, StoreError, now_unix};

/// One rule, compiled.
#[derive(Debug)]
struct CompiledRule {
    id: String,
    filter: CompiledFilter,
    renderer: AdRenderer,
}

/// A connection's enabled rules, compiled, in order.
#[derive(Debug, Default)]
pub struct CompiledRules {
    rules: Vec<CompiledRule>,
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Positions looked at.
    pub examined: u64,
    /// Published (or given a new ad) by a rule.
    pub published: u64,
    /// Unpublished because no rule matches them any more.
    pub unpublished: u64,
    /// Left alone because a person decided.
    pub decided_by_users: u64,
    /// Ads that failed to render (the rule is skipped for that position).
    pub render_errors: u64,
}

/// What the rules say about one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Closed, or decided by a person: nothing to do.
    Untouched,
    /// Published by this rule with this ad.
    Publish(Ad),
    /// A rule had published it; none matches now.
    Withdraw { rule_id: String },
    /// No rule matches and none had published it.
    NoMatch,
}

impl CompiledRules {
    /// Compiles every enabled rule; the first broken one is the error.
    pub fn new(set: &RuleSet) -> Result<CompiledRules, PublishError> {
        let rules = set.rules.iter().filter(|r| r.enabled).map(compile).collect::<Result<_, _>>()?;
        Ok(CompiledRules { rules })
    }

    /// What the rules decide for `p`; `render_errors` counts ads that failed.
    pub fn verdict(&self, p: &Position, render_errors: &mut u64) -> Verdict {
        if p.is_closed() || p.decided_by_user() {
            return Verdict::Untouched;
        }
        for rule in &self.rules {
            if !rule.filter.matches(p) {
                continue;
            }
            match rule.renderer.render(p) {
                Ok(ad) => return Verdict::Publish(ad),
                Err(e) => {
                    *render_errors += 1;
                    warn!(position = p.id, rule = %rule.id, error = %e, "ad did not render; trying the next rule");
                }
            }
        }
        match &p.publication.decision {
            Some(Decision { publish: true, by: Actor::Rule { rule_id }, .. }) => {
                Verdict::Withdraw { rule_id: rule_id.clone() }
            }
            _ => Verdict::NoMatch,
        }
    }
}

/// Compiles one rule (also to validate it before it is stored).
pub fn validate(rule: &PublishRule) -> Result<(), PublishError> {
    compile(rule).map(|_| ())
}

fn compile(rule: &PublishRule) -> Result<CompiledRule, PublishError> {
    Ok(CompiledRule {
        id: rule.id.clone(),
        filter: CompiledFilter::new(&rule.filter)?,
        renderer: AdRenderer::new(&rule.id, &rule.template)?,
    })
}

/// Applies a verdict to a stored position (inside its transaction).
fn apply_verdict(p: &mut Position, verdict: Verdict, now: i64) -> bool {
    match verdict {
        Verdict::Untouched | Verdict::NoMatch => false,
        Verdict::Publish(ad) => {
            let rule_id = ad.rule_id.clone();
            let decided = p.decide(Decision {
                publish: true,
                by: Actor::Rule { rule_id },
                reason: Some("matches the rule".into()),
                at_unix: now,
            });
            let new_ad = p.publication.ad.as_ref() != Some(&ad);
            p.publication.ad = Some(ad);
            decided || new_ad
        }
        Verdict::Withdraw { rule_id } => {
            p.publication.ad = None;
            p.decide(Decision {
                publish: false,
                by: Actor::Rule { rule_id },
                reason: Some("no rule matches it any more".into()),
                at_unix: now,
            })
        }
    }
}

/// Applies a connection's rules to its positions (all of them, or those in
/// `only`), and clears the rules' pending flag when all were gone over.
/// Blocking: call from a blocking context.
pub fn apply_rules(store: &Store, connection_id: &str, only: Option<&[u64]>) -> Result<ApplyReport, PublishError> {
    let set = store.publish_rules(connection_id)?;
    let compiled = CompiledRules::new(&set)?;
    let mut report = ApplyReport::default();
    let ids: Vec<u64> = match only {
        Some(ids) => ids.to_vec(),
        None => store.job_codes_of_connection(connection_id)?.into_iter().map(|(_, id)| id).collect(),
    };
    let now = now_unix();
    for id in ids {
        report.examined += 1;
        let (result, errors) = judge(store, &compiled, id, now);
        report.render_errors += errors;
        match result {
            Ok((p, true)) if p.wants_published() => report.published += 1,
            Ok((_, true)) => report.unpublished += 1,
            Ok((p, false)) if p.decided_by_user() => report.decided_by_users += 1,
            Ok(_) => {}
            // Deleted meanwhile (its connection was removed).
            Err(StoreError::UnknownPosition(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if only.is_none() && set.pending {
        let cleared: Result<_, std::convert::Infallible> = store.update_publish_rules(connection_id, |s| {
            s.pending = false;
            Ok(())
        })?;
        drop(cleared);
    }
    Ok(report)
}

/// Judges one position by `compiled` and applies the verdict, in the
/// position's own transaction (which re-reads it, so a person's decision
/// made meanwhile wins): the position as stored and whether it changed, and
/// the ads that failed to render.
fn judge(store: &Store, compiled: &CompiledRules, id: u64, now: i64) -> (Result<(Position, bool), StoreError>, u64) {
    // sled may run the closure again on a conflict: count the last run.
    let errors = std::cell::Cell::new(0);
    let result = store.update_publication(id, |p| {
        let mut n = 0;
        let verdict = compiled.verdict(p, &mut n);
        errors.set(n);
        Ok(apply_verdict(p, verdict, now))
    });
    (result, errors.get())
}

/// The pass after a person's local edit of one position (or the clearing
/// of one): the rules decide from the position's fields, local edits
/// winning, so an edit can make it newly match a rule, match no rule any
/// more, or change its ad. Only this position is judged, at once, by the
/// connection's current rules; a person's standing decision still beats
/// them. Returns the position as stored afterwards. Blocking.
pub fn after_edit(store: &Store, position: &Position) -> Result<Position, PublishError> {
    let set = store.publish_rules(&position.connection_id)?;
    if set.rules.is_empty() && !position.wants_published() {
        // No rule to publish it and none to withdraw it.
        return Ok(position.clone());
    }
    let compiled = CompiledRules::new(&set)?;
    let (result, errors) = judge(store, &compiled, position.id, now_unix());
    let (stored, changed) = result?;
    if changed {
        tracing::info!(position = position.id, published = stored.published, "publish rules applied after an edit");
    }
    if errors > 0 {
        warn!(position = position.id, errors, "publish rule ads did not render after an edit");
    }
    Ok(stored)
}

/// The pass after a sync run. The rules decide from a position's fields
/// and their own, so only the positions the run wrote (`changed`) can get
/// another verdict, unless the rules changed since the last pass: then
/// every position of the connection is gone over (and the rules' pending
/// flag cleared). Nothing at all when the connection has no rules and none
/// changed. Errors are logged, never fail the run.
pub fn after_sync(store: &Store, connection_id: &str, changed: &[u64]) {
    let set = match store.publish_rules(connection_id) {
        Ok(set) => set,
        Err(e) => {
            warn!(connection = %connection_id, error = %e, "cannot read publish rules");
            return;
        }
    };
    let only = match (set.pending, set.rules.is_empty()) {
        (true, _) => None,
        (false, true) => return,
        (false, false) if changed.is_empty() => return,
        (false, false) => Some(changed),
    };
    match apply_rules(store, connection_id, only) {
        Ok(report) => tracing::info!(connection = %connection_id, ?report, "publish rules applied"),
        Err(e) => warn!(connection = %connection_id, error = %e, "publish rules were not applied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};
    use crate::store::{AdTemplate, RuleFilter, TitlePattern};

    fn add_rule(store: &Store, connection_id: &str, pending: bool) {
        let rule = PublishRule {
            id: "r1".into(),
            name: "Engineers".into(),
            enabled: true,
            filter: RuleFilter { title: Some(TitlePattern::Glob("*engineer*".into())), ..Default::default() },
            template: AdTemplate { title: "{{ title }}".into(), description: "{{ description }}".into() },
            created_at_unix: 1,
            updated_at_unix: 1,
        };
        let set: Result<_, std::convert::Infallible> = store
            .update_publish_rules(connection_id, |s| {
                s.rules = vec![rule.clone()];
                s.next_id = 2;
                s.pending = pending;
                Ok(())
            })
            .unwrap();
        set.unwrap();
    }

    fn published(store: &Store, id: u64) -> bool {
        store.position(id).unwrap().unwrap().published
    }

    #[test]
    fn the_pass_after_a_sync_reads_only_what_the_run_changed_unless_the_rules_changed() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "Engineer"), ("J2", "Staff Engineer"), ("J3", "Designer")]);
        // Rules already applied (not pending): only the changed position is
        // examined, so J2, which matches but did not change, stays as it is.
        add_rule(&store, &c.id, false);
        after_sync(&store, &c.id, &[made[0].id, made[2].id]);
        assert!(published(&store, made[0].id));
        assert!(!published(&store, made[1].id), "not changed by the run: not read");
        assert!(!published(&store, made[2].id), "changed, but no rule matches");
        // Nothing changed: nothing to do.
        after_sync(&store, &c.id, &[]);
        assert!(!published(&store, made[1].id));
        // The rules changed: every position, and the flag is cleared.
        add_rule(&store, &c.id, true);
        after_sync(&store, &c.id, &[]);
        assert!(published(&store, made[1].id));
        assert!(!store.publish_rules(&c.id).unwrap().pending);
        // A position the run changed is judged again: retitled, it no longer
        // matches, and the rule that published it withdraws it.
        let retitled = commit_jobs(&store, &c.id, &[("J1", "Chef")]);
        after_sync(&store, &c.id, &[retitled[0].id]);
        assert!(!published(&store, made[0].id));
        assert!(published(&store, made[1].id));
    }

    #[test]
    fn the_first_matching_rule_in_order_publishes_and_a_reorder_changes_which() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "Staff Engineer"), ("J2", "Designer")]);
        let rule = |id: &str, glob: &str, prefix: &str, enabled: bool| PublishRule {
            id: id.into(),
            name: id.into(),
            enabled,
            filter: RuleFilter { title: Some(TitlePattern::Glob(glob.into())), ..Default::default() },
            template: AdTemplate { title: format!("{prefix}: {{{{ title }}}}"), description: String::new() },
            created_at_unix: 1,
            updated_at_unix: 1,
        };
        let set_rules = |rules: Vec<PublishRule>| {
            let set: Result<_, std::convert::Infallible> = store
                .update_publish_rules(&c.id, |s| {
                    s.rules = rules.clone();
                    s.next_id = 4;
                    s.pending = true;
                    Ok(())
                })
                .unwrap();
            set.unwrap();
        };
        let decided = |id: u64| {
            let p = store.position(id).unwrap().unwrap();
            let by = match p.publication.decision.map(|d| d.by) {
                Some(Actor::Rule { rule_id }) => Some(rule_id),
                _ => None,
            };
            (p.published, by, p.publication.ad.map(|a| a.title))
        };
        // A disabled rule first, then two that match the engineer: the
        // first enabled match publishes, with its own ad.
        let (off, eng, any) =
            (rule("r3", "*", "Off", false), rule("r1", "*engineer*", "Eng", true), rule("r2", "*", "Any", true));
        set_rules(vec![off.clone(), eng.clone(), any.clone()]);
        apply_rules(&store, &c.id, None).unwrap();
        assert_eq!(decided(made[0].id), (true, Some("r1".into()), Some("Eng: Staff Engineer".into())));
        assert_eq!(decided(made[1].id), (true, Some("r2".into()), Some("Any: Designer".into())));
        // Reordered: the catch-all comes first and now decides for both.
        set_rules(vec![any, eng, off]);
        apply_rules(&store, &c.id, None).unwrap();
        assert_eq!(decided(made[0].id), (true, Some("r2".into()), Some("Any: Staff Engineer".into())));
        assert_eq!(decided(made[1].id), (true, Some("r2".into()), Some("Any: Designer".into())));
    }
}
