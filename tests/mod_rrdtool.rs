//! mod_rrdtool against the real binary, with a fake `rrdtool` that logs its
//! stdin. Updates happen at full minutes (unit-tested in
//! src/modules/rrdtool/tests.rs); this checks the child's life cycle.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Server;

fn wait_for(log: &Path, what: &str) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) || Instant::now() > end {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rrdtool_is_started_once_with_a_dash_and_ends_with_the_server() {
    let tool = common::temp_dir("rrd");
    let log = tool.join("log");
    let script = tool.join("rrdtool");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"args: $*\" >> {log}\nwhile IFS= read -r l; do echo \"$l\" >> {log}; \
             echo 'OK u:0.00 s:0.00 r:0.00'; done\necho eof >> {log}\n",
            log = log.display()
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut s = Server::start(
        &format!(
            "server.modules = (\"mod_rrdtool\")\nrrdtool.binary = \"{}\"\n\
             rrdtool.db-name = \"{}\"",
            script.display(),
            tool.join("l.rrd").display()
        ),
        &[("a.txt", b"hello")],
    );
    assert_eq!(s.get("/a.txt").text(), "hello");
    let text = wait_for(&log, "args: -\n");
    assert!(text.starts_with("args: -\n"), "rrdtool - started: {text:?}");
    s.stop();
    let text = wait_for(&log, "eof");
    assert!(
        text.ends_with("eof\n"),
        "its stdin closed at stop: {text:?}"
    );
    assert_eq!(text.matches("args:").count(), 1, "started once: {text:?}");
    let _ = std::fs::remove_dir_all(&tool);
}
