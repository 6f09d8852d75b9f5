use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[test]
fn commands_are_lighttpds() {
    let c = Counters {
        requests: 3,
        bytes_in: 120,
        bytes_out: 4567,
    };
    assert_eq!(
        update_command("/v/l.rrd", &c),
        "update /v/l.rrd N:120:4567:3\n"
    );
    let create = create_command("/v/l.rrd");
    assert!(create.starts_with("create /v/l.rrd --step 60 DS:InOctets:ABSOLUTE:600:U:U "));
    assert!(create.ends_with("RRA:MIN:0.5:288:797\n"));
    assert_eq!(create.matches("RRA:").count(), 12);
    assert_eq!(create.matches('\n').count(), 1);
}

/// A fresh temp dir with a fake `rrdtool` logging its stdin to `log` and
/// answering ERROR to lines containing `bad`, OK to the others.
fn fake_rrdtool(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rrd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log");
    let script = dir.join("rrdtool");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"args: $*\" >> {log}\nwhile IFS= read -r l; do echo \"$l\" >> {log}; \
             case \"$l\" in *bad*) echo 'ERROR: bad';; *) echo 'OK u:0.00 s:0.00 r:0.00';; esac; done\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, script)
}

fn module(script: &Path, dbs: &[String]) -> ModRrdtool {
    ModRrdtool {
        conf: Scoped {
            defaults: RrdConf(None),
            blocks: Vec::new(),
        },
        dbs: dbs
            .iter()
            .map(|p| Db {
                path: p.clone(),
                counts: Counters::default(),
            })
            .collect(),
        binary: script.display().to_string(),
        proc: None,
        started: false,
        startup: 0,
    }
}

/// Trigger at `now` until rrdtool runs (a script just written can fail to
/// exec with ETXTBSY while another test thread forks).
fn start(m: &mut ModRrdtool, cx: &mut Ctx, now: i64) {
    for _ in 0..50 {
        cx.now = now;
        m.trigger(cx);
        if m.proc.is_some() {
            return;
        }
        m.started = false;
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tick (not at a full minute) until every answer was read.
fn settle(m: &mut ModRrdtool, cx: &mut Ctx) {
    let end = Instant::now() + Duration::from_secs(10);
    while m.proc.as_ref().is_some_and(|p| !p.pending.is_empty()) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        cx.now = 61;
        m.trigger(cx);
    }
}

#[test]
fn creates_then_updates_through_the_pipe() {
    let (dir, script) = fake_rrdtool("ok");
    let db = dir.join("a.rrd").display().to_string();
    let mut m = module(&script, std::slice::from_ref(&db));
    let poll = mio::Poll::new().unwrap();
    let mut cx = Ctx {
        now: 61,
        registry: poll.registry(),
        token_base: 0,
    };
    start(&mut m, &mut cx, 61);
    assert!(m.started && m.proc.is_some());
    m.dbs[0].counts = Counters {
        requests: 2,
        bytes_in: 150,
        bytes_out: 900,
    };
    cx.now = 120;
    m.trigger(&mut cx);
    assert_eq!(m.dbs[0].counts, Counters::default());
    settle(&mut m, &mut cx);
    assert!(m.proc.is_some(), "OK answers keep rrdtool");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(
        log,
        format!("args: -\n{}update {db} N:150:900:2\n", create_command(&db))
    );
    // The file exists now (non-empty): no second create.
    std::fs::write(&db, b"x").unwrap();
    m.dbs[0].counts.requests = 1;
    cx.now = 180;
    m.trigger(&mut cx);
    settle(&mut m, &mut cx);
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(log.ends_with(&format!("N:150:900:2\nupdate {db} N:0:0:1\n")));
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_answer_gives_counts_back_and_restarts_next_minute() {
    let (dir, script) = fake_rrdtool("err");
    let db = dir.join("bad.rrd").display().to_string();
    std::fs::write(&db, b"x").unwrap();
    let mut m = module(&script, std::slice::from_ref(&db));
    let poll = mio::Poll::new().unwrap();
    let mut cx = Ctx {
        now: 1,
        registry: poll.registry(),
        token_base: 0,
    };
    start(&mut m, &mut cx, 1);
    m.dbs[0].counts.requests = 5;
    cx.now = 60;
    m.trigger(&mut cx);
    let end = Instant::now() + Duration::from_secs(10);
    while m.proc.is_some() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        cx.now = 61;
        m.trigger(&mut cx);
    }
    assert!(m.proc.is_none(), "an ERROR answer stops using rrdtool");
    assert_eq!(m.dbs[0].counts.requests, 5, "counts kept for the next try");
    start(&mut m, &mut cx, 120);
    assert!(m.proc.is_some(), "restarted at the next full minute");
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_binary_is_logged_not_fatal() {
    let mut m = module(Path::new("/nonexistent/rrdtool"), &["/tmp/x.rrd".into()]);
    let poll = mio::Poll::new().unwrap();
    let mut cx = Ctx {
        now: 60,
        registry: poll.registry(),
        token_base: 0,
    };
    m.trigger(&mut cx);
    m.trigger(&mut cx);
    assert!(m.proc.is_none());
}
