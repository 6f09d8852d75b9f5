//! mod_access against the real binary: suffix deny, allow lists, the
//! second check after index files.

mod common;

use common::Server;

#[test]
fn deny_allow_and_index_recheck() {
    let files: &[(&str, &[u8])] = &[
        ("a.txt", b"a"),
        ("x.inc", b"secret"),
        ("d/index.inc", b"i"),
        ("X.INC", b"up"),
    ];
    let s = Server::start(
        "server.modules = (\"mod_access\")\nindex-file.names = (\"index.inc\")\nurl.access-deny = (\".inc\")\n$HTTP[\"url\"] =^ \"/only/\" { url.access-allow = (\".txt\") }",
        files,
    );
    assert_eq!(s.get("/a.txt").status, 200);
    assert_eq!(s.get("/x.inc").status, 403);
    assert_eq!(s.get("/X.INC").status, 200, "case-sensitive suffix");
    assert_eq!(
        s.get("/d/").status,
        403,
        "denied after the index file was appended"
    );
    assert_eq!(
        s.get("/only/x.txt").status,
        404,
        "allowed by the allow list"
    );
    assert_eq!(s.get("/only/x.inc").status, 403);
    assert_eq!(s.get("/only/x.php").status, 403);
}
