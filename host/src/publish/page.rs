//! The public HTML of a published position: its page with the application
//! form, the thank-you page and error pages. Plain HTML, no JavaScript,
//! nothing loaded from elsewhere.
//!
//! The templates are ours (compiled in), rendered with HTML autoescape, so
//! every value from the ATS or a rule is escaped; descriptions are HTML
//! sanitized by `ammonia` (again here, whatever was stored). A page shows
//! no account id, connection id or position id: only the public id.

use std::sync::OnceLock;

use minijinja::{Environment, context};

use super::template::sanitize_html;
use crate::store::{Position, QuestionKind};

const LAYOUT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input{font:inherit}.loc{color:#555}</style>
</head><body>{{ body | safe }}</body></html>"#;

const POSITION: &str = r#"<h1>{{ title }}</h1>
{% if locations %}<p class="loc">{{ locations | join(" · ") }}</p>{% endif %}
<div class="description">{{ description | safe }}</div>
<h2>Apply</h2>
<form method="post" action="/p/{{ public_id }}/apply" enctype="multipart/form-data">
<label for="name">Name</label><input id="name" name="name" required maxlength="200">
<label for="email">Email</label><input id="email" name="email" type="email" required maxlength="320">
{% for q in questions %}
<label for="q-{{ q.id }}">{{ q.label }}</label>
<input id="q-{{ q.id }}" name="{{ q.id }}" type="file" accept="{{ accept }}"{% if q.required %} required{% endif %}>
{% endfor %}
<p><small>Files up to {{ max_mib }} MiB.</small></p>
<p><button type="submit">Send application</button></p>
</form>"#;

const APPLIED: &str = r#"<h1>Thank you</h1><p>Your application for {{ title }} was received.</p>
<p><a href="/p/{{ public_id }}">Back to the position</a></p>"#;

const ERROR: &str = r#"<h1>{{ heading }}</h1><p>{{ message }}</p>"#;

/// What the file input accepts (a hint to browsers; the host checks content).
const ACCEPT: &str = ".pdf,.doc,.docx,.odt,.rtf,.txt,application/pdf,application/msword,\
application/vnd.openxmlformats-officedocument.wordprocessingml.document,application/vnd.oasis.opendocument.text,\
application/rtf,text/plain";

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::empty();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.add_filter("safe", minijinja::filters::safe);
        env.add_filter("join", minijinja::filters::join);
        // Autoescape for every page.
        for (name, source) in
            [("layout.html", LAYOUT), ("position.html", POSITION), ("applied.html", APPLIED), ("error.html", ERROR)]
        {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a built-in page template does not compile");
            }
        }
        env
    })
}

/// Renders a page's body into the layout, under `title`.
fn render(name: &str, title: &str, ctx: minijinja::Value) -> String {
    let page = env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .and_then(|body| env().get_template("layout.html").and_then(|t| t.render(context! { title, body })));
    page.unwrap_or_else(|e| {
        tracing::error!(template = name, error = %e, "a page did not render");
        "<!doctype html><title>Error</title><h1>Something went wrong</h1>".to_string()
    })
}

/// The title and description the public sees: the rule's ad, else the
/// position's own (effective) values.
pub fn shown_title_and_description(p: &Position) -> (String, String) {
    match &p.publication.ad {
        Some(ad) => (ad.title.clone(), sanitize_html(&ad.description_html)),
        None => (p.name.effective().clone(), sanitize_html(p.description.effective())),
    }
}

/// The page of a published position with its application form.
pub fn position_page(p: &Position, public_id: &str, max_upload_bytes: u64) -> String {
    let (title, description) = shown_title_and_description(p);
    let questions: Vec<_> = p
        .publication
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::ResumeUpload)
        .map(|q| context! { id => &q.id, label => &q.label, required => q.required })
        .collect();
    render(
        "position.html",
        &title.clone(),
        context! {
            title, description, public_id, questions,
            locations => p.locations.effective(),
            accept => ACCEPT,
            max_mib => max_upload_bytes.div_ceil(1 << 20),
        },
    )
}

/// The page after an application was received.
pub fn applied_page(p: &Position, public_id: &str) -> String {
    let (title, _) = shown_title_and_description(p);
    render("applied.html", "Application received", context! { title, public_id })
}

/// An error page.
pub fn error_page(heading: &str, message: &str) -> String {
    render("error.html", heading, context! { heading, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::job;
    use crate::store::{Actor, Decision, JobPatch};

    #[test]
    fn hostile_ats_text_is_escaped_and_sanitized() {
        let mut j = job("J1", "<script>alert('t')</script>{{ 7 * 7 }}");
        j.description =
            "<p>ok</p><script>alert('d')</script><img src=x onerror=alert(1)><a href=\"javascript:x()\">l</a>".into();
        j.locations = vec!["<b>Paris</b>".into()];
        let mut p = Position::from_patch(42, "acme-secret", "acme-conn", &JobPatch::from_job(&j), 1, 1);
        p.decide(Decision { publish: true, by: Actor::Rule { rule_id: "r1".into() }, reason: None, at_unix: 1 });
        let html = position_page(&p, "PUB123", 10 << 20);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#x27;t&#x27;)&lt;&#x2f;script&gt;{{ 7 * 7 }}"), "{html}");
        assert!(!html.contains("onerror") && !html.contains("javascript:"), "{html}");
        assert!(html.contains("<p>ok</p>") && html.contains("&lt;b&gt;Paris"), "{html}");
        assert!(!html.contains("acme-secret") && !html.contains("acme-conn") && !html.contains("42"), "{html}");
        assert!(html.contains("action=\"/p/PUB123/apply\"") && html.contains("type=\"file\""), "{html}");
    }
}
