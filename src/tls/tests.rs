//! Unit tests of the TLS config rules: pemfile inheritance, SNI blocks,
//! protocol versions.

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
}
