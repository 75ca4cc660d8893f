//! Ad templates: a rule's title and description, filled from a position's
//! fields with minijinja.
//!
//! Templates are user input, so they run in a sandbox:
//!
//! - **Nothing but placeholders, conditions and loops.** Before a template
//!   is compiled, [`check_source`] reads it the way minijinja's lexer does
//!   and allows only `if`/`elif`/`else`/`endif`/`for`/`endfor` tags and no
//!   operator that builds strings (`~`, `+`, `*`, `%`): with `set` and
//!   concatenation, a few instructions could double a string thirty times.
//!   No `include`, `import`, `extends`, `macro` or `raw`; the environment has
//!   no loader either, so no file is ever read.
//! - **Only harmless filters.** The environment starts empty
//!   ([`minijinja::Environment::empty`]) and gets a short list of filters
//!   whose output is at most linear in their input.
//! - **Bounded work.** Fuel (instructions per render), a recursion limit, and
//!   an output cap enforced while writing.
//!
//! Values are never re-evaluated: a title that reads `{{ 7 * 7 }}` in the
//! ATS is printed as such. The description template is HTML with
//! autoescape: placeholders are escaped, except `description`, which is the
//! ATS's HTML sanitized (and the whole output is sanitized again).

use std::io;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::PublishError;
use super::filter::status_name;
use crate::store::{Ad, AdTemplate, Position};

/// The longest template source, in bytes (an ad's layout, not its text).
pub const MAX_TEMPLATE_BYTES: usize = 16 << 10;
/// The longest rendered title, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// The longest rendered description, in bytes (a long job ad is ~20 KB).
pub const MAX_DESCRIPTION_BYTES: usize = 256 << 10;
/// Instructions one render may run: plenty for loops over a position's
/// locations and fields, nowhere near enough for nested loops over a
/// description's characters.
const FUEL: u64 = 50_000;
/// Nesting depth of ifs and loops.
const RECURSION_LIMIT: usize = 32;
/// The tags a template may use.
const ALLOWED_TAGS: &[&str] = &["if", "elif", "else", "endif", "for", "endfor"];
/// Characters that are operators building values (`~` concatenation, `+`,
/// `*` repetition, `%`), refused outside string literals.
const FORBIDDEN_OPERATORS: &[char] = &['~', '+', '*', '%'];

/// Checks a template's source against the sandbox's grammar.
pub fn check_source(source: &str, what: &str) -> Result<(), PublishError> {
    let refuse = |reason: String| Err(PublishError::Template(format!("the {what} template {reason}")));
    if source.len() > MAX_TEMPLATE_BYTES {
        return refuse(format!("is longer than {MAX_TEMPLATE_BYTES} bytes"));
    }
    let mut rest = source;
    while let Some(start) = ["{{", "{%", "{#"].iter().filter_map(|o| rest.find(o)).min() {
        let opener = &rest[start..start + 2];
        rest = &rest[start + 2..];
        if opener == "{#" {
            match rest.find("#}") {
                Some(end) => rest = &rest[end + 2..],
                None => return refuse("has an unclosed comment".into()),
            }
            continue;
        }
        let closer = if opener == "{{" { "}}" } else { "%}" };
        // Whitespace control right after the opener.
        if rest.starts_with('-') || rest.starts_with('+') {
            rest = &rest[1..];
        }
        let mut code = String::new();
        let mut quote: Option<char> = None;
        let mut chars = rest.char_indices();
        let end = loop {
            let Some((i, c)) = chars.next() else { return refuse(format!("has an unclosed `{opener}`")) };
            if let Some(q) = quote {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            let tail = &rest[i..];
            if tail.starts_with(closer) {
                break i + 2;
            }
            if (c == '-' || c == '+') && tail[1..].starts_with(closer) {
                break i + 3;
            }
            if c == '"' || c == '\'' {
                quote = Some(c);
            } else if FORBIDDEN_OPERATORS.contains(&c) {
                return refuse(format!("uses `{c}`, which ad templates do not allow"));
            }
            code.push(c);
        };
        rest = &rest[end..];
        if opener == "{%" {
            let tag = code.split_whitespace().next().unwrap_or("");
            if !ALLOWED_TAGS.contains(&tag) {
                return refuse(format!(
                    "uses the `{}` tag; ad templates may use {}",
                    tag.chars().take(32).collect::<String>(),
                    ALLOWED_TAGS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Strips HTML to safe HTML: no scripts, styles, event handlers or
/// `javascript:` links.
pub fn sanitize_html(html: &str) -> String {
    ammonia::clean(html)
}

/// `join` for sequences only (joining a string's characters multiplies its
/// size by the separator's); the result is capped.
fn join(value: &Value, sep: Option<String>) -> Result<String, minijinja::Error> {
    let sep = sep.unwrap_or_default();
    let mut out = String::new();
    let items = value.try_iter().map_err(|_| bad("join takes a list"))?;
    if value.as_str().is_some() {
        return Err(bad("join takes a list, not a string"));
    }
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(&sep);
        }
        out.push_str(&item.to_string());
        if out.len() > MAX_DESCRIPTION_BYTES {
            return Err(bad("join's result is too long"));
        }
    }
    Ok(out)
}

/// `truncate(n)`: the first `n` characters, with `…` if cut.
fn truncate(value: String, n: Option<usize>) -> String {
    let n = n.unwrap_or(255);
    if value.chars().count() <= n { value } else { format!("{}…", value.chars().take(n).collect::<String>()) }
}

/// `striptags`: the text of HTML.
fn striptags(value: String) -> String {
    let text = ammonia::Builder::empty().clean(&value).to_string();
    // ammonia escapes what it keeps; the text is shown escaped anyway.
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn bad(message: &'static str) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message)
}

/// A rule's two templates, compiled.
pub struct AdRenderer {
    env: Environment<'static>,
    rule_id: String,
}

impl std::fmt::Debug for AdRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdRenderer").field("rule_id", &self.rule_id).finish_non_exhaustive()
    }
}

impl AdRenderer {
    /// Checks and compiles a rule's templates.
    pub fn new(rule_id: &str, template: &AdTemplate) -> Result<AdRenderer, PublishError> {
        check_source(&template.title, "title")?;
        check_source(&template.description, "description")?;
        let mut env = Environment::empty();
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        use minijinja::filters as f;
        env.add_filter("upper", f::upper);
        env.add_filter("lower", f::lower);
        env.add_filter("title", f::title);
        env.add_filter("capitalize", f::capitalize);
        env.add_filter("trim", f::trim);
        env.add_filter("default", f::default);
        env.add_filter("d", f::default);
        env.add_filter("first", f::first);
        env.add_filter("last", f::last);
        env.add_filter("length", f::length);
        env.add_filter("escape", f::escape);
        env.add_filter("e", f::escape);
        env.add_filter("join", join);
        env.add_filter("truncate", truncate);
        env.add_filter("striptags", striptags);
        env.add_test("defined", minijinja::tests::is_defined);
        env.add_test("undefined", minijinja::tests::is_undefined);
        env.add_test("none", minijinja::tests::is_none);
        let compile = |e: minijinja::Error, what: &str| PublishError::Template(format!("the {what} template: {e}"));
        env.add_template_owned("title", template.title.clone()).map_err(|e| compile(e, "title"))?;
        env.add_template_owned("description.html", template.description.clone())
            .map_err(|e| compile(e, "description"))?;
        Ok(AdRenderer { env, rule_id: rule_id.to_string() })
    }

    /// Renders the ad for a position (its effective values).
    pub fn render(&self, p: &Position) -> Result<Ad, PublishError> {
        let description = sanitize_html(p.description.effective());
        let ctx = minijinja::context! {
            title => p.name.effective(),
            ats_title => &p.name.ats,
            description => Value::from_safe_string(description),
            locations => p.locations.effective(),
            location => p.locations.effective().first().cloned().unwrap_or_default(),
            status => status_name(&p.status),
            job_code => &p.ats_job_code,
            extra => &p.extra,
        };
        let title = self.render_one("title", &ctx, MAX_TITLE_BYTES)?;
        let description = self.render_one("description.html", &ctx, MAX_DESCRIPTION_BYTES)?;
        Ok(Ad {
            rule_id: self.rule_id.clone(),
            title: title.split_whitespace().collect::<Vec<_>>().join(" "),
            description_html: sanitize_html(&description),
        })
    }

    fn render_one(&self, name: &str, ctx: &Value, cap: usize) -> Result<String, PublishError> {
        let what = if name == "title" { "title" } else { "description" };
        let template = self.env.get_template(name).map_err(|e| PublishError::Template(e.to_string()))?;
        let mut out = Capped { buf: Vec::new(), cap };
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => Ok(String::from_utf8_lossy(&out.buf).into_owned()),
            Err(_) if out.buf.len() >= cap => {
                Err(PublishError::Template(format!("the {what} renders to more than {cap} bytes")))
            }
            Err(e) => Err(PublishError::Template(format!("the {what} template failed: {}", e.kind()))),
        }
    }
}

/// A writer that refuses to grow past `cap` bytes.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
}

impl io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > self.cap {
            self.buf.resize(self.cap, 0);
            return Err(io::Error::other("output cap reached"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobPatch;
    use crate::store::testutil::job;

    fn position(title: &str, description: &str) -> Position {
        let mut j = job("J1", title);
        j.description = description.into();
        Position::from_patch(1, "acme", "c", &JobPatch::from_job(&j), 1, 1)
    }

    fn renderer(title: &str, description: &str) -> Result<AdRenderer, PublishError> {
        AdRenderer::new("r1", &AdTemplate { title: title.into(), description: description.into() })
    }

    #[test]
    fn placeholders_are_filled_escaped_and_never_evaluated() {
        let p = position("{{ 7 * 7 }} <script>alert(1)</script>", "<p onclick=\"x()\">Hi</p><script>bad()</script>");
        let r = renderer(
            "{{ title | upper }} in {{ location }}",
            "<h1>{{ title }}</h1>{% if extra.dept %}<p>{{ extra.dept }}</p>{% endif %}{{ description }}{{ extra.nope.deeper }}",
        )
        .unwrap();
        let ad = r.render(&p).unwrap();
        assert_eq!(ad.title, "{{ 7 * 7 }} <SCRIPT>ALERT(1)</SCRIPT> in Paris");
        assert!(ad.description_html.contains("<h1>{{ 7 * 7 }} &lt;script&gt;"), "{}", ad.description_html);
        assert!(ad.description_html.contains("<p>R&amp;D</p>"), "{}", ad.description_html);
        assert!(ad.description_html.contains("<p>Hi</p>"), "{}", ad.description_html);
        assert!(!ad.description_html.contains("<script") && !ad.description_html.contains("onclick"));
    }

    #[test]
    fn the_sandbox_refuses_tags_and_operators_that_reach_out_or_amplify() {
        for hostile in [
            "{% include '/etc/passwd' %}",
            "{% import 'x' as y %}",
            "{% extends 'base' %}",
            "{% set a = description %}",
            "{% macro m() %}{% endmacro %}",
            "{% raw %}{{ x }}{% endraw %}",
            "{{ description ~ description }}",
            "{{ 'x' * 100000000 }}",
            "{{ title + title }}",
            "{{ '%s' % title }}",
            "{{ x",
            "{# open",
        ] {
            assert!(renderer(hostile, "").is_err(), "{hostile}");
            assert!(renderer("", hostile).is_err(), "{hostile}");
        }
        // Operators inside string literals and whitespace control are fine.
        renderer("{{- 'a ~ b * c + d %' -}} {%- if title +%}x{% endif %}", "").unwrap();
        // Filters outside the list do not exist.
        assert!(renderer("{{ title | replace('', title) }}", "").and_then(|r| r.render(&position("a", "b"))).is_err());
        assert!(renderer("{{ range(10) }}", "").and_then(|r| r.render(&position("a", "b"))).is_err());
        assert!(renderer("{{ description | join(',') }}", "").and_then(|r| r.render(&position("a", "b"))).is_err());
    }

    #[test]
    fn work_and_output_are_bounded() {
        let long = "y".repeat(5_000);
        let p = position("t", &long);
        let loops = "{% for a in description %}{% for b in description %}x{% endfor %}{% endfor %}";
        let started = std::time::Instant::now();
        let err = renderer("", loops).unwrap().render(&p).unwrap_err().to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{err}");
        let big = "{% for a in description %}{{ description }}{% endfor %}";
        let err = renderer("", big).unwrap().render(&p).unwrap_err().to_string();
        assert!(err.contains("more than") || err.contains("failed"), "{err}");
        let err = renderer("{% for a in description %}{{ a }}{% endfor %}", "").unwrap().render(&p).unwrap_err();
        assert!(err.to_string().contains("title renders to more than"), "{err}");
        assert!(renderer(&"x".repeat(MAX_TEMPLATE_BYTES + 1), "").is_err());
    }
}
