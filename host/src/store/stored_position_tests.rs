use super::*;
use crate::store::model::FieldEdit;
use crate::store::publication::{Actor, Decision};
use crate::store::testutil::{commit_jobs, connection, job, temp_store};
use crate::store::{JobPatch, keys};

/// A position with every field set, locals and a publication included.
fn full_position() -> Position {
    let mut p = Position::from_patch(42, "acme", "acme-gh", &JobPatch::from_job(&job("J1", "Engineer")), 3, 100);
    p.apply_edit(FieldEdit::Name("Senior \"Staff\" Engineer\n".into()));
    p.apply_edit(FieldEdit::Locations(vec!["Lyon".into(), "Zürich".into()]));
    p.apply_edit(FieldEdit::Description("<p>ü \u{1F600} \\ \"</p>".into()));
    p.apply_edit(FieldEdit::AuthorizedUsers(vec![AuthorizedUser {
        ats_id: "u2".into(),
        name: "Bo".into(),
        email: Some("bo@example.com".into()),
    }]));
    p.status = PositionStatus::Other("paused".into());
    p.closed_reason = Some(CloseReason::RemovedInAts);
    p.extra.insert("level".into(), "3".into());
    p.decide(Decision {
        publish: true,
        by: Actor::User { credential: "operator".into(), user: Some("ann".into()) },
        reason: Some("why not".into()),
        at_unix: 150,
    });
    p.publication.public_id = Some("pub-1".into());
    p
}

/// The JSON form written before (format 1 or 2), as `codec` wrote it.
fn old_form(p: &Position, version: Option<u64>) -> Vec<u8> {
    match version {
        Some(v) => codec::encode_versioned("position", p, v).unwrap(),
        None => codec::encode("position", p).unwrap(),
    }
}

#[test]
fn a_position_round_trips_in_the_binary_form_with_its_version() {
    let mut plain = Position::from_patch(7, "acme", "c", &JobPatch::from_job(&job("J7", "Engineer")), 1, 100);
    plain.authorized_users.ats[0].email = Some(String::new());
    plain.ats_updated_at = None;
    for p in [full_position(), plain] {
        let bytes = encode(&p).unwrap();
        assert_eq!(decode("positions", p.id, &bytes).unwrap(), p);
        assert_eq!(codec::version_of(&bytes), None);
        let bytes = encode_versioned(&p, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(decode("positions", p.id, &bytes).unwrap(), p);
        assert_eq!(codec::version_of(&bytes), Some(0x0102_0304_0506_0708));
        let head = decode_head("positions", p.id, &bytes).unwrap();
        let want = PositionHead {
            connection_id: p.connection_id.clone(),
            content_hash: p.content_hash.clone(),
            closed_reason: p.closed_reason,
            status: p.status.clone(),
        };
        assert_eq!(head, want);
        assert!(codec::decode::<Position>("positions", p.id, &bytes).is_err(), "JSON readers refuse it");
    }
}

#[test]
fn a_record_written_before_as_json_reads_identically() {
    let p = full_position();
    for version in [None, Some(9)] {
        let old = old_form(&p, version);
        assert!(matches!(codec::body(&old), Ok(Body::Json([b'{', ..]))), "JSON, as before");
        assert_eq!(decode("positions", p.id, &old).unwrap(), p);
        let head = decode_head("positions", p.id, &old).unwrap();
        assert_eq!((head.connection_id.as_str(), head.status), ("acme-gh", p.status.clone()));
        assert_eq!(codec::version_of(&old), version);
    }
}

#[test]
fn the_binary_form_is_smaller_and_copies_strings_unescaped() {
    let p = full_position();
    let binary = encode_versioned(&p, 1).unwrap();
    let json = old_form(&p, Some(1));
    assert!(binary.len() * 3 < json.len() * 2, "binary {} bytes, JSON {}", binary.len(), json.len());
    let description = p.description.local.as_deref().unwrap().as_bytes();
    assert!(binary.windows(description.len()).any(|w| w == description), "stored as it is");
}

#[test]
fn a_corrupt_record_is_an_error_naming_the_position_never_a_panic() {
    let p = full_position();
    let bytes = encode_versioned(&p, 5).unwrap();
    // Cut anywhere: an error, never a panic or a misread.
    for cut in 0..bytes.len() {
        let err = decode("positions", 42, &bytes[..cut]).unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt { tree: "positions", key, .. } if key == "42"), "{cut}: {err}");
    }
    // Trailing bytes, an unknown layout, a flipped byte anywhere.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode("positions", 42, &longer).unwrap_err().to_string().contains("unexpected bytes"));
    let mut layout = bytes.clone();
    layout[9] = 7;
    assert!(decode("positions", 42, &layout).unwrap_err().to_string().contains("layout 7"));
    for at in 10..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0xff;
        let _ = decode("positions", 42, &flipped);
        let _ = decode_head("positions", 42, &flipped);
    }
}

#[test]
fn a_huge_length_in_a_record_allocates_nothing_for_it() {
    // A record whose first string claims u64::MAX bytes.
    let mut bytes = codec::binary_frame(None, 0);
    bytes.push(LAYOUT_V1);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    let err = decode("positions", 3, &bytes).unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { key, .. } if key == "3"), "{err}");
    assert!(decode_head("positions", 3, &bytes).is_err());

    // A good record's head, id, account, code and title, then a location
    // list claiming 2^63 entries with no bytes behind them.
    let p = Position::from_patch(3, "a", "c", &JobPatch::from_job(&job("J", "T")), 1, 1);
    let good = encode(&p).unwrap();
    let mut head = codec::binary_frame(None, 0);
    head.push(LAYOUT_V1);
    head.extend(postcard::to_allocvec(&("c", p.content_hash.as_str(), None::<u8>, 0u8)).unwrap());
    assert!(good.starts_with(&head), "the head comes first");
    let head_end = head.len();
    let mut huge_list = good[..head_end].to_vec();
    huge_list.extend(postcard::to_allocvec(&(3u64, "a", "J", "T", None::<u8>)).unwrap());
    huge_list.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    let err = decode("positions", 3, &huge_list).unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt { key, .. } if key == "3"), "{err}");
}

#[test]
fn a_record_over_the_limit_is_refused_before_it_is_read() {
    let mut bytes = codec::binary_frame(None, MAX_RECORD_BYTES + 1);
    bytes.resize(MAX_RECORD_BYTES + 1, 0);
    let err = decode("positions", 8, &bytes).unwrap_err();
    assert!(err.to_string().contains("over the") && err.to_string().contains('8'), "{err}");
    assert!(decode_head("positions", 8, &bytes).is_err());
}

#[test]
fn an_old_form_record_in_the_store_reads_identically_and_the_next_write_turns_it_binary() {
    let (_dir, store) = temp_store();
    let c = connection(&store, "Greenhouse");
    let p = commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\"")]).remove(0);
    let key = keys::position(p.id);
    let stored = store.trees.positions.get(key).unwrap().unwrap();
    assert_eq!(codec::body(&stored).map(|b| matches!(b, Body::Binary(_))), Ok(true), "new records are binary");
    let event = store.events_after(0, 1).unwrap().remove(0);
    let body = serde_json::to_vec(&event).unwrap();

    // The same record as an earlier atsbridge wrote it: the webhook body
    // for its event, the position and its page read exactly the same.
    let version = codec::version_of(&stored).unwrap();
    store.trees.positions.insert(key, old_form(&p, Some(version))).unwrap();
    assert_eq!(serde_json::to_vec(&store.event(event.id).unwrap().unwrap()).unwrap(), body);
    assert_eq!(store.position(p.id).unwrap(), Some(p.clone()));
    assert_eq!(store.positions_of_connection(&c.id).unwrap(), vec![p.clone()]);
    assert_eq!(store.open_job_codes(&c.id).unwrap(), vec!["J1".to_string()]);

    // A resync reads the old head; a change writes the binary form and
    // keeps the old JSON bytes for the event that shows them.
    commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\"")]);
    commit_jobs(&store, &c.id, &[("J1", "Principal")]);
    let now = store.trees.positions.get(key).unwrap().unwrap();
    assert!(matches!(codec::body(&now), Ok(Body::Binary(_))));
    assert_eq!(serde_json::to_vec(&store.event(event.id).unwrap().unwrap()).unwrap(), body, "kept as it was");
    assert_eq!(store.position(p.id).unwrap().unwrap().name.ats, "Principal");
}

#[test]
fn a_backup_of_old_form_records_restores_them_as_they_were_and_they_read_the_same() {
    let (_dir, store) = temp_store();
    let c = connection(&store, "Greenhouse");
    let made = commit_jobs(&store, &c.id, &[("J1", "Engineer"), ("J2", "Designer")]);
    // J1 as an earlier atsbridge stored it; J2 in the binary form.
    let key = keys::position(made[0].id);
    let version = codec::version_of(&store.trees.positions.get(key).unwrap().unwrap()).unwrap();
    let old = old_form(&made[0], Some(version));
    store.trees.positions.insert(key, old.clone()).unwrap();
    let mut backup = Vec::new();
    store.backup_to(&mut backup).unwrap();

    let target = tempfile::tempdir().unwrap();
    let path = target.path().join("store");
    crate::store::backup::restore(backup.as_slice(), &path, false).unwrap();
    let restored = crate::store::Store::open(&path, None).unwrap();
    assert_eq!(restored.positions_of_connection(&c.id).unwrap(), made);
    assert_eq!(restored.trees.positions.get(key).unwrap().unwrap(), old, "a backup holds records as stored");
    assert_eq!(restored.events_after(0, 10).unwrap(), store.events_after(0, 10).unwrap());
}

/// Reads one HTTP/1.1 request's body from `socket` (a test receiver).
async fn request_body(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ended early");
        bytes.extend_from_slice(&chunk[..n]);
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        if bytes.len() >= end + 4 + len {
            return bytes[end + 4..end + 4 + len].to_vec();
        }
    }
}

#[tokio::test]
async fn the_delivered_webhook_body_is_the_same_whether_the_record_is_binary_or_old_json() {
    use tokio::io::AsyncWriteExt as _;
    // A receiver on loopback that fails the first delivery, so the worker
    // sends the same event again, and records both bodies.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for status in ["500 Internal Server Error", "200 OK"] {
            let (mut socket, _) = listener.accept().await.unwrap();
            bodies.push(request_body(&mut socket).await);
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(answer.as_bytes()).await.unwrap();
        }
        bodies
    });

    let (_dir, store) = temp_store();
    let c = connection(&store, "Greenhouse");
    store.add_webhook("acme", &url, vec![]).unwrap();
    let p = commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\" <b>&</b>")]).remove(0);
    let policy = crate::events::DeliveryPolicy {
        retry_base: std::time::Duration::ZERO,
        retry_max: std::time::Duration::ZERO,
        poll: std::time::Duration::from_millis(10),
    };
    let worker = crate::events::WebhookWorker::new(store.clone(), policy).unwrap();
    worker.pass().await.unwrap(); // delivered from the binary record, refused

    // The record as an earlier atsbridge wrote it, then the retry.
    let key = keys::position(p.id);
    let stored = store.trees.positions.get(key).unwrap().unwrap();
    assert!(matches!(codec::body(&stored), Ok(Body::Binary(_))));
    store.trees.positions.insert(key, old_form(&p, codec::version_of(&stored))).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    worker.pass().await.unwrap();

    let bodies = tokio::time::timeout(std::time::Duration::from_secs(10), receiver).await.unwrap().unwrap();
    assert_eq!(bodies[0], bodies[1], "the same body from either form");
    let event: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(event["type"], "position.created");
    assert_eq!(serde_json::from_value::<Position>(event["position"].clone()).unwrap(), p);
}
