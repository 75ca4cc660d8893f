//! 100 000 jobs: start-up and a full listing stay fast (times are printed,
//! not asserted).

use std::time::Instant;

use atsbridge_mock_ats::{MockConfig, Vendor};

use crate::common::*;

#[tokio::test]
async fn hundred_thousand_jobs_start_and_list() {
    let t = Instant::now();
    let ats = start(Vendor::Greenhouse, MockConfig { jobs: 100_000, ..Default::default() }).await;
    println!("greenhouse mock with 100000 jobs started in {:?}", t.elapsed());

    let token = greenhouse_token(&ats, None).await;
    let t = Instant::now();
    let (mut count, mut pages, mut url) = (0, 0, Some(format!("{}/jobs?per_page=500", ats.api_base_url())));
    let mut last_id = 0u64;
    while let Some(u) = url {
        let r = reply(client().get(&u).bearer_auth(&token)).await;
        assert_eq!(r.status, 200);
        for job in r.json.as_array().unwrap() {
            let id = job["id"].as_u64().unwrap();
            assert!(id > last_id, "ids ascend, no repeats");
            last_id = id;
            count += 1;
        }
        pages += 1;
        url = next_link(r.header("link"));
    }
    println!("listed {count} jobs in {pages} pages in {:?}", t.elapsed());
    assert_eq!((count, pages), (100_000, 200));
}
