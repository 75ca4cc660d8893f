//! Seeded, vendor-neutral test data: jobs, users, offices and departments.
//!
//! Everything here is a pure function of the seed, so two mocks started with
//! the same seed serve byte-identical listings. The generator is a hand-written
//! SplitMix64 rather than `rand::StdRng` because `StdRng` does not promise the
//! same stream across `rand` versions, and fixtures must not change under a
//! dependency bump.
//!
//! Jobs are cheap to make (a few small fields each); the 1–2 KB HTML
//! description is *not* stored but derived from the job on demand
//! ([`Dataset::description_html`]), so a 100 000-job mock starts in well under
//! a second and holds a few tens of megabytes.

use std::collections::HashMap;

use crate::Vendor;

mod words;

use words::{DEPARTMENTS, FIRST, LAST, LEVELS, OFFICES, ROLES};

/// Jobs in seeded data are created and updated between these instants
/// (2024-01-01 and 2025-06-01, unix ms): old enough that anything the mock
/// changes at run time (stamped with the wall clock) is strictly newer.
const SEED_EPOCH_START_MS: i64 = 1_704_067_200_000;
const SEED_EPOCH_END_MS: i64 = 1_748_736_000_000;

/// Numeric id bases for vendors with integer ids (Greenhouse): distinct
/// ranges so an id of the wrong kind is never accidentally valid.
pub(crate) const JOB_ID_BASE: u64 = 4_000_000;
pub(crate) const USER_ID_BASE: u64 = 4_100_000;
pub(crate) const OFFICE_ID_BASE: u64 = 4_200_000;
pub(crate) const DEPARTMENT_ID_BASE: u64 = 4_300_000;

/// SplitMix64: tiny, fast, and a bijection of its state, which also makes it
/// a good id mixer (distinct inputs give distinct outputs).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform-enough integer in `0..n` (n > 0); the modulo bias is
    /// irrelevant for fixture data.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The SplitMix64 finaliser.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic, unique-per-`(seed, salt, n)` UUID-shaped string (v4 layout).
pub(crate) fn uuid(seed: u64, salt: u64, n: u64) -> String {
    // `mix` is a bijection, so the high half is unique for distinct `n`.
    let hi = mix(seed ^ mix(salt) ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let lo = mix(hi ^ salt);
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A job's lifecycle state, mapped onto each vendor's vocabulary
/// (see the README for the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Accepting candidates (Greenhouse `open`, Lever `published`, Workable `published`, Ashby `Open`).
    Open,
    /// Not accepting candidates.
    Closed,
    /// Not yet opened.
    Draft,
    /// Retired (Greenhouse and Lever have no such state and show `closed`).
    Archived,
}

/// Employment type (Ashby's enum; the other vendors render it as text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "the variant names are the values")]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Contract,
    Intern,
    Temporary,
}

/// Where the work happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "the variant names are the values")]
pub enum Workplace {
    OnSite,
    Hybrid,
    Remote,
}

/// A user of the ATS (recruiter, hiring manager, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Numeric id (Greenhouse).
    pub id: u64,
    /// UUID (Lever, Ashby) or hex id (Workable, first 10 hex digits).
    pub uuid: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Work e-mail address.
    pub email: String,
}

impl User {
    /// "First Last".
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// An office / location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Office {
    /// Numeric id (Greenhouse).
    pub id: u64,
    /// UUID (Lever, Ashby).
    pub uuid: String,
    /// City name, also the office name ("Berlin"); "Remote" for the remote office.
    pub name: String,
    /// Country name ("Germany").
    pub country: String,
    /// ISO 3166 alpha-2 code ("DE").
    pub country_code: String,
    /// Region / state ("Berlin", "California").
    pub region: String,
}

impl Office {
    /// "Berlin, Germany".
    pub fn location(&self) -> String {
        format!("{}, {}", self.name, self.country)
    }
}

/// A department.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Department {
    /// Numeric id (Greenhouse).
    pub id: u64,
    /// UUID (Lever, Ashby).
    pub uuid: String,
    /// Display name.
    pub name: String,
}

/// A job as the mock stores it, independent of any vendor's JSON.
///
/// Handed to [`crate::MockAts::update_job`] closures; `id` cannot be changed
/// (it is restored after the closure) and `updated_at` is bumped afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The id the vendor's API uses in paths: Greenhouse numeric id, Lever
    /// and Ashby UUID, Workable shortcode.
    pub id: String,
    /// Title ("Senior Backend Engineer").
    pub title: String,
    /// Requisition code ("REQ-00042"); `None` for some jobs.
    pub requisition_id: Option<String>,
    /// Lifecycle state.
    pub status: JobStatus,
    /// Index into [`crate::MockAts::departments`].
    pub department: usize,
    /// Index into [`crate::MockAts::offices`].
    pub office: usize,
    /// Index into [`crate::MockAts::users`].
    pub hiring_manager: usize,
    /// Index into [`crate::MockAts::users`].
    pub recruiter: usize,
    /// Employment type.
    pub employment_type: EmploymentType,
    /// Workplace type.
    pub workplace: Workplace,
    /// Confidential jobs exist in every vendor; the mock lists them anyway.
    pub confidential: bool,
    /// Number of openings (head count).
    pub openings: u32,
    /// The HTML description; `None` means the seeded text
    /// ([`crate::MockAts::job_description`] shows what is served).
    pub description_html: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// When the job was opened, unix ms (None for drafts).
    pub opened_at: Option<i64>,
    /// When the job was closed, unix ms.
    pub closed_at: Option<i64>,
    /// Last change, unix ms (what incremental filters compare).
    pub updated_at: i64,
    /// Creation order; listings are sorted by it and cursors point into it.
    pub(crate) seq: u64,
    /// Change counter value of the last change (Ashby sync tokens).
    pub(crate) version: u64,
    /// Replaces the job's derived pipeline (Greenhouse), so a test can
    /// change the ATS's stages under a connection; `None`: the usual one.
    pub stages: Option<Vec<crate::Stage>>,
}

const USERS: usize = 24;

/// The seeded world of one mock: reference data plus the job table.
#[derive(Clone, Debug)]
pub(crate) struct Dataset {
    seed: u64,
    vendor: Vendor,
    pub(crate) users: Vec<User>,
    pub(crate) offices: Vec<Office>,
    pub(crate) departments: Vec<Department>,
    /// Sorted by `seq`; removed jobs are taken out.
    pub(crate) jobs: Vec<Job>,
    index: HashMap<String, u64>,
    next_seq: u64,
    /// Global change counter (every create/update/remove increments it).
    pub(crate) version: u64,
    last_stamp_ms: i64,
}

impl Dataset {
    /// Generates `jobs` jobs for `vendor` from `seed`.
    pub(crate) fn generate(vendor: Vendor, seed: u64, jobs: usize) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0xA75B_0000);
        let users = (0..USERS as u64)
            .map(|i| {
                let first = rng.pick(FIRST).to_string();
                let last = rng.pick(LAST).to_string();
                let email = format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase().replace(' ', ""));
                User { id: USER_ID_BASE + i, uuid: uuid(seed, 1, i), first_name: first, last_name: last, email }
            })
            .collect();
        let offices = OFFICES
            .iter()
            .enumerate()
            .map(|(i, (city, region, country, code))| Office {
                id: OFFICE_ID_BASE + i as u64,
                uuid: uuid(seed, 2, i as u64),
                name: city.to_string(),
                country: country.to_string(),
                country_code: code.to_string(),
                region: region.to_string(),
            })
            .collect();
        let departments = DEPARTMENTS
            .iter()
            .enumerate()
            .map(|(i, name)| Department {
                id: DEPARTMENT_ID_BASE + i as u64,
                uuid: uuid(seed, 3, i as u64),
                name: name.to_string(),
            })
            .collect();
        let mut data = Dataset {
            seed,
            vendor,
            users,
            offices,
            departments,
            jobs: Vec::with_capacity(jobs),
            index: HashMap::with_capacity(jobs),
            next_seq: 1,
            version: 0,
            last_stamp_ms: 0,
        };
        for _ in 0..jobs {
            let job = data.make_job(None);
            data.insert(job);
        }
        data
    }

    /// The seed everything was derived from.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The id a vendor uses for the job with creation number `seq`.
    pub(crate) fn job_id_for(vendor: Vendor, seed: u64, seq: u64) -> String {
        match vendor {
            Vendor::Greenhouse => (JOB_ID_BASE + seq).to_string(),
            Vendor::Lever | Vendor::Ashby | Vendor::SmartRecruiters => uuid(seed, 10, seq),
            // BambooHR job openings are small integers.
            Vendor::BambooHr => seq.to_string(),
            // Shortcodes: 5 hex digits of noise + the sequence number, so
            // they look random yet are unique (up to 2^20 jobs stay 10 chars).
            Vendor::Workable => format!("{:05X}{:05X}", mix(seed ^ seq) & 0xF_FFFF, seq),
        }
    }

    /// Makes one job with the next sequence number. `now` is `None` while
    /// seeding (times spread over the seed epoch) and the wall clock later.
    fn make_job(&mut self, now: Option<i64>) -> Job {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut rng = SplitMix64::new(mix(self.seed ^ 0x10B5) ^ seq);
        let (dept, role) = *rng.pick(ROLES);
        let title = format!("{}{}", rng.pick(LEVELS), role);
        let status = match rng.below(100) {
            0..=79 => JobStatus::Open,
            80..=91 => JobStatus::Closed,
            92..=97 => JobStatus::Draft,
            _ => JobStatus::Archived,
        };
        let span = SEED_EPOCH_END_MS - SEED_EPOCH_START_MS;
        let created_at = now.unwrap_or_else(|| SEED_EPOCH_START_MS + (rng.below(span as u64 / 2) as i64));
        let updated_at = now.unwrap_or_else(|| created_at + rng.below(span as u64 / 2) as i64);
        let opened_at = (status != JobStatus::Draft).then_some(created_at + 3_600_000);
        let closed_at = matches!(status, JobStatus::Closed | JobStatus::Archived).then_some(updated_at);
        let requisition_id = (rng.below(10) != 0).then(|| format!("REQ-{seq:05}"));
        Job {
            id: Self::job_id_for(self.vendor, self.seed, seq),
            title,
            requisition_id,
            status,
            department: dept,
            office: rng.below(self.offices.len() as u64) as usize,
            hiring_manager: rng.below(USERS as u64) as usize,
            recruiter: rng.below(USERS as u64) as usize,
            employment_type: match rng.below(20) {
                0 => EmploymentType::PartTime,
                1 => EmploymentType::Contract,
                2 => EmploymentType::Intern,
                3 => EmploymentType::Temporary,
                _ => EmploymentType::FullTime,
            },
            workplace: *rng.pick(&[Workplace::OnSite, Workplace::Hybrid, Workplace::Hybrid, Workplace::Remote]),
            confidential: rng.below(25) == 0,
            openings: 1 + rng.below(3) as u32,
            description_html: None,
            created_at,
            opened_at,
            closed_at,
            updated_at,
            seq,
            version: 0,
            stages: None,
        }
    }

    fn insert(&mut self, mut job: Job) {
        self.version += 1;
        job.version = self.version;
        self.index.insert(job.id.clone(), job.seq);
        self.jobs.push(job);
    }

    /// A strictly increasing wall-clock stamp (unix ms), so two changes in
    /// the same millisecond still order.
    pub(crate) fn stamp(&mut self) -> i64 {
        let now = crate::time_fmt::now_ms().max(self.last_stamp_ms + 1);
        self.last_stamp_ms = now;
        now
    }

    fn position(&self, id: &str) -> Option<usize> {
        let seq = *self.index.get(id)?;
        self.jobs.binary_search_by_key(&seq, |j| j.seq).ok()
    }

    /// The job with this vendor id.
    pub(crate) fn job(&self, id: &str) -> Option<&Job> {
        self.position(id).map(|i| &self.jobs[i])
    }

    /// Applies `f`, keeps the id, and bumps `updated_at` and the version.
    pub(crate) fn update(&mut self, id: &str, f: impl FnOnce(&mut Job)) -> Option<Job> {
        let pos = self.position(id)?;
        let stamp = self.stamp();
        self.version += 1;
        let version = self.version;
        let job = &mut self.jobs[pos];
        let (keep_id, keep_seq) = (job.id.clone(), job.seq);
        f(job);
        job.id = keep_id;
        job.seq = keep_seq;
        job.updated_at = stamp;
        job.version = version;
        Some(job.clone())
    }

    /// Puts `job` back as it was when copied, `updated_at` included (an
    /// ATS restoring a job from a backup, or undoing an edit or a deletion
    /// from its audit log): in its old place, whether it was changed or
    /// removed since.
    pub(crate) fn restore(&mut self, job: Job) -> Job {
        self.version += 1;
        let at = match self.jobs.binary_search_by_key(&job.seq, |j| j.seq) {
            Ok(at) => {
                self.jobs[at] = job;
                at
            }
            Err(at) => {
                self.index.insert(job.id.clone(), job.seq);
                self.jobs.insert(at, job);
                at
            }
        };
        self.jobs[at].clone()
    }

    /// Removes a job (as if deleted in the ATS).
    pub(crate) fn remove(&mut self, id: &str) -> Option<Job> {
        let pos = self.position(id)?;
        self.index.remove(id);
        self.version += 1;
        Some(self.jobs.remove(pos))
    }

    /// Adds `n` new open jobs stamped now.
    pub(crate) fn add(&mut self, n: usize) -> Vec<Job> {
        (0..n)
            .map(|_| {
                let stamp = self.stamp();
                let mut job = self.make_job(Some(stamp));
                job.status = JobStatus::Open;
                job.opened_at = Some(stamp);
                job.closed_at = None;
                self.insert(job.clone());
                self.jobs.last().cloned().expect("just inserted")
            })
            .collect()
    }

    /// Jobs with `seq > after`, in order, that pass `keep`: at most `limit`,
    /// plus whether more matching jobs follow.
    pub(crate) fn page_after(&self, after: u64, limit: usize, keep: impl Fn(&Job) -> bool) -> (Vec<&Job>, bool) {
        let start = self.jobs.partition_point(|j| j.seq <= after);
        let mut out = Vec::with_capacity(limit.min(1024));
        for job in self.jobs[start..].iter().filter(|j| keep(j)) {
            if out.len() == limit {
                return (out, true);
            }
            out.push(job);
        }
        (out, false)
    }

    /// The seeded HTML description (1–2 KB), or the override if one was set.
    pub(crate) fn description_html(&self, job: &Job) -> String {
        if let Some(html) = &job.description_html {
            return html.clone();
        }
        let mut rng = SplitMix64::new(mix(self.seed ^ 0xDE5C) ^ job.seq);
        let dept = &self.departments[job.department].name;
        let office = self.offices[job.office].location();
        words::description(&mut rng, &job.title, dept, &office)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_ids_unique() {
        let a = Dataset::generate(Vendor::Workable, 7, 2000);
        let b = Dataset::generate(Vendor::Workable, 7, 2000);
        assert_eq!(a.jobs, b.jobs);
        let ids: std::collections::HashSet<_> = a.jobs.iter().map(|j| j.id.clone()).collect();
        assert_eq!(ids.len(), 2000);
        let c = Dataset::generate(Vendor::Workable, 8, 2000);
        assert_ne!(a.jobs[0].id, c.jobs[0].id);
    }

    #[test]
    fn statuses_are_mixed_and_descriptions_sized() {
        let d = Dataset::generate(Vendor::Ashby, 1, 1000);
        let open = d.jobs.iter().filter(|j| j.status == JobStatus::Open).count();
        assert!((700..900).contains(&open), "open = {open}");
        assert!(d.jobs.iter().any(|j| j.status == JobStatus::Draft));
        assert!(d.jobs.iter().any(|j| j.status == JobStatus::Closed));
        for job in &d.jobs[..50] {
            let len = d.description_html(job).len();
            assert!((900..2600).contains(&len), "description length {len}");
        }
    }

    #[test]
    fn page_after_walks_everything_once() {
        let d = Dataset::generate(Vendor::Greenhouse, 3, 1234);
        let (mut after, mut seen) = (0, 0);
        loop {
            let (page, more) = d.page_after(after, 100, |_| true);
            seen += page.len();
            after = page.last().map_or(after, |j| j.seq);
            if !more {
                break;
            }
        }
        assert_eq!(seen, 1234);
    }

    #[test]
    fn a_restored_job_is_back_as_copied_whether_edited_or_removed_since() {
        let mut d = Dataset::generate(Vendor::Greenhouse, 3, 20);
        let original = d.jobs.clone();
        let (edited, removed) = (d.jobs[4].clone(), d.jobs[9].clone());
        d.update(&edited.id, |j| j.title = "Edited".into()).unwrap();
        d.remove(&removed.id).unwrap();
        assert_ne!(d.job(&edited.id).unwrap().updated_at, edited.updated_at);
        assert!(d.job(&removed.id).is_none());

        d.restore(edited);
        d.restore(removed.clone());
        assert_eq!(d.jobs, original, "both back, verbatim and in their places");
        assert_eq!(d.job(&removed.id), Some(&removed), "found by id again");
    }
}
