use super::*;

fn client(h: &Header) -> Option<(&str, Option<u16>)> {
    h.client.as_ref().map(|(a, p)| (a.as_str(), *p))
}

#[test]
fn v1_lines() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    let h = parse(&[&line[..], b"GET /"].concat()).expect("valid");
    assert_eq!(h.len, line.len());
    assert_eq!(client(&h), Some(("192.0.2.1", Some(56324))));
    let h = parse(b"PROXY TCP6 2001:db8:0::1 ::2 1 2\r\n").expect("valid");
    assert_eq!(client(&h), Some(("2001:db8::1", Some(1))), "normalised");
    let h = parse(b"PROXY UNKNOWN whatever\r\n").expect("valid");
    assert_eq!((h.len, h.client), (24, None));
    assert_eq!(parse(b"PROXY UNKNOWN\r\n").map(|h| h.len), Ok(15));
    assert_eq!(
        parse(b"PROXY TCP4 1.2.3.4 garbage 01 2\r\n").map(|h| client(&h).map(|c| c.1)),
        Ok(Some(Some(1))),
        "lighttpd checks neither the destination nor leading zeros"
    );
    for partial in [
        &b"PRO"[..],
        b"PROXY TCP4 1.2.3.4",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",
    ] {
        assert_eq!(parse(partial), Err(ProxyError::Incomplete));
    }
    for bad in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 0 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY UNKNOWNX\r\n",
        b"PROXY \xff\xfe\r\n",
        b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    ] {
        assert_eq!(
            parse(bad),
            Err(ProxyError::Invalid),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let long = [b"PROXY ".to_vec(), vec![b'1'; 300]].concat();
    assert_eq!(parse(&long), Err(ProxyError::Invalid), "no CR in 256 bytes");
}

fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut v = V2_SIG.to_vec();
    v.extend_from_slice(&[0x20 | cmd, fam]);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

const IP4: [u8; 12] = [127, 0, 0, 9, 10, 0, 0, 1, 0x1f, 0x90, 0, 80];

#[test]
fn v2_headers() {
    let h = parse(&v2(1, 0x11, &IP4)).expect("valid");
    assert_eq!((h.len, client(&h)), (28, Some(("127.0.0.9", Some(8080)))));
    let mut six = vec![0u8; 36];
    six[15] = 1;
    six[33] = 7;
    let h = parse(&v2(1, 0x21, &six)).expect("valid");
    assert_eq!((h.len, client(&h)), (52, Some(("::1", Some(7)))));
    let mut unix = vec![0u8; 216];
    unix[..9].copy_from_slice(b"/run/sock");
    let h = parse(&v2(1, 0x31, &unix)).expect("valid");
    assert_eq!(client(&h), Some(("/run/sock", None)));
    assert_eq!(parse(&v2(1, 0x31, &[b'x'; 216])), Err(ProxyError::Invalid));
    for local in [v2(0, 0x11, &IP4), v2(1, 0x12, &IP4), v2(1, 0x77, &[])] {
        let h = parse(&local).expect("kept address");
        assert_eq!((h.len, h.client), (local.len(), None));
    }
    assert_eq!(parse(&v2(1, 0x11, &IP4[..8])), Err(ProxyError::Invalid));
    assert_eq!(
        parse(&v2(2, 0x11, &IP4)),
        Err(ProxyError::Invalid),
        "command"
    );
    let mut wrong_ver = v2(1, 0x11, &IP4);
    wrong_ver[12] = 0x11;
    assert_eq!(parse(&wrong_ver), Err(ProxyError::Invalid));
    let mut huge = v2(1, 0x11, &IP4);
    huge[14] = 0xff;
    assert_eq!(parse(&huge), Err(ProxyError::Invalid), "over 256 bytes");
    let at_limit = v2(1, 0x11, &[IP4.to_vec(), vec![4; 240 - 12]].concat());
    assert_eq!(parse(&at_limit).map(|h| h.len), Ok(256));
    assert_eq!(parse(&v2(1, 0x11, &IP4)[..20]), Err(ProxyError::Incomplete));
    assert_eq!(parse(&V2_SIG[..5]), Err(ProxyError::Incomplete));
    assert_eq!(parse(&V2_SIG[..]), Err(ProxyError::Incomplete));
}

#[test]
fn v2_tlvs() {
    let mut body = IP4.to_vec();
    body.extend_from_slice(&[0x05, 0, 3, b'u', b'i', b'd']);
    let ssl_sub = [
        &[0x21, 0, 7][..],
        b"TLSv1.3",
        &[0x22, 0, 5],
        b"alice",
        &[0x99, 0, 1, 0],
    ]
    .concat();
    let mut ssl = vec![0x01 | 0x02, 0, 0, 0, 0];
    ssl.extend_from_slice(&ssl_sub);
    body.push(0x20);
    body.extend_from_slice(&(ssl.len() as u16).to_be_bytes());
    body.extend_from_slice(&ssl);
    let h = parse(&v2(1, 0x11, &body)).expect("valid");
    assert!(h.ssl_client_verify);
    let env: Vec<(&str, &str)> = h
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("PP2_UNIQUE_ID", "uid"),
            ("SSL_PROTOCOL", "TLSv1.3"),
            ("SSL_CLIENT_S_DN_CN", "alice")
        ]
    );
    // A TLV claiming more than the header holds ends the list, no error.
    let mut bad = IP4.to_vec();
    bad.extend_from_slice(&[0x05, 0xff, 0xff, b'x', 0x05]);
    let h = parse(&v2(1, 0x11, &bad)).expect("still valid");
    assert!(h.env.is_empty() && !h.ssl_client_verify);
    // Failed verification (verify != 0).
    let mut failed = IP4.to_vec();
    failed.extend_from_slice(&[0x20, 0, 5, 0x02, 0, 0, 0, 1]);
    assert!(
        !parse(&v2(1, 0x11, &failed))
            .expect("valid")
            .ssl_client_verify
    );
}

#[test]
fn a_valid_header_cut_short_asks_for_more() {
    let mut v2_tlv = v2(1, 0x11, &IP4);
    v2_tlv[15] += 4;
    v2_tlv.extend_from_slice(&[0x05, 0, 1, b'x']);
    let headers: [&[u8]; 5] = [
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
        b"PROXY TCP6 ::1 ::2 1 2\r\n",
        b"PROXY UNKNOWN\r\n",
        &v2(1, 0x21, &[0; 36]),
        &v2_tlv,
    ];
    for h in headers {
        assert_eq!(parse(h).map(|p| p.len), Ok(h.len()));
        for cut in 1..h.len() {
            assert_eq!(
                parse(&h[..cut]),
                Err(ProxyError::Incomplete),
                "{cut} of {h:?}"
            );
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x1234_5678u32;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = (seed % 300) as usize;
        let mut v: Vec<u8> = (0..len).map(|i| (seed >> (i % 24)) as u8).collect();
        match seed % 3 {
            0 if v.len() >= 16 => {
                v[..12].copy_from_slice(V2_SIG);
                v[12] = 0x21;
            }
            1 if v.len() >= 6 => v[..6].copy_from_slice(b"PROXY "),
            _ => {}
        }
        if let Ok(h) = parse(&v) {
            assert!(h.len <= v.len() && h.len <= MAX_HEADER);
        }
    }
}
