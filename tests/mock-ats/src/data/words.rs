//! Word banks for seeded data: titles, names, places and description text.

use super::SplitMix64;

pub(super) const LEVELS: &[&str] = &["", "", "Junior ", "Senior ", "Senior ", "Staff ", "Lead ", "Principal "];
/// (department index, role title)
pub(super) const ROLES: &[(usize, &str)] = &[
    (0, "Backend Engineer"),
    (0, "Frontend Engineer"),
    (0, "Site Reliability Engineer"),
    (0, "Data Engineer"),
    (0, "Mobile Engineer (iOS)"),
    (0, "Security Engineer"),
    (0, "Engineering Manager"),
    (1, "Product Manager"),
    (1, "Technical Product Manager"),
    (2, "Product Designer"),
    (2, "UX Researcher"),
    (3, "Account Executive"),
    (3, "Sales Development Representative"),
    (4, "Content Marketing Manager"),
    (4, "Growth Marketer"),
    (5, "Customer Success Manager"),
    (5, "Support Specialist"),
    (6, "Financial Analyst"),
    (6, "Accountant"),
    (7, "Talent Partner"),
    (7, "People Operations Generalist"),
    (8, "Business Operations Analyst"),
    (9, "Legal Counsel"),
    (0, "Machine Learning Engineer"),
    (0, "QA Engineer"),
];
pub(super) const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Product",
    "Design",
    "Sales",
    "Marketing",
    "Customer Success",
    "Finance",
    "People",
    "Operations",
    "Legal",
];
/// (city, region, country, country code)
pub(super) const OFFICES: &[(&str, &str, &str, &str)] = &[
    ("Berlin", "Berlin", "Germany", "DE"),
    ("London", "England", "United Kingdom", "GB"),
    ("New York", "New York", "United States", "US"),
    ("San Francisco", "California", "United States", "US"),
    ("Toronto", "Ontario", "Canada", "CA"),
    ("Paris", "Île-de-France", "France", "FR"),
    ("Amsterdam", "North Holland", "Netherlands", "NL"),
    ("Remote", "", "Worldwide", "ZZ"),
];
pub(super) const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Guido",
    "Sophie",
    "Tim",
    "Hedy",
    "Donald",
    "Katherine",
    "John",
    "Joan",
    "Niklaus",
];
pub(super) const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "van Rossum",
    "Wilson",
    "Berners-Lee",
    "Lamarr",
    "Knuth",
    "Johnson",
    "McCarthy",
    "Clarke",
    "Wirth",
];

/// A 1–2 KB HTML job description.
pub(super) fn description(rng: &mut SplitMix64, title: &str, dept: &str, office: &str) -> String {
    let mut html = format!(
        "<h2>About the role</h2><p>We are looking for a {title} to join our {dept} team in {office}. {}</p>",
        rng.pick(INTRO),
    );
    html.push_str("<h3>What you will do</h3><ul>");
    for _ in 0..4 + rng.below(3) {
        html.push_str(&format!("<li>{}</li>", rng.pick(DUTIES)));
    }
    html.push_str("</ul><h3>What we are looking for</h3><ul>");
    for _ in 0..4 + rng.below(3) {
        html.push_str(&format!("<li>{}</li>", rng.pick(REQUIREMENTS)));
    }
    html.push_str("</ul><h3>Benefits</h3><ul>");
    for _ in 0..3 {
        html.push_str(&format!("<li>{}</li>", rng.pick(BENEFITS)));
    }
    html.push_str(
        "</ul><p>We welcome applicants of all backgrounds &amp; experiences. Salary range &lt;on request&gt;.</p>",
    );
    html
}

const INTRO: &[&str] = &[
    "You will work closely with a small, senior team that ships to production every day and values clear writing over meetings.",
    "This is a rare chance to shape a product used by thousands of companies while learning from people who care about craft.",
    "Our customers depend on us for their most important workflows, and this role is central to keeping that promise.",
];
const DUTIES: &[&str] = &[
    "Own features end to end, from the first sketch to measuring their impact in production",
    "Collaborate with design, product and customer teams to decide what to build next",
    "Write clear, well-tested code and review the work of your peers with kindness",
    "Improve the reliability, performance and observability of the systems you touch",
    "Mentor teammates and contribute to a culture of learning and psychological safety",
    "Talk to customers regularly to understand the problems behind their requests",
    "Document decisions so that the next person can understand why, not just what",
    "Take part in a fair, well-paid on-call rotation with a focus on fixing root causes",
];
const REQUIREMENTS: &[&str] = &[
    "Several years of experience in a similar role, or equivalent practical experience",
    "Excellent written and spoken communication in English; German is a plus",
    "A track record of shipping work that mattered to customers",
    "Comfort with ambiguity and the judgement to know when to ask for help",
    "Experience with distributed systems, relational databases and HTTP APIs",
    "Curiosity about how the business works and how your work moves it",
    "Empathy for users and colleagues, and the humility to change your mind",
];
const BENEFITS: &[&str] = &[
    "30 days of paid vacation plus public holidays",
    "A learning budget of 2,000 EUR per year",
    "Flexible working hours and a remote-friendly setup",
    "Company pension scheme and comprehensive health insurance",
    "Parental leave well beyond the legal minimum",
    "A new laptop and home-office equipment of your choice",
];
