//! Files the API hands out: the attachment headers of a résumé, and the
//! signed résumé link's route.

/// `api::attachment`.
mod attachment {
    use atsbridge::api::attachment::*;
    use axum::http::header;

    fn disposition(name: &str) -> String {
        content_disposition(name).to_str().unwrap().to_string()
    }

    #[test]
    fn plain_names_pass_and_both_forms_are_given() {
        assert_eq!(disposition("cv.pdf"), "attachment; filename=\"cv.pdf\"; filename*=UTF-8''cv.pdf");
        assert_eq!(
            disposition("Zoë Müller CV.pdf"),
            "attachment; filename=\"Zo_ M_ller CV.pdf\"; filename*=UTF-8''Zo%C3%AB%20M%C3%BCller%20CV.pdf"
        );
    }

    #[test]
    fn names_cannot_break_the_header_or_hide_their_extension() {
        let d = disposition("cv \"x\".pdf\r\nSet-Cookie: a=b; filename=evil.exe");
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(d.starts_with("attachment; filename=\"cv _x_.pdfSet-Cookie_ a_b_ filename_evil.exe\""), "{d}");
        assert_eq!((d.matches("filename=").count(), d.matches("filename*=").count()), (1, 1), "{d}");
        // The only quotes are the two around the ASCII name; `;` and `=` of
        // the name are percent-encoded in the extended form.
        assert_eq!(d.matches('"').count(), 2, "{d}");
        assert!(d.ends_with("Set-Cookie%3A%20a%3Db%3B%20filename%3Devil.exe"), "{d}");
        assert_eq!(disposition("\u{202e}fdp.exe"), "attachment; filename=\"fdp.exe\"; filename*=UTF-8''fdp.exe");
        assert_eq!(disposition(""), "attachment; filename=\"resume\"; filename*=UTF-8''resume");
        assert_eq!(disposition("\u{7}\u{0}"), "attachment; filename=\"resume\"; filename*=UTF-8''resume");
        assert!(disposition(&"a".repeat(10_000)).len() < 300);
        assert!(disposition("../../etc/passwd").contains("filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"));
    }

    #[test]
    fn only_resume_types_are_sent_as_themselves() {
        let response = attachment("text/html", "x.html", b"<script>".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/octet-stream");
        assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let response = attachment("application/pdf", "x.pdf", b"%PDF-".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}

/// `api::resume_link`.
mod resume_link {
    use atsbridge::api::resume_link::*;
    use atsbridge::contract::{Job, JobStatus};
    use atsbridge::outbox::resume_link::{KEY_BYTES, LINK_LIFETIME_SECS, ResumeLinks};
    use atsbridge::store::{
        ConnectionQuota, JobPatch, NewConnection, PageCommit, Position, RunOutcome, SecretKey, Store, Trigger,
    };
    use axum::http::{StatusCode, header};

    /// A connection with one open job, committed as a sync run does: its position.
    fn one_position(store: &Store) -> Position {
        store.add_account("acme", "UTC").unwrap();
        let new = NewConnection {
            account_id: "acme".into(),
            name: "Acme".into(),
            plugin_id: "greenhouse".into(),
            settings: vec![],
            extra_hosts: vec![],
            schedule: None,
        };
        let conn = store.add_connection(new).unwrap();
        let job = Job {
            code: "j1".into(),
            status: JobStatus::Open,
            raw_status: "open".into(),
            title: "Engineer".into(),
            locations: vec![],
            description: String::new(),
            assigned_users: vec![],
            updated_at: None,
            extra: vec![],
        };
        // One page, no checkpoint: the run ends with it.
        let run = store.start_run(&conn.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let page = PageCommit {
            connection_id: conn.id.clone(),
            run,
            patches: vec![JobPatch::from_job(&job)],
            checkpoint: None,
            checkpoint_due: false,
            quota: ConnectionQuota::UNLIMITED,
        };
        let done = store.commit_page(page).unwrap();
        let mut run = done.run;
        run.outcome = RunOutcome::Succeeded;
        store.commit_run_end(run, |_| {}, &[]).unwrap();
        store.position(done.changes[0].id).unwrap().unwrap()
    }

    fn links() -> ResumeLinks {
        ResumeLinks::with_key("https://jobs.example.com/", [7; KEY_BYTES])
    }

    #[tokio::test]
    async fn the_route_serves_the_granted_file_and_nothing_else() {
        use tower::ServiceExt;

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
        let position = one_position(&store);
        let new = |email: &str, resume| atsbridge::store::NewCandidate {
            position_id: position.id,
            name: "Ada Lovelace".into(),
            email: email.into(),
            phone: None,
            links: vec![],
            resume,
            answers: Default::default(),
            source: None,
            stage_id: None,
            by: atsbridge::store::MovedBy::User { name: "test".into() },
        };
        let pdf = b"%PDF-1.7 the resume".to_vec();
        let resume = atsbridge::store::NewResume {
            file_name: "cv \"1\".pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf.clone(),
        };
        let (with, _) = store.create_candidate(new("ada@example.com", Some(resume))).unwrap();
        let (without, _) = store.create_candidate(new("bo@example.com", None)).unwrap();
        let links = links();
        let app = router(store, links.clone());
        let get = |url: String| {
            let app = app.clone();
            async move {
                let path = url.strip_prefix("https://jobs.example.com").unwrap_or(&url).to_string();
                let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
                let response = app.oneshot(request).await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                (status, headers, body)
            }
        };
        let now = atsbridge::store::now_unix();
        let (status, headers, body) = get(links.url(with.id, now)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], &pdf[..]);
        assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"cv _1_.pdf\"; filename*=UTF-8''cv%20%221%22.pdf"
        );
        // Expired, forged for another candidate, for one without a résumé: all 404.
        let (status, _, _) = get(links.url(with.id, now - 2 * LINK_LIFETIME_SECS)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let granted = links.url(with.id, now);
        let token = granted.rsplit('/').next().expect("a token after the last slash");
        let forged = token.replacen(&with.id.to_string(), &without.id.to_string(), 1);
        let (status, _, _) = get(format!("/r/{forged}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get(links.url(without.id, now)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
