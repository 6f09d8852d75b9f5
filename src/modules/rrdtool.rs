//! mod_rrdtool (lighttpd src/mod_rrdtool.c): counts requests and bytes in
//! and out per `rrdtool.db-name` block and, at every full minute, feeds them
//! to one `rrdtool -` child (`rrdtool.binary`, default /usr/bin/rrdtool)
//! through pipes: `create` when the RRD file is missing or empty, then
//! `update <db> N:<in>:<out>:<requests>`. lighttpd writes and reads the pipes
//! blocking; here both ends are non-blocking and serviced from the 1 s
//! trigger with bounded buffers. The child is started on the first trigger
//! (not while checking the configuration); after a failure it is restarted
//! at the next full minute, as lighttpd does.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_str;
use crate::log_error;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// Most bytes queued for rrdtool's stdin before it counts as dead.
const MAX_OUT: usize = 64 * 1024;
/// Longest answer line kept (lighttpd reads into a 4096-byte buffer).
const MAX_LINE: usize = 4096;

/// The RRD layout lighttpd creates: 60 s step, three ABSOLUTE data sources,
/// AVERAGE/MAX/MIN archives over 1, 6, 24 and 288 steps.
const CREATE_ARGS: &str = " --step 60 \
DS:InOctets:ABSOLUTE:600:U:U \
DS:OutOctets:ABSOLUTE:600:U:U \
DS:Requests:ABSOLUTE:600:U:U \
RRA:AVERAGE:0.5:1:600 RRA:AVERAGE:0.5:6:700 RRA:AVERAGE:0.5:24:775 RRA:AVERAGE:0.5:288:797 \
RRA:MAX:0.5:1:600 RRA:MAX:0.5:6:700 RRA:MAX:0.5:24:775 RRA:MAX:0.5:288:797 \
RRA:MIN:0.5:1:600 RRA:MIN:0.5:6:700 RRA:MIN:0.5:24:775 RRA:MIN:0.5:288:797\n";

/// The `create` command for an RRD file.
pub fn create_command(path: &str) -> String {
    format!("create {path}{CREATE_ARGS}")
}

/// The `update` command for one db's counters.
pub fn update_command(path: &str, c: &Counters) -> String {
    format!(
        "update {path} N:{}:{}:{}\n",
        c.bytes_in, c.bytes_out, c.requests
    )
}

/// What one `rrdtool.db-name` block collected since its last update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.requests += o.requests;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
    }
}

/// One `rrdtool.db-name` setting (each block has its own counters, as in
/// lighttpd, even when two blocks name the same file).
#[derive(Debug)]
struct Db {
    path: String,
    counts: Counters,
}

/// Per request: the index of the db the request counts for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RrdConf(Option<usize>);

impl Patch for RrdConf {
    type Item = Option<usize>;
    fn apply(&mut self, item: &Option<usize>) {
        if item.is_some() {
            self.0 = *item;
        }
    }
}

/// A command sent whose answer has not been read yet.
#[derive(Debug)]
enum Pending {
    Create {
        cmd: String,
    },
    /// `counts` were taken from the db when sent; given back on failure.
    /// `skip`: its create failed, so the answer is ignored.
    Update {
        cmd: String,
        db: usize,
        counts: Counters,
        skip: bool,
    },
}

/// The running `rrdtool -` child and its pipes.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    out: Vec<u8>,
    line: Vec<u8>,
    pending: VecDeque<Pending>,
}

pub struct ModRrdtool {
    conf: Scoped<RrdConf>,
    dbs: Vec<Db>,
    binary: String,
    proc: Option<Proc>,
    /// Set once the child was first started (lighttpd's `rrdtool_pid != 0`).
    started: bool,
    /// When the server started (lighttpd's `startup_ts`).
    startup: i64,
}

pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let (conf, dbs) = compile(init.tree)?;
    let binary = match init.tree.global().get("rrdtool.binary") {
        Some(d) => get_str("rrdtool.binary", &d.value)
            .map_err(|e| vec![Diagnostic::error(e, Some(d.span))])?
            .to_string(),
        None => String::new(),
    };
    Ok(Box::new(ModRrdtool {
        conf,
        dbs,
        binary: if binary.trim().is_empty() {
            "/usr/bin/rrdtool".to_string()
        } else {
            binary
        },
        proc: None,
        started: false,
        startup: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    }))
}

fn compile(tree: &ConfigTree) -> Result<(Scoped<RrdConf>, Vec<Db>), Vec<Diagnostic>> {
    let mut dbs = Vec::new();
    let conf = Scoped::build(tree, RrdConf::default(), &["rrdtool.db-name"], |key, d| {
        let path = get_str(key, &d.value)?;
        if path.trim().is_empty() {
            return Ok(None);
        }
        dbs.push(Db {
            path: path.to_string(),
            counts: Counters::default(),
        });
        Ok(Some(dbs.len() - 1))
    })?;
    Ok((conf, dbs))
}

/// Does `path` need a `create` (missing or empty), may it be updated at
/// all (not a regular file: logged, skipped)?
enum DbFile {
    Missing,
    Ready,
    NotRegular,
}

fn db_file(path: &str) -> DbFile {
    match std::fs::metadata(path) {
        Err(_) => DbFile::Missing,
        Ok(m) if !m.is_file() => DbFile::NotRegular,
        Ok(m) if m.len() == 0 => DbFile::Missing,
        Ok(_) => DbFile::Ready,
    }
}

impl Proc {
    fn spawn(binary: &str) -> std::io::Result<Proc> {
        let mut child = Command::new(binary)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(std::io::Error::other("no pipes"));
        };
        let _ = crate::sockets::set_nonblocking(stdin.as_raw_fd());
        let _ = crate::sockets::set_nonblocking(stdout.as_raw_fd());
        Ok(Proc {
            child,
            stdin,
            stdout,
            out: Vec::new(),
            line: Vec::new(),
            pending: VecDeque::new(),
        })
    }

    /// Queue a command; false when the queue is full.
    fn send(&mut self, cmd: &str) -> bool {
        if self.out.len() + cmd.len() > MAX_OUT {
            return false;
        }
        self.out.extend_from_slice(cmd.as_bytes());
        true
    }

    /// Write what the pipe takes; false on a write error.
    fn flush(&mut self) -> bool {
        while !self.out.is_empty() {
            match self.stdin.write(&self.out) {
                Ok(0) => return false,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Read the available answer lines; Err on EOF or a read error.
    fn read_answers(&mut self) -> Result<Vec<String>, ()> {
        let mut buf = [0u8; 4096];
        let mut lines = Vec::new();
        loop {
            match self.stdout.read(&mut buf) {
                Ok(0) => return Err(()),
                Ok(n) => {
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            let l = String::from_utf8_lossy(&self.line).into_owned();
                            self.line.clear();
                            if l.starts_with("OK") || l.starts_with("ERROR") {
                                lines.push(l);
                            }
                        } else if self.line.len() < MAX_LINE {
                            self.line.push(b);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(lines),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
    }
}

impl ModRrdtool {
    /// lighttpd `mod_rrd_fatal_error`: stop using the child (closing its
    /// pipes ends it); counters still in flight are given back.
    fn fatal(&mut self) {
        if let Some(p) = self.proc.take() {
            for pending in p.pending {
                if let Pending::Update { db, counts, .. } = pending {
                    self.dbs[db].counts.add(&counts);
                }
            }
        }
    }

    /// Handle the answers that arrived.
    fn collect(&mut self, now: i64) {
        let Some(p) = self.proc.as_mut() else { return };
        let answers = match p.read_answers() {
            Ok(a) => a,
            Err(()) => {
                log_error!("rrdtool-read: failed");
                return self.fatal();
            }
        };
        for answer in answers {
            let Some(p) = self.proc.as_mut() else { return };
            let Some(pending) = p.pending.pop_front() else {
                continue;
            };
            let ok = answer.starts_with("OK");
            match pending {
                Pending::Create { cmd } if !ok => {
                    log_error!("rrdtool-response: {} {}", cmd.trim_end(), answer);
                    if let Some(Pending::Update { skip, .. }) = p.pending.front_mut() {
                        *skip = true;
                    }
                }
                Pending::Create { .. } => {}
                Pending::Update { .. } if ok => {}
                Pending::Update {
                    cmd,
                    db,
                    counts,
                    skip,
                } => {
                    self.dbs[db].counts.add(&counts);
                    let early =
                        answer.contains("(minimum one second step)") && now - self.startup < 3;
                    if !skip && !early {
                        log_error!("rrdtool-response: {} {}", cmd.trim_end(), answer);
                        return self.fatal();
                    }
                }
            }
        }
    }

    /// At a full minute: (re)start the child if needed and send every db's
    /// create (if missing) and update.
    fn write_data(&mut self) {
        if self.proc.is_none() {
            match Proc::spawn(&self.binary) {
                Ok(p) => self.proc = Some(p),
                Err(e) => {
                    log_error!("fork/exec({}): {}", self.binary, e);
                    return;
                }
            }
        }
        let Some(p) = self.proc.as_mut() else { return };
        if !p.pending.is_empty() {
            log_error!("rrdtool-read: failed");
            return self.fatal();
        }
        for (i, db) in self.dbs.iter_mut().enumerate() {
            match db_file(&db.path) {
                DbFile::NotRegular => {
                    log_error!("not a regular file: {}", db.path);
                    continue;
                }
                DbFile::Missing => {
                    let cmd = create_command(&db.path);
                    if !p.send(&cmd) {
                        break;
                    }
                    p.pending.push_back(Pending::Create { cmd });
                }
                DbFile::Ready => {}
            }
            let cmd = update_command(&db.path, &db.counts);
            if !p.send(&cmd) {
                break;
            }
            let counts = std::mem::take(&mut db.counts);
            p.pending.push_back(Pending::Update {
                cmd,
                db: i,
                counts,
                skip: false,
            });
        }
        if !p.flush() {
            log_error!("rrdtool-write: failed");
            self.fatal();
        }
    }
}

impl Module for ModRrdtool {
    fn name(&self) -> &'static str {
        "mod_rrdtool"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::RequestDone, Hook::Trigger, Hook::Waitpid]
    }

    fn request_done(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if !self.started {
            return Flow::GoOn;
        }
        if let Some(db) = r.resolve(&self.conf).0.and_then(|i| self.dbs.get_mut(i)) {
            db.counts.requests += 1;
            db.counts.bytes_out += r.bytes_out;
            db.counts.bytes_in += r.bytes_in + r.body.received;
        }
        Flow::GoOn
    }

    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        if self.dbs.is_empty() {
            return Flow::GoOn;
        }
        if !self.started {
            // lighttpd starts rrdtool at set_defaults; here at the first
            // second of the server (never while checking the config).
            self.started = true;
            match Proc::spawn(&self.binary) {
                Ok(p) => self.proc = Some(p),
                Err(e) => log_error!("fork/exec({}): {}", self.binary, e),
            }
        }
        if let Some(p) = self.proc.as_mut() {
            if !p.flush() {
                log_error!("rrdtool-write: failed");
                self.fatal();
            }
        }
        self.collect(cx.now);
        if cx.now % 60 == 0 {
            self.write_data();
        }
        Flow::GoOn
    }

    fn waitpid(&mut self, pid: i32, _status: i32, _cx: &mut Ctx) -> Flow {
        match &self.proc {
            Some(p) if p.child.id() as i32 == pid => {
                self.fatal();
                Flow::Finished
            }
            _ => Flow::GoOn,
        }
    }
}

#[cfg(test)]
mod tests;
