use super::*;

fn fwd(pairs: &[(&str, &str)]) -> Forwarders {
    let list: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    parse_forwarders(&list).expect("valid forwarders")
}

#[test]
fn trust_rules() {
    let f = fwd(&[
        ("10.0.0.1", "trust"),
        ("10.0.0.2", "untrusted"),
        ("192.168.0.0/16", "trust"),
        ("[2001:db8::]/32", "trust"),
    ]);
    assert!(f.trusts("10.0.0.1") && !f.trusts("10.0.0.2"));
    assert!(f.trusts("192.168.44.5") && !f.trusts("192.169.0.1"));
    assert!(f.trusts("2001:db8:1::7") && !f.trusts("2001:db9::1"));
    assert!(f.trusts("::ffff:192.168.1.1"), "v4-mapped");
    assert!(!f.trusts("garbage") && !f.trusts(""));
    assert!(!f.trusts_connection("1.2.3.4"));
    assert!(fwd(&[("all", "trust")]).trusts_connection("1.2.3.4"));
    assert!(
        !fwd(&[("all", "trust")]).trusts("1.2.3.4"),
        "all does not trust header hops"
    );
    let list = vec![("1.2.3.0/x".to_string(), "trust".to_string())];
    assert!(parse_forwarders(&list).is_err());
    let list = vec![("1.2.3.0/0".to_string(), "trust".to_string())];
    assert!(parse_forwarders(&list).is_err());
}

#[test]
fn x_forwarded_for() {
    let f = fwd(&[("10.0.0.1", "trust"), ("10.0.0.2", "trust")]);
    assert_eq!(client_from_xff("1.2.3.4, 10.0.0.2", &f), Some("1.2.3.4"));
    assert_eq!(
        client_from_xff("6.6.6.6, 1.2.3.4, 10.0.0.2", &f),
        Some("1.2.3.4")
    );
    assert_eq!(client_from_xff("10.0.0.1,10.0.0.2", &f), None);
    assert_eq!(client_from_xff("2001:db8::1", &f), Some("2001:db8::1"));
    assert_eq!(
        forwarded_for_tokens("for= x1.2.3.4;; ,zz"),
        ["f", "1.2.3.4"],
        "as lighttpd: hex runs"
    );
    assert_eq!(client_from_xff("", &f), None);
    assert_eq!(client_from_xff("\u{0}\u{7f}zz!!", &f), None);
}

#[test]
fn forwarded_header() {
    let f = fwd(&[("10.0.0.1", "trust")]);
    let hop = client_from_forwarded(
        "for=192.0.2.60;proto=https;host=\"Ex.org\", for=10.0.0.1",
        &f,
    )
    .expect("valid")
    .expect("hop");
    assert_eq!(hop.for_addr.as_deref(), Some("192.0.2.60"));
    assert_eq!(hop.proto.as_deref(), Some("https"));
    assert_eq!(hop.host.as_deref(), Some("Ex.org"));
    let hop = client_from_forwarded("for=\"[2001:db8:cafe::17]:4711\"", &f)
        .expect("ok")
        .expect("hop");
    assert_eq!(hop.for_addr.as_deref(), Some("2001:db8:cafe::17"));
    assert_eq!(
        client_from_forwarded("for=_hidden, for=unknown", &f),
        Ok(None)
    );
    for bad in [
        "for",
        "for=\"unterminated",
        "=x",
        "for=1.2.3.4 x",
        "for=\"\\",
        "for=notanip",
    ] {
        assert!(client_from_forwarded(bad, &f).is_err(), "{bad}");
    }
    assert_eq!(node_addr("1.2.3.4:80"), "1.2.3.4");
}
