//! The native baseline: a plain program doing the work of a sync without
//! the sandbox and without the engine. Same requests to the same mock
//! (OAuth token, `GET /v3/jobs?per_page=500` then the `Link` URLs, the job
//! posts of each page by `job_ids`), `serde_json` into structs shaped like
//! the connector's, the same mapping onto one record per job, one sled
//! record per job (a page per batch), and the next page fetched while the
//! previous one is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Harvest's largest page, as the connector asks.
const PER_PAGE: &str = "500";

#[derive(Deserialize)]
struct Job {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    requisition_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    confidential: Option<bool>,
    opened_at: Option<String>,
    closed_at: Option<String>,
    updated_at: Option<String>,
    #[serde(default)]
    departments: Vec<Named>,
    #[serde(default)]
    offices: Vec<Office>,
    #[serde(default)]
    hiring_team: HiringTeam,
    #[serde(default)]
    openings: Vec<Opening>,
    #[serde(default)]
    custom_fields: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Office {
    name: Option<String>,
    location: Option<Named>,
}

#[derive(Default, Deserialize)]
struct HiringTeam {
    #[serde(default)]
    hiring_managers: Vec<Member>,
    #[serde(default)]
    recruiters: Vec<Member>,
    #[serde(default)]
    coordinators: Vec<Member>,
    #[serde(default)]
    sourcers: Vec<Member>,
}

#[derive(Deserialize)]
struct Member {
    id: u64,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct Opening {
    opening_id: Option<String>,
}

#[derive(Deserialize)]
struct JobPost {
    job_id: Option<u64>,
    content: Option<String>,
    internal_content: Option<String>,
    live: Option<bool>,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

/// What is stored per job.
#[derive(Serialize)]
struct Record {
    code: String,
    title: String,
    locations: Vec<String>,
    description: String,
    users: Vec<(String, String)>,
    status: &'static str,
    raw_status: String,
    extra: BTreeMap<String, String>,
    updated_at: Option<String>,
}

/// An authenticated client of the mock.
#[derive(Clone)]
pub struct Baseline {
    client: reqwest::Client,
    base: String,
    bearer: String,
}

impl Baseline {
    /// Takes a token (client credentials, as the connector does).
    pub async fn connect(mock: &super::mock::MockProcess) -> Baseline {
        let client = reqwest::Client::new();
        let token: Token = client
            .post(mock.token_url())
            .basic_auth(mock.client_id(), Some(mock.client_secret()))
            .form(&[("grant_type", "client_credentials"), ("sub", mock.user_id().as_str())])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("token")
            .json()
            .await
            .expect("token body");
        Baseline { client, base: mock.base_url(), bearer: format!("Bearer {}", token.access_token) }
    }

    /// One Harvest page and the next page's URL (`Link: <…>; rel="next"`).
    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> (Vec<T>, Option<String>) {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &self.bearer)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("page");
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|link| link.split(',').find(|l| l.contains("rel=\"next\"")))
            .and_then(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_string()));
        let body = response.bytes().await.expect("body");
        (serde_json::from_slice(&body).expect("JSON"), next)
    }

    /// One page of jobs with their descriptions, as records.
    async fn page(&self, next: Option<String>) -> (Vec<Record>, Option<String>) {
        let url = next.unwrap_or_else(|| format!("{}/v3/jobs?per_page={PER_PAGE}", self.base));
        let (jobs, next): (Vec<Job>, _) = self.get(&url).await;
        let ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
        let mut descriptions: HashMap<u64, (bool, String)> = HashMap::with_capacity(jobs.len());
        if !ids.is_empty() {
            let mut missing: HashSet<u64> = jobs.iter().map(|j| j.id).collect();
            let mut url = Some(format!("{}/v3/job_posts?job_ids={}&per_page={PER_PAGE}", self.base, ids.join(",")));
            while let Some(current) = url.take() {
                let (posts, next): (Vec<JobPost>, _) = self.get(&current).await;
                for post in posts {
                    let Some(job) = post.job_id.filter(|j| missing.contains(j) || descriptions.contains_key(j)) else {
                        continue;
                    };
                    missing.remove(&job);
                    let live = post.live == Some(true);
                    let text =
                        post.content.filter(|t| !t.trim().is_empty()).or(post.internal_content).unwrap_or_default();
                    if descriptions.get(&job).is_none_or(|(held_live, _)| live && !held_live) {
                        descriptions.insert(job, (live, text));
                    }
                }
                if !missing.is_empty() {
                    url = next;
                }
            }
        }
        let records = jobs
            .into_iter()
            .map(|job| {
                let description = descriptions.remove(&job.id).map(|(_, d)| d).unwrap_or_default();
                record(job, description)
            })
            .collect();
        (records, next)
    }

    /// Lists every page and parses it, storing nothing. Returns the jobs.
    pub async fn fetch_and_parse(&self) -> usize {
        let (mut jobs, mut next) = (0, None);
        loop {
            let (records, following) = self.page(next).await;
            jobs += std::hint::black_box(records).len();
            match following {
                Some(url) => next = Some(url),
                None => return jobs,
            }
        }
    }

    /// The whole sync: each page written to `tree` (one record per job, a
    /// batch per page) while the next one is fetched. Returns the jobs.
    pub async fn sync(&self, tree: sled::Tree) -> usize {
        let me = Arc::new(self.clone());
        let fetch = |next: Option<String>| {
            let me = me.clone();
            tokio::spawn(async move { me.page(next).await })
        };
        let mut pending = Some(fetch(None));
        let mut jobs = 0;
        while let Some(task) = pending.take() {
            let (records, next) = task.await.expect("fetch task");
            pending = next.map(|url| fetch(Some(url)));
            jobs += records.len();
            let tree = tree.clone();
            tokio::task::spawn_blocking(move || {
                let mut batch = sled::Batch::default();
                for r in &records {
                    batch.insert(r.code.as_bytes(), serde_json::to_vec(r).expect("encode"));
                }
                tree.apply_batch(batch).expect("write")
            })
            .await
            .expect("write task");
        }
        jobs
    }
}

/// The connector's mapping, in short: locations from offices, the hiring
/// team, extra fields, the mapped status.
fn record(job: Job, description: String) -> Record {
    let mut extra = BTreeMap::new();
    let mut add = |key: String, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            extra.insert(key, v);
        }
    };
    let joined = |items: Vec<String>| (!items.is_empty()).then(|| items.join(", "));
    add("requisition-id".into(), job.requisition_id.clone());
    add("department".into(), joined(job.departments.iter().filter_map(|d| d.name.clone()).collect()));
    add("office".into(), joined(job.offices.iter().filter_map(|o| o.name.clone()).collect()));
    add("openings".into(), joined(job.openings.iter().filter_map(|o| o.opening_id.clone()).collect()));
    add("confidential".into(), job.confidential.map(|c| c.to_string()));
    add("opened-at".into(), job.opened_at.clone());
    add("closed-at".into(), job.closed_at.clone());
    for (key, value) in &job.custom_fields {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        add(format!("custom.{key}"), text);
    }
    let locations = job
        .offices
        .iter()
        .filter_map(|o| o.location.as_ref().and_then(|l| l.name.clone()).or_else(|| o.name.clone()))
        .collect();
    let team = &job.hiring_team;
    let users = [&team.hiring_managers, &team.recruiters, &team.coordinators, &team.sourcers]
        .into_iter()
        .flatten()
        .map(|m| {
            let full = [m.first_name.as_deref(), m.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            (m.id.to_string(), m.name.clone().unwrap_or_else(|| full.join(" ")))
        })
        .collect();
    let raw_status = job.status.unwrap_or_default();
    Record {
        code: job.id.to_string(),
        title: job.name.unwrap_or_default(),
        locations,
        description,
        users,
        status: match raw_status.as_str() {
            "open" => "open",
            "closed" => "closed",
            _ => "draft",
        },
        raw_status,
        extra,
        updated_at: job.updated_at,
    }
}
