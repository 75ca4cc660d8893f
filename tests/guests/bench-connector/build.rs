//! Generates `page_500.json`: one deterministic, realistic page of 500
//! Greenhouse Harvest v1 jobs (`GET /v1/jobs?per_page=500`, a bare JSON
//! array), each with a ~1.5 KB HTML description. The same bytes are
//! embedded in the native library and in the component, so the benchmark
//! compares like with like.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Greenhouse's maximum `per_page`.
const JOBS: u64 = 500;
/// Fixed seed: the page must be identical on every build.
const SEED: u64 = 0x5eed_a75b_1d6e;

const TITLES: &[&str] = &[
    "Senior Backend Engineer",
    "Frontend Engineer",
    "Staff Data Scientist",
    "Product Designer",
    "Engineering Manager",
    "Site Reliability Engineer",
    "Account Executive",
    "Customer Success Manager",
    "Talent Acquisition Partner",
    "Financial Analyst",
    "Security Engineer",
    "Technical Writer",
];
const LEVELS: &[&str] = &["", "Junior ", "Mid-level ", "Lead ", "Principal "];
const STATUSES: &[&str] = &["open", "open", "open", "closed", "draft"];
const DEPARTMENTS: &[&str] = &["Engineering", "Design", "Sales", "People", "Finance", "Operations"];
const OFFICES: &[(&str, &str)] = &[
    ("Berlin", "Berlin, Germany"),
    ("London", "London, United Kingdom"),
    ("New York", "New York, NY, USA"),
    ("São Paulo", "São Paulo, Brazil"),
    ("Remote", "Remote – EMEA"),
    ("Zürich", "Zürich, Switzerland"),
];
const FIRST: &[&str] = &["Ada", "Grace", "Linus", "Margaret", "José", "Chloé", "Wei", "Amara", "Søren", "Priya"];
const LAST: &[&str] =
    &["Lovelace", "Hopper", "Torvalds", "Hamilton", "García", "Dubois", "Zhang", "Okafor", "Kierkegaard", "Patel"];
const PERKS: &[&str] = &[
    "Flexible working hours &amp; remote-friendly culture",
    "Learning budget of €2,000 per year",
    "30 days of paid vacation",
    "Company pension plan with employer match",
    "Top-of-the-line hardware of your choice",
    "Annual team off-site",
];

/// xorshift64*: tiny, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A JSON string literal. `escape_html` writes `<` and `>` as `\u003c` and
/// `\u003e`, as Greenhouse's webhooks do.
fn json_str(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '<' if escape_html => out.push_str("\\u003c"),
            '>' if escape_html => out.push_str("\\u003e"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn timestamp(rng: &mut Rng) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    )
}

fn description(rng: &mut Rng, title: &str, department: &str, office: &str) -> String {
    let mut html = format!(
        "<div class=\"content-intro\"><p><strong>About us</strong></p><p>We build the tools that \
         hiring teams rely on every day. Our {department} team in {office} is growing, and we are \
         looking for a <em>{title}</em> who cares about craft, clarity and the people they work with.</p></div>\
         <p><strong>What you will do</strong></p><ul>"
    );
    for duty in [
        "Own features end to end, from the first sketch to the last metric.",
        "Work closely with product, design and customers to find the simplest thing that works.",
        "Review code and designs with kindness and rigour; write things down.",
        "Improve how we build, test, ship and operate our services.",
        "Mentor colleagues and help shape our hiring process.",
    ] {
        let _ = write!(html, "<li>{duty}</li>");
    }
    html.push_str("</ul><p><strong>What you bring</strong></p><ul>");
    let years = 2 + rng.below(8);
    let _ = write!(
        html,
        "<li>{years}+ years of experience in a similar role.</li>\
         <li>Comfort with ambiguity and a bias towards shipping.</li>\
         <li>Clear written and spoken English; German or Portuguese is a plus.</li>"
    );
    html.push_str("</ul><p><strong>What we offer</strong></p><ul>");
    for _ in 0..4 {
        let _ = write!(html, "<li>{}</li>", rng.pick(PERKS));
    }
    let _ = write!(
        html,
        "</ul><p>Salary range: €{}k – €{}k, depending on experience. \
         <a href=\"https://careers.example.com/jobs?dept={}\" target=\"_blank\">See all open roles</a>.</p>\
         <div class=\"content-conclusion\"><p>We welcome applicants of every background. \
         If you need an accommodation during the process, tell us and we will make it happen.</p></div>",
        50 + rng.below(50),
        100 + rng.below(60),
        department.to_lowercase()
    );
    html
}

fn user(out: &mut String, rng: &mut Rng, responsible: Option<bool>) {
    let id = 10_000 + rng.below(90_000);
    let first = *rng.pick(FIRST);
    let last = *rng.pick(LAST);
    let _ = write!(out, "{{\"id\":{id},\"first_name\":");
    json_str(out, first, false);
    out.push_str(",\"last_name\":");
    json_str(out, last, false);
    out.push_str(",\"name\":");
    json_str(out, &format!("{first} {last}"), false);
    let _ = write!(out, ",\"employee_id\":\"E{id}\"");
    if let Some(responsible) = responsible {
        let _ = write!(out, ",\"responsible\":{responsible}");
    }
    out.push('}');
}

fn users(out: &mut String, rng: &mut Rng, key: &str, max: u64, responsible: bool) {
    let _ = write!(out, "\"{key}\":[");
    for i in 0..rng.below(max + 1) {
        if i > 0 {
            out.push(',');
        }
        user(out, rng, responsible.then_some(i == 0));
    }
    out.push(']');
}

fn job(out: &mut String, rng: &mut Rng, index: u64) {
    let id = 4_000_000 + index * 7;
    let title = format!("{}{}", rng.pick(LEVELS), rng.pick(TITLES));
    let status = *rng.pick(STATUSES);
    let department = *rng.pick(DEPARTMENTS);
    let (office, location) = *rng.pick(OFFICES);
    let escape_html = index.is_multiple_of(3);

    let _ = write!(out, "{{\"id\":{id},\"name\":");
    json_str(out, &title, false);
    out.push_str(",\"requisition_id\":");
    if index % 10 == 9 {
        out.push_str("null");
    } else {
        json_str(out, &format!("REQ-{}", 1000 + index), false);
    }
    let _ = write!(out, ",\"notes\":");
    json_str(out, &format!("Internal: budget approved for {department}.\nBackfill."), false);
    let _ = write!(
        out,
        ",\"confidential\":{},\"is_template\":false,\"copied_from_id\":null,\"status\":\"{status}\",\
         \"created_at\":\"{}\",\"opened_at\":\"{}\",\"closed_at\":{},\"updated_at\":\"{}\"",
        index.is_multiple_of(17),
        timestamp(rng),
        timestamp(rng),
        if status == "closed" { format!("\"{}\"", timestamp(rng)) } else { "null".to_string() },
        timestamp(rng)
    );
    let _ = write!(
        out,
        ",\"departments\":[{{\"id\":{},\"name\":\"{department}\",\"parent_id\":null,\"child_ids\":[],\"external_id\":null}}]",
        100 + rng.below(20)
    );
    out.push_str(",\"offices\":[");
    for i in 0..1 + rng.below(2) {
        let (office, location) = if i == 0 { (office, location) } else { *rng.pick(OFFICES) };
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"name\":", 200 + rng.below(20));
        json_str(out, office, false);
        out.push_str(",\"location\":{\"name\":");
        json_str(out, location, false);
        out.push_str("},\"primary_contact_user_id\":null,\"parent_id\":null,\"child_ids\":[],\"external_id\":null}");
    }
    out.push_str("],\"hiring_team\":{");
    users(out, rng, "hiring_managers", 2, false);
    out.push(',');
    users(out, rng, "recruiters", 2, true);
    out.push(',');
    users(out, rng, "coordinators", 1, true);
    out.push(',');
    users(out, rng, "sourcers", 1, false);
    out.push_str("},\"openings\":[");
    for i in 0..1 + rng.below(3) {
        if i > 0 {
            out.push(',');
        }
        let open = status == "open" && i == 0;
        let _ = write!(
            out,
            "{{\"id\":{},\"opening_id\":\"{index}-{}\",\"status\":\"{}\",\"opened_at\":\"{}\",\"closed_at\":null,\
             \"application_id\":null,\"close_reason\":null}}",
            900_000 + index * 10 + i,
            i + 1,
            if open { "open" } else { "closed" },
            timestamp(rng)
        );
    }
    let employment = if rng.below(4) == 0 { "Part-time" } else { "Full-time" };
    let _ = write!(
        out,
        "],\"custom_fields\":{{\"employment_type\":\"{employment}\",\"cost_center\":\"CC-{}\",\"bonus_eligible\":{}}},\
         \"keyed_custom_fields\":{{\"employment_type\":{{\"name\":\"Employment Type\",\"type\":\"single_select\",\"value\":\"{employment}\"}},\
         \"cost_center\":{{\"name\":\"Cost Center\",\"type\":\"short_text\",\"value\":\"CC-{}\"}},\
         \"bonus_eligible\":{{\"name\":\"Bonus eligible\",\"type\":\"boolean\",\"value\":{}}},\
         \"headcount\":{{\"name\":\"Headcount\",\"type\":\"number\",\"value\":{}}},\
         \"remote_policy\":{{\"name\":\"Remote policy\",\"type\":\"single_select\",\"value\":null}}}}",
        index % 40,
        index.is_multiple_of(2),
        index % 40,
        index.is_multiple_of(2),
        1 + index % 3
    );
    out.push_str(",\"content\":");
    json_str(out, &description(rng, &title, department, office), escape_html);
    out.push('}');
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut rng = Rng(SEED);
    let mut page = String::with_capacity(3 * 1024 * JOBS as usize);
    page.push('[');
    for index in 0..JOBS {
        if index > 0 {
            page.push(',');
        }
        job(&mut page, &mut rng, index);
    }
    page.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("page_500.json");
    std::fs::write(&out, page).expect("write page_500.json");
}
