//! Unit tests of the TLS config rules: pemfile inheritance, SNI blocks,
//! protocol versions, chain completion from ssl.ca-file.

use super::*;
use crate::config::load_str;

fn tree(src: &str) -> ConfigTree {
    match load_str("t.conf", src.as_bytes()) {
        Ok(t) => t,
        Err(e) => panic!("{src:?} failed: {:?}", e.lighttpd_lines),
    }
}

fn socket_ctx(t: &ConfigTree) -> CtxId {
    t.contexts
        .iter()
        .position(|c| {
            c.cond
                .as_ref()
                .is_some_and(|c| c.field == CondField::ServerSocket)
        })
        .expect("socket block")
}

fn message(e: Vec<Diagnostic>) -> String {
    e.first().map(|d| d.message.clone()).unwrap_or_default()
}

#[test]
fn pemfile_comes_from_the_socket_block_or_the_global_one() {
    let t = tree(
        "ssl.pemfile = \"/g.pem\"\n$SERVER[\"socket\"] == \":443\" { ssl.engine = \"enable\" }",
    );
    assert_eq!(pemfile_scope(&t, socket_ctx(&t)).ok(), Some(0));
    let t = tree(
        "$SERVER[\"socket\"] == \":443\" { ssl.engine = \"enable\" ssl.pemfile = \"/s.pem\" }",
    );
    let s = socket_ctx(&t);
    assert_eq!(pemfile_scope(&t, s).ok(), Some(s));
    let t = tree("ssl.pemfile = \"/g.pem\"\n$SERVER[\"socket\"] == \":443\" { ssl.engine = \"enable\" ssl.ca-file = \"/ca\" }");
    let e = message(pemfile_scope(&t, socket_ctx(&t)).unwrap_err());
    assert!(
        e.starts_with("ssl.pemfile has to be set in same $SERVER[\"socket\"] scope"),
        "{e}"
    );
    let t = tree("ssl.engine = \"enable\"");
    let e = message(pemfile_scope(&t, 0).unwrap_err());
    assert_eq!(e, "ssl.pemfile has to be set when ssl.engine = \"enable\"");
}

#[test]
fn sni_blocks_are_host_conditions_on_the_way_to_the_pemfile() {
    let t = tree(concat!(
        "$SERVER[\"socket\"] == \":443\" { ssl.engine = \"enable\"\n",
        "  $HTTP[\"host\"] =~ \"^b\\.\" { ssl.pemfile = \"/b.pem\" } }\n",
        "$HTTP[\"host\"] == \"c.test\" { ssl.pemfile = \"/c.pem\" }\n",
        "$HTTP[\"url\"] =^ \"/x\" { ssl.pemfile = \"/x.pem\" }\n",
    ));
    let s = socket_ctx(&t);
    let with_pem: Vec<CtxId> = (1..t.contexts.len())
        .filter(|&i| t.contexts[i].get("ssl.pemfile").is_some())
        .collect();
    let found: Vec<usize> = with_pem
        .iter()
        .filter_map(|&i| host_conditions(&t, i, s).map(|c| c.len()))
        .collect();
    assert_eq!(found, vec![1, 1], "url block excluded, host blocks kept");
    let mut caps = Vec::new();
    let b = host_conditions(&t, with_pem[0], s).expect("b");
    assert!(b[0].eval("b.test", &mut caps));
    assert!(!b[0].eval("a.test", &mut caps));
    // a host block inside another socket's block does not apply here
    assert!(host_conditions(&t, with_pem[0], 0).is_none());
}

#[test]
fn protocol_versions_follow_min_and_max_protocol() {
    let names = |src: &str| -> Vec<String> {
        protocol_versions(&tree(src), 0, false)
            .map(|v| v.iter().map(|p| format!("{:?}", p.version)).collect())
            .unwrap_or_else(|e| vec![message(e)])
    };
    assert_eq!(names(""), vec!["TLSv1_2", "TLSv1_3"]);
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"MinProtocol\" => \"TLSv1.3\")"),
        vec!["TLSv1_3"]
    );
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"MaxProtocol\" => \"TLSv1.2\", \"CipherString\" => \"HIGH\")"),
        vec!["TLSv1_2"]
    );
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"MinProtocol\" => \"TLSv1\")"),
        vec!["TLSv1_2", "TLSv1_3"]
    );
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"Protocol\" => \"-ALL, TLSv1.2\")"),
        vec!["TLSv1_2"]
    );
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"Protocol\" => \"-TLSv1.2 +SSLv3\")"),
        vec!["TLSv1_3"]
    );
    assert_eq!(
        names("ssl.openssl.ssl-conf-cmd = (\"Protocol\" => \"-all\", \"MinProtocol\" => \"TLSv1.2\")"),
        vec!["SSL: SSL_CONF_cmd MinProtocol/MaxProtocol/Protocol: no TLS version left (TLSv1.2 and TLSv1.3 are supported)"]
    );
}

// root -> int -> leaf, made with `openssl req -x509` / `openssl x509 -req`
// (P-256; CN=root, CN=int, CN=leaf).
const ROOT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBcjCCARmgAwIBAgIUST6Z7bwliqm6IIjLKtG0+BzSmhIwCgYIKoZIzj0EAwIw\n\
DzENMAsGA1UEAwwEcm9vdDAeFw0yNjExMjYwMTE5MjdaFw0zNjExMjMwMTE5Mjda\n\
MA8xDTALBgNVBAMMBHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASElq3t\n\
pr+p5Hzri5Lrakz9lZUGG3JLfJzd26KhLvyLOfB06xfhD4Is1GFqz1hLp+o2jNU6\n\
8S2lOzZjIr7MPI/2o1MwUTAdBgNVHQ4EFgQUBopxhSIGhqG/W3B0WIUHIxa6G1cw\n\
HwYDVR0jBBgwFoAUBopxhSIGhqG/W3B0WIUHIxa6G1cwDwYDVR0TAQH/BAUwAwEB\n\
/zAKBggqhkjOPQQDAgNHADBEAiBdCTOxNyUHpjAYMgS7NkbR2JECSBwCl3FrMvwI\n\
vsBjeAIgIvc07fRjyLR1xww4mzB2AYJwkvK+mHAp6UnwblRmbEc=\n\
-----END CERTIFICATE-----\n\
";
const INT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBXzCCAQWgAwIBAgIBAjAKBggqhkjOPQQDAjAPMQ0wCwYDVQQDDARyb290MB4X\n\
DTI2MTEyNjAxMTkyN1oXDTM2MTEyMzAxMTkyN1owDjEMMAoGA1UEAwwDaW50MFkw\n\
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEd4eyJ9VcpL0NF342H+gGq0nnP113RSps\n\
crP6QDH9k6xf40cQsHB6NDiM49C7dFT5oeFqw8ugT6jfL/fKFV5SbqNTMFEwDwYD\n\
VR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUYHgU/rld4IqP/peRw6d7FxhfGJswHwYD\n\
VR0jBBgwFoAUBopxhSIGhqG/W3B0WIUHIxa6G1cwCgYIKoZIzj0EAwIDSAAwRQIg\n\
WiQfXKyhtfP6KxutdZ5Xd1vBkeHtuQhLGMd96PZsIAACIQCBvO7mnW4M/MDLg9RT\n\
sSRGygm2ceoGEB+IO0f1Mk65vg==\n\
-----END CERTIFICATE-----\n\
";
const LEAF: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBBTCBqwIBAzAKBggqhkjOPQQDAjAOMQwwCgYDVQQDDANpbnQwHhcNMjYxMTI2\n\
MDExOTI3WhcNMzYxMTIzMDExOTI3WjAPMQ0wCwYDVQQDDARsZWFmMFkwEwYHKoZI\n\
zj0CAQYIKoZIzj0DAQcDQgAE5TAE9bBmY5PtRNrEg9IiFaeUUMwCmPIyzq7YRIzX\n\
7buem8MZ+7VgkPVDv3LPpJWKEEnf1PpEcEETav0MFoBbXzAKBggqhkjOPQQDAgNJ\n\
ADBGAiEAxpqmca+zhQZ5Wwq6lcAhnZEpFvhw2tt8hh533tQpNyQCIQDn2DrW7L6W\n\
CY7vRNAHfzBGV8ztnulwWtiU43kIZhjAtw==\n\
-----END CERTIFICATE-----\n\
";

fn der_of(pem: &str) -> CertificateDer<'static> {
    match CertificateDer::from_pem_slice(pem.as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("test certificate: {e:?}"),
    }
}

#[test]
fn chain_is_completed_from_the_ca_file_up_to_the_root() {
    let (root, int, leaf) = (der_of(ROOT), der_of(INT), der_of(LEAF));
    let garbage = CertificateDer::from(vec![0x30, 0x82, 0xff]);
    let cas = vec![garbage.clone(), root.clone(), int.clone()];
    let mut chain = vec![leaf.clone()];
    complete_chain(&mut chain, &cas);
    assert_eq!(
        chain,
        vec![leaf.clone(), int.clone()],
        "self-signed root not sent"
    );
    let mut chain = vec![garbage.clone()];
    complete_chain(&mut chain, &cas);
    assert_eq!(chain, vec![garbage], "unparsable leaf: chain left alone");
    let mut chain = vec![leaf.clone()];
    complete_chain(&mut chain, &[root]);
    assert_eq!(chain, vec![leaf], "issuer missing: nothing added");
}
