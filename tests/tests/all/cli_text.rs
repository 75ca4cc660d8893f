//! What the command line prints and parses, function by function: the
//! scaffold's dependency line, stage reports, pipelines, URL segments,
//! metering columns and connection details. Text from an ATS or a plugin
//! is printed escaped.

/// `plugin new`.
mod plugin_new {
    use atsbridge::cli::plugin_new::*;

    #[test]
    fn the_dependency_names_the_sdk_version_and_the_vendored_copy() {
        let version = sdk_version().unwrap();
        assert!(semver::Version::parse(&version).is_ok(), "{version}");
        let line = sdk_dependency(None).unwrap();
        assert_eq!(line, format!("atsbridge-sdk = {{ version = \"{version}\", path = \"vendor/atsbridge-sdk\" }}"));
    }

    #[test]
    fn refuses_bad_names_and_existing_directories() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "Acme", "1acme", "acme_ats", "../acme", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert!(scaffold(bad, dir.path(), None).is_err(), "{bad:?}");
        }
        scaffold("acme", dir.path(), None).unwrap();
        let err = scaffold("acme", dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
    }
}

/// `connection stages`.
mod stages_cmd {
    use atsbridge::cli::stages_cmd::{connection_stages_lines, shown};
    use atsbridge::service::stages::{ConnectionStagesDto, MappingEntryDto, MappingProblemDto};

    fn view(pipeline: &str, jobs: usize, problem: &str) -> ConnectionStagesDto {
        ConnectionStagesDto {
            connection: "acme-gh".into(),
            job_code: None,
            list: None,
            pipeline: pipeline.into(),
            mapping: vec![MappingEntryDto {
                stage: "offer".into(),
                stage_name: "Offer".into(),
                ats_stage_id: None,
                ats_stage_name: None,
                source: None,
                problem: Some(MappingProblemDto { code: problem.into(), message: "m".into(), ats_stage_id: None }),
            }],
            jobs: (1..=jobs).map(|n| format!("J{n}")).collect(),
            jobs_total: jobs,
            overrides: Default::default(),
            job_overrides: Default::default(),
            stale: Vec::new(),
            stale_total: 0,
        }
    }

    #[test]
    fn per_job_pipelines_point_at_a_job_not_at_a_refresh() {
        let text = connection_stages_lines(&view("per_job_only", 7, "job_needed")).join("\n");
        assert!(text.contains("7 job pipeline(s) cached (J1, J2, J3, J4, J5, ...)"), "{text}");
        assert!(text.contains("atsbridge connection stages show acme-gh --job <job code>"), "{text}");
        assert!(!text.contains("refresh"), "the stages are cached: {text}");

        let never = connection_stages_lines(&view("not_fetched", 0, "not_fetched")).join("\n");
        assert!(never.contains("run `connection stages refresh`"), "{never}");
    }

    #[test]
    fn terminal_escapes_from_an_ats_are_shown_not_run() {
        assert_eq!(shown("Screening\u{1b}[2J"), "Screening\\u{1b}[2J");
        assert_eq!(shown("Entretien"), "Entretien");
    }
}

/// `plugin inspect`.
mod plugin_cmd {
    use atsbridge::cli::plugin_cmd::pipelines;

    #[test]
    fn an_undeclared_manifest_does_not_claim_account_wide_pipelines() {
        let undeclared = pipelines(false);
        assert!(!undeclared.starts_with("account-wide"), "{undeclared}");
        assert!(undeclared.contains("per job where it tags stages"), "{undeclared}");
        assert!(pipelines(true).starts_with("per job"));
    }
}

/// The API client's paths and queries.
mod client {
    use atsbridge::cli::client::{query_value, segment};

    #[test]
    fn unreserved_characters_stay_as_they_are_in_paths_and_queries() {
        assert_eq!(segment("acme-gh"), "acme-gh");
        assert_eq!(segment("v1.2_a~b"), "v1.2_a~b");
        assert_eq!(query_value("JOB-1.2_x"), "JOB-1.2_x");
    }

    #[test]
    fn user_text_cannot_leave_its_segment_or_value() {
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(segment("a?b#c"), "a%3Fb%23c");
        assert_eq!(segment("50%"), "50%25");
        assert_eq!(segment("a b"), "a%20b");
        // The url crate drops these; a server would climb to the parent.
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("."), "%2E");
        assert_eq!(segment("..a"), "..a", "not a dot segment");
        assert_eq!(query_value("a&b=c+d#e%"), "a%26b%3Dc%2Bd%23e%25");
        assert_eq!(query_value("é"), "%C3%A9");
    }
}

/// Metering columns and push histories.
mod metering_view {
    use atsbridge::cli::metering_view::*;
    use atsbridge::service::metering_dto::{ExportMeteringDto, HostMeteringDto, RunMeteringDto};
    use atsbridge::service::push_history::PushRecordDto;

    #[test]
    fn shows_the_costs_of_a_run_and_dashes_for_an_unmetered_one() {
        let m = RunMeteringDto {
            plugin_cpu_micros: 12_345,
            calls: 3,
            http_requests: 4,
            bytes_in: 5_000,
            status_429: 1,
            retries: 1,
            exports: vec![ExportMeteringDto { export: "list-jobs".into(), calls: 3, failed: 1, ..Default::default() }],
            hosts: vec![HostMeteringDto {
                host: "api.example.com".into(),
                requests: 4,
                status_429: 1,
                bytes_in: 5_000,
                ..Default::default()
            }],
            ..Default::default()
        };
        let row = cells(Some(&m));
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["12.3", "3", "4", "5000", "1", "1"]);
        assert_eq!(cells(None).split_whitespace().count(), header().split_whitespace().count());
        let detail = detail(&m).join("\n");
        assert!(detail.contains("export list-jobs") && detail.contains("3 calls (1 failed)"), "{detail}");
        assert!(detail.contains("api.example.com") && detail.contains("4 requests (0 failed, 1 answered 429)"));
        assert!(detail.contains("5000 bytes in"), "{detail}");
    }

    #[test]
    fn a_push_lists_the_answers_it_did_not_send_escaped() {
        let record = |unsent: Vec<String>| PushRecordDto {
            entry: 7,
            outcome: "pushed".into(),
            at_unix: 0,
            attempts: 1,
            metering: None,
            answers_not_sent: unsent,
        };
        let all_sent = pushes(&[record(vec![])]).join("\n");
        assert!(!all_sent.contains("answers not sent"), "{all_sent}");
        let shown = pushes(&[record(vec!["Notice period".into(), "Visa?\u{1b}[2J".into()])]).join("\n");
        assert!(
            shown.contains("answers not sent (the connector does not take them): Notice period · Visa?"),
            "{shown}"
        );
        assert!(!shown.contains('\u{1b}'), "a terminal escape in a question is printed escaped: {shown}");
    }
}

/// `connection show`, `connection record`, `connection runs`.
mod connection_cmd {
    use clap::Parser;

    use atsbridge::cli::connection_cmd::ConnectionCommand;
    use atsbridge::cli::{Cli, Command};

    #[test]
    fn show_reports_stale_stage_mappings_and_where_to_see_them() {
        use atsbridge::service::stages::{StaleMappingSummaryDto, StaleStageDto};
        let mut c: atsbridge::service::dto::ConnectionDto = serde_json::from_value(serde_json::json!({
            "id": "acme-gh", "account": "acme", "name": "GH", "plugin": "greenhouse", "enabled": true,
            "settings": {}, "extra_hosts": [], "schedule": null, "flagged": false, "consecutive_failures": 0,
            "last_success_unix": null, "last_full_listing_unix": null, "next_sync": null,
        }))
        .unwrap();
        assert!(
            atsbridge::cli::connection_cmd::stale_mapping_lines(&c).is_empty(),
            "an older host's answer: nothing stale"
        );
        c.stale_stage_mappings = StaleMappingSummaryDto {
            count: 2,
            stages: vec![StaleStageDto { stage: "offer".into(), stage_name: "Offer\u{1b}[2J".into() }],
            unchecked: 0,
        };
        let text = atsbridge::cli::connection_cmd::stale_mapping_lines(&c).join("\n");
        assert!(text.contains("STALE stage mappings: 2"), "{text}");
        assert!(text.contains("offer (Offer\\u{1b}[2J)"), "escaped: {text}");
        assert!(text.contains("atsbridge connection stages show acme-gh"), "{text}");
    }

    #[test]
    fn record_next_names_the_recording_url_with_the_id_as_written() {
        let api = atsbridge::cli::client::Backend::Remote {
            http: reqwest::Client::new(),
            base: "http://127.0.0.1:8080".into(),
            token: secrecy::SecretString::from("token".to_string()),
            from: "test".into(),
        };
        assert_eq!(
            atsbridge::cli::connection_cmd::record_next_line(&api, "acme-gh"),
            "the next run of acme-gh will be recorded: GET \
             http://127.0.0.1:8080/api/v1/connections/acme-gh/runs/<run>/recording"
        );
    }

    #[test]
    fn runs_take_cost_as_another_name_for_metering() {
        for flag in ["--metering", "--cost"] {
            let cli = Cli::try_parse_from(["atsbridge", "connection", "runs", "acme-gh", flag]).unwrap();
            let Command::Connection(ConnectionCommand::Runs { metering, .. }) = cli.command else {
                panic!("{flag}: not `connection runs`");
            };
            assert!(metering, "{flag}");
        }
    }
}
