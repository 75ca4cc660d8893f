//! The service's rules on its own inputs: list pages and their cursors,
//! plugin ids, plugin directory entries, résumé types and who moved a
//! candidate.

/// `service::page`: list pages and their cursors.
mod page {
    use atsbridge::service::ServiceError;
    use atsbridge::service::page::*;

    #[test]
    fn pages_follow_the_cursor_and_cap_the_limit() {
        let q = |limit, cursor: Option<&str>| PageQuery { limit, cursor: cursor.map(str::to_string) };
        let page = |q: &PageQuery| Page::after(1..=7u64, q, |s| s.parse().ok(), |i| *i, |k| k.to_string());
        let p1 = page(&q(Some(3), None));
        assert_eq!((p1.items.clone(), p1.next_cursor.as_deref()), (vec![1, 2, 3], Some("3")));
        let p3 = page(&q(Some(3), Some("6")));
        assert_eq!((p3.items, p3.next_cursor), (vec![7], None));
        assert_eq!(q(Some(100_000), None).limit(), MAX_LIMIT);
        assert_eq!(q(Some(0), None).limit(), 1);
    }

    /// A store read that returns at most 2 items a call, like a capped one.
    fn slices(items: &[u64]) -> impl FnMut(Option<&u64>, usize) -> Result<Vec<u64>, ServiceError> + '_ {
        |after, n| Ok(items.iter().copied().filter(|i| after.is_none_or(|a| i > a)).take(n.min(2)).collect())
    }

    #[test]
    fn fetched_pages_say_exactly_when_more_follow_and_refuse_bad_cursors() {
        let q = |limit, cursor: Option<&str>| PageQuery { limit, cursor: cursor.map(str::to_string) };
        let items = [1u64, 2, 3, 4, 5, 6, 7];
        let page = |q: &PageQuery, keep: fn(&u64) -> bool| {
            Page::fetch(q, |s| s.parse().ok(), |i| *i, u64::to_string, keep, slices(&items)).unwrap()
        };
        let p = page(&q(Some(3), None), |_| true);
        assert_eq!((p.items, p.next_cursor.as_deref()), (vec![1, 2, 3], Some("3")));
        let p = page(&q(Some(3), Some("4")), |_| true);
        assert_eq!((p.items, p.next_cursor), (vec![5, 6, 7], None), "a full last page has no cursor");
        let p = page(&q(Some(2), None), |i| i % 3 == 0);
        assert_eq!((p.items, p.next_cursor), (vec![3, 6], None));
        let p = page(&q(Some(1), None), |i| i % 3 == 0);
        assert_eq!((p.items, p.next_cursor.as_deref()), (vec![3], Some("3")));
        let err = Page::fetch(
            &q(None, Some("x")),
            |s| s.parse::<u64>().ok(),
            |i| *i,
            u64::to_string,
            |_| true,
            slices(&items),
        );
        assert!(matches!(err, Err(ServiceError::Invalid(_))));
    }
}

/// `service`: ids checked before they reach a path.
mod ids {
    use atsbridge::service::*;

    #[test]
    fn plugin_ids_are_checked_before_touching_paths() {
        for good in ["greenhouse", "my-ats-2", "0x"] {
            assert!(valid_plugin_id(good), "{good}");
        }
        for bad in ["", "-x", "../etc", "/some/dir", "Greenhouse", "a_b", "a.b", "a/b", &"a".repeat(65)] {
            assert!(!valid_plugin_id(bad), "{bad}");
        }
    }
}

/// `service::plugin_dir`: entries of the operator's plugin directory.
mod plugin_dir {
    use atsbridge::plugin::manifest::{MANIFEST_FILE, Manifest};
    use atsbridge::service::ServiceError;
    use atsbridge::service::plugin_dir::*;

    const MANIFEST: &str = "[plugin]\nid = \"demo\"\nversion = \"1.0.0\"\ncontract = \"0.1.0\"\n";

    fn message(r: Result<(Manifest, Vec<u8>), ServiceError>) -> String {
        match r {
            Ok(_) => panic!("read"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn entries_resolve_inside_the_directory_only_and_never_quote_files() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.toml"), "SECRET_VALUE=hunter2\n").unwrap();
        std::fs::write(outside.path().join("demo.wasm"), b"\0asm-not-really").unwrap();
        let root = tempfile::tempdir().unwrap();
        let good = root.path().join("demo");
        std::fs::create_dir(&good).unwrap();
        std::fs::write(good.join(MANIFEST_FILE), MANIFEST).unwrap();
        std::fs::write(good.join("demo.wasm"), b"\0asm").unwrap();
        let (m, wasm) = read_entry(root.path(), "demo").unwrap();
        assert_eq!((m.id.as_str(), wasm.as_slice()), ("demo", &b"\0asm"[..]));

        // The entry itself a symlink out.
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        let err = message(read_entry(root.path(), "out"));
        assert!(err.contains("outside the plugin directory"), "{err}");
        // A manifest that is a symlink to a file outside.
        let linked = root.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.toml"), linked.join(MANIFEST_FILE)).unwrap();
        let err = message(read_entry(root.path(), "linked"));
        assert!(err.contains("outside the plugin directory") && !err.contains("hunter2"), "{err}");
        // A component named outside by the manifest.
        let escaping = root.path().join("escaping");
        std::fs::create_dir(&escaping).unwrap();
        let bad = format!("{MANIFEST}component = \"../../{}\"\n", outside.path().join("demo.wasm").display());
        std::fs::write(escaping.join(MANIFEST_FILE), bad).unwrap();
        let err = message(read_entry(root.path(), "escaping"));
        assert!(err.contains("the component") && err.contains("outside"), "{err}");
        // A manifest with secrets in it that does not parse: not quoted.
        let junk = root.path().join("junk");
        std::fs::create_dir(&junk).unwrap();
        std::fs::write(junk.join(MANIFEST_FILE), "SECRET_VALUE=hunter2 oops\n").unwrap();
        let err = message(read_entry(root.path(), "junk"));
        assert!(err.contains("not a valid manifest") && !err.contains("hunter2"), "{err}");
        // Nothing there.
        assert!(message(read_entry(root.path(), "absent")).contains("does not exist"));
        // No message names the directory on disk.
        for name in ["out", "linked", "escaping", "junk", "absent"] {
            let err = message(read_entry(root.path(), name));
            assert!(!err.contains(&root.path().display().to_string()), "{err}");
        }
    }
}

/// `service::candidates`: résumé types and movers.
mod candidates {
    use atsbridge::service::Caller;
    use atsbridge::service::candidates::*;
    use atsbridge::store::MovedBy;

    #[test]
    fn resumes_are_known_by_their_bytes() {
        assert_eq!(sniff_resume_type(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff_resume_type(b"{\\rtf1\\ansi"), Some("application/rtf"));
        assert_eq!(sniff_resume_type(b"Ada Lovelace\nEngines\n"), Some("text/plain"));
        assert_eq!(sniff_resume_type(b"PK\x03\x04....word/document.xml"), Some(RESUME_TYPES[2].0));
        assert_eq!(
            sniff_resume_type(b"PK\x03\x04....mimetypeapplication/vnd.oasis.opendocument.text"),
            Some(RESUME_TYPES[3].0)
        );
        // A zip that is neither, an executable, binary junk: refused.
        assert_eq!(sniff_resume_type(b"PK\x03\x04....payload.exe"), None);
        assert_eq!(sniff_resume_type(b"MZ\x90\x00\x03\x00\x00\x00"), None);
        assert_eq!(sniff_resume_type(&[0xff, 0xfe, 0x00]), None);
    }

    #[test]
    fn movers_are_named_and_bounded() {
        assert_eq!(mover(&Caller::Operator, None).unwrap(), MovedBy::User { name: "operator".into() });
        assert_eq!(
            mover(&Caller::Account("acme".into()), Some("  ")).unwrap(),
            MovedBy::User { name: "api key of acme".into() }
        );
        assert!(mover(&Caller::Operator, Some("a\u{1b}b")).is_err());
        assert!(mover(&Caller::Operator, Some(&"x".repeat(MAX_BY_CHARS + 1))).is_err());
    }
}
