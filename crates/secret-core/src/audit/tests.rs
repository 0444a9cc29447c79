#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use super::*;

fn entry(n: u32) -> AuditEntry {
    AuditEntry {
        id: format!("id-{n}"),
        event_type: SecretAuditEventType::SecretRead,
        event_category: AuditCategory::Crud,
        actor_type: ActorType::User,
        actor_id: "alice".into(),
        actor_name: None,
        organization_id: Some("org-1".into()),
        team_id: None,
        project_id: None,
        secret_id: Some("s-1".into()),
        secret_name: Some("API".into()),
        secret_scope: Some(SecretScope::Organization),
        action: "SECRET_READ".into(),
        details: "{}".into(),
        ip_address: None,
        user_agent: None,
        request_id: None,
        consumer_module: Some("mcp".into()),
        outcome: AuditOutcome::Success,
        error_message: None,
        timestamp: audit_timestamp(Utc::now()),
    }
}

fn chain(n: u32) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_string();
    (1..=n)
        .map(|i| {
            let e = entry(i);
            let hash = chain_hash(i64::from(i), &prev, &e);
            let r = AuditRecord {
                seq: i64::from(i),
                entry: e,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            };
            prev = hash;
            r
        })
        .collect()
}

fn verify(records: &[AuditRecord], head: (i64, &str)) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new();
    for r in records {
        v.check(r)?;
    }
    v.finish(head.0, head.1)
}

#[test]
fn an_intact_chain_verifies() {
    let c = chain(5);
    let head = c[4].hash.clone();
    assert_eq!(verify(&c, (5, &head)), Ok(5));
    assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
}

#[test]
fn absent_and_empty_fields_hash_differently() {
    let a = entry(1);
    let mut b = a.clone();
    b.actor_name = Some(String::new());
    assert_ne!(
        chain_hash(1, GENESIS_HASH, &a),
        chain_hash(1, GENESIS_HASH, &b)
    );
    // Moving bytes between adjacent fields changes the hash too.
    let mut c = a.clone();
    c.secret_name = Some("AP".into());
    c.action = "ISECRET_READ".into();
    assert_ne!(
        chain_hash(1, GENESIS_HASH, &a),
        chain_hash(1, GENESIS_HASH, &c)
    );
}

#[test]
fn an_edited_record_is_named() {
    let mut c = chain(5);
    let head = c[4].hash.clone();
    c[2].entry.outcome = AuditOutcome::Denied;
    assert_eq!(
        verify(&c, (5, &head)),
        Err(ChainBreak::Changed {
            seq: 3,
            id: "id-3".into()
        })
    );
}

#[test]
fn a_removed_record_is_found() {
    let mut c = chain(5);
    let head = c[4].hash.clone();
    c.remove(1);
    assert_eq!(
        verify(&c, (5, &head)),
        Err(ChainBreak::Unlinked {
            seq: 3,
            id: "id-3".into(),
            prev_seq: 1
        })
    );
    // The last record removed: the head says 5, the chain ends at 4.
    let mut c = chain(5);
    c.pop();
    assert_eq!(
        verify(&c, (5, &head)),
        Err(ChainBreak::Truncated {
            last_seq: 4,
            head_seq: 5
        })
    );
}

#[test]
fn an_inserted_record_is_found() {
    // A forged record re-hashed correctly but spliced in: it does not link.
    let mut c = chain(5);
    let head = c[4].hash.clone();
    let forged_entry = entry(99);
    let hash = chain_hash(3, &c[1].hash, &forged_entry);
    c.insert(
        2,
        AuditRecord {
            seq: 3,
            entry: forged_entry,
            prev_hash: c[1].hash.clone(),
            hash,
        },
    );
    assert_eq!(
        verify(&c, (5, &head)),
        Err(ChainBreak::Unlinked {
            seq: 3,
            id: "id-3".into(),
            prev_seq: 3
        })
    );
    // Appended past the head.
    let mut c = chain(5);
    let extra = entry(6);
    let hash = chain_hash(6, &c[4].hash, &extra);
    c.push(AuditRecord {
        seq: 6,
        entry: extra,
        prev_hash: c[4].hash.clone(),
        hash,
    });
    assert!(matches!(
        verify(&c, (5, &head)),
        Err(ChainBreak::PastHead { seq: 6, .. })
    ));
}

/// A chain key for tests: [`keyed_chain_mac`] under fixed bytes.
struct TestKey([u8; CHAIN_KEY_LEN]);

impl ChainMac for TestKey {
    fn mac(&self, seq: i64, prev_hash: &str, entry: &AuditEntry) -> String {
        keyed_chain_mac(&self.0, seq, prev_hash, entry)
    }
    fn verify(&self, seq: i64, prev_hash: &str, entry: &AuditEntry, tag: &str) -> bool {
        self.mac(seq, prev_hash, entry) == tag
    }
}

/// `n` records, unkeyed before `keyed_from`, tagged under `key` from it on.
fn mixed_chain(n: u32, keyed_from: i64, key: &dyn ChainMac) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_string();
    (1..=n)
        .map(|i| {
            let seq = i64::from(i);
            let e = entry(i);
            let hash = if seq >= keyed_from {
                key.mac(seq, &prev, &e)
            } else {
                chain_hash(seq, &prev, &e)
            };
            AuditRecord {
                seq,
                entry: e,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

fn verify_keyed(
    records: &[AuditRecord],
    key: std::sync::Arc<dyn ChainMac>,
    keyed_from: i64,
    expected: Option<ExpectedHead>,
) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::keyed(key, keyed_from);
    if let Some(e) = expected {
        v = v.expect_head(e);
    }
    for r in records {
        v.check(r)?;
    }
    let last = records
        .last()
        .map_or((0, GENESIS_HASH.to_string()), |r| (r.seq, r.hash.clone()));
    v.finish(last.0, &last.1)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let mut h = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).unwrap();
    h.feed(data);
    to_hex(&hmac::Mac::finalize(h).into_bytes())
}

#[test]
fn hmac_sha256_matches_the_rfc_4231_test_vectors() {
    // (key, data, HMAC-SHA256) of RFC 4231 test cases 1, 2, 3, 4, 6 and 7.
    let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, mac) in cases {
        assert_eq!(hmac_hex(&key, &data), mac);
    }
}

#[test]
fn the_unkeyed_hash_of_earlier_versions_is_unchanged() {
    // Computed by the code before the chain was keyed: chains written then still verify.
    use chrono::TimeZone;
    let mut e = entry(1);
    e.id = "0193a000-0000-7000-8000-000000000001".into();
    e.user_agent = Some(String::new());
    e.timestamp = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
        + chrono::Duration::microseconds(123_456);
    assert_eq!(
        chain_hash(7, GENESIS_HASH, &e),
        "3bd3260991e98983d7723ecf4c385e2b0859644559f041aef85187f8b3fd7fa2"
    );
}

#[test]
fn the_keyed_mac_depends_on_the_key_and_differs_from_the_unkeyed_hash() {
    let e = entry(1);
    let a = keyed_chain_mac(&[1; 32], 1, GENESIS_HASH, &e);
    assert_eq!(a.len(), 64);
    assert_ne!(a, keyed_chain_mac(&[2; 32], 1, GENESIS_HASH, &e));
    assert_ne!(a, chain_hash(1, GENESIS_HASH, &e));
    assert_ne!(a, keyed_chain_mac(&[1; 32], 2, GENESIS_HASH, &e));
}

#[test]
fn a_keyed_chain_with_an_unkeyed_prefix_verifies() {
    let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
    let c = mixed_chain(6, 4, key.as_ref());
    assert_eq!(verify_keyed(&c, key.clone(), 4, None), Ok(6));
    // Keyed from the start.
    let c = mixed_chain(3, 1, key.as_ref());
    assert_eq!(verify_keyed(&c, key.clone(), 1, None), Ok(3));
    // Keyed start not reached yet.
    let c = mixed_chain(3, 10, key.as_ref());
    assert_eq!(verify_keyed(&c, key, 10, None), Ok(3));
}

#[test]
fn an_unkeyed_tag_past_the_keyed_start_is_a_changed_record() {
    // No downgrade: records re-tagged with the public function after the keyed start fail.
    let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
    let c = chain(5);
    assert_eq!(
        verify_keyed(&c, key.clone(), 3, None),
        Err(ChainBreak::Changed {
            seq: 3,
            id: "id-3".into()
        })
    );
    // And under another key.
    let c = mixed_chain(5, 3, &TestKey([8; 32]));
    assert_eq!(
        verify_keyed(&c, key, 3, None),
        Err(ChainBreak::Changed {
            seq: 3,
            id: "id-3".into()
        })
    );
}

#[test]
fn a_consistently_rewritten_keyed_chain_fails() {
    let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
    let original = mixed_chain(6, 1, key.as_ref());
    // Record 3 removed, every later record renumbered and re-tagged without the key.
    let mut prev = original[1].hash.clone();
    let rewritten: Vec<AuditRecord> = original[..2]
        .iter()
        .cloned()
        .chain(original[3..].iter().enumerate().map(|(i, r)| {
            let seq = 3 + i as i64;
            let hash = chain_hash(seq, &prev, &r.entry);
            AuditRecord {
                seq,
                entry: r.entry.clone(),
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        }))
        .collect();
    assert_eq!(
        verify_keyed(&rewritten, key, 1, None),
        Err(ChainBreak::Changed {
            seq: 3,
            id: "id-4".into()
        })
    );
}

#[test]
fn the_expected_head_must_still_be_in_the_chain() {
    let key: std::sync::Arc<dyn ChainMac> = std::sync::Arc::new(TestKey([7; 32]));
    let c = mixed_chain(5, 1, key.as_ref());
    let at = |i: usize| ExpectedHead {
        seq: c[i].seq,
        hash: c[i].hash.clone(),
    };
    // The chain grew past the kept head: intact.
    assert_eq!(verify_keyed(&c, key.clone(), 1, Some(at(2))), Ok(5));
    assert_eq!(verify_keyed(&c, key.clone(), 1, Some(at(4))), Ok(5));
    // Truncated below the kept head.
    assert_eq!(
        verify_keyed(&c[..3], key.clone(), 1, Some(at(4))),
        Err(ChainBreak::ExpectedHeadMissing {
            last_seq: 3,
            expected_seq: 5
        })
    );
    // The record at the kept head carries another tag.
    let other = ExpectedHead {
        seq: 3,
        hash: "ab".repeat(32),
    };
    assert_eq!(
        verify_keyed(&c, key, 1, Some(other)),
        Err(ChainBreak::ExpectedHeadMismatch {
            seq: 3,
            id: "id-3".into()
        })
    );
}

#[test]
fn expected_heads_parse_from_seq_colon_hash() {
    let hash = "AB".repeat(32);
    let head: ExpectedHead = format!("12:{hash}").parse().unwrap();
    assert_eq!(head.seq, 12);
    assert_eq!(head.hash, "ab".repeat(32));
    assert_eq!(head.to_string(), format!("12:{}", "ab".repeat(32)));
    let genesis: ExpectedHead = format!("0:{GENESIS_HASH}").parse().unwrap();
    assert_eq!(genesis.seq, 0);
    for bad in [
        String::new(),
        "12".into(),
        format!("-1:{hash}"),
        format!("x:{hash}"),
        "12:abc".into(),
        format!("12:{}", "zz".repeat(32)),
        format!("0:{hash}"),
    ] {
        assert!(bad.parse::<ExpectedHead>().is_err(), "{bad:?}");
    }
}
