//! The server under test for one case: a private copy of the fixture document root (with
//! fixed modification times, so Last-Modified and listings are reproducible), the config
//! (compat-tests/base.conf + the case's snippet, placeholders filled in), and the process,
//! started with `-D -f` and killed by pid when the case ends (stopped with SIGTERM first
//! when the case compares files the server wrote).

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Modification time given to every fixture file and directory: 2024-01-02 03:04:05 UTC.
const FIXED_MTIME: u64 = 1_704_164_645;

/// A case's private directory and ports.
pub struct Fixture {
    pub dir: PathBuf,
    pub docroot: PathBuf,
    pub port: u16,
    pub port2: u16,
}

impl Fixture {
    /// Copies `source` into a fresh temporary directory and picks two free ports.
    pub fn new(case: &str, source: &Path) -> Result<Fixture, String> {
        let dir =
            std::env::temp_dir().join(format!("lighttpd-compat-{}-{case}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let docroot = dir.join("docroot");
        copy_tree(source, &docroot).map_err(|e| format!("copying {}: {e}", source.display()))?;
        Ok(Fixture {
            dir,
            docroot,
            port: free_port()?,
            port2: free_port()?,
        })
    }

    /// Replaces the config placeholders `@PORT@ @PORT2@ @DOCROOT@ @TMP@`.
    pub fn fill(&self, text: &str) -> String {
        text.replace("@PORT2@", &self.port2.to_string())
            .replace("@PORT@", &self.port.to_string())
            .replace("@DOCROOT@", &self.docroot.to_string_lossy())
            .replace("@TMP@", &self.dir.to_string_lossy())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Ports handed out in this run: the kernel may give a just-released port to the next
/// bind, and two parallel cases must never start servers on the same port.
static PORTS_USED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn free_port() -> Result<u16, String> {
    for _ in 0..100 {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| e.to_string())?;
        let mut used = PORTS_USED.lock().map_err(|_| "port registry poisoned")?;
        if used.insert(port) {
            return Ok(port);
        }
    }
    Err("no unused free port after 100 tries".into())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
            set_fixed_mtime(&target)?;
        }
    }
    set_fixed_mtime(to)
}

fn set_fixed_mtime(path: &Path) -> std::io::Result<()> {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_MTIME);
    fs::File::open(path)?.set_times(fs::FileTimes::new().set_modified(time).set_accessed(time))
}

/// A running server process; killed and reaped on drop.
pub struct Server {
    child: Child,
}

impl Server {
    /// Writes `config` to the fixture, starts `exe -D -f <config>` and waits until it
    /// accepts connections on the fixture's port.
    pub fn start(exe: &Path, fixture: &Fixture, config: &str) -> Result<Server, String> {
        let conf = fixture.dir.join("lighttpd.conf");
        fs::write(&conf, config).map_err(|e| e.to_string())?;
        let log = |name: &str| {
            fs::File::create(fixture.dir.join(name))
                .map(Stdio::from)
                .map_err(|e| e.to_string())
        };
        let child = Command::new(exe)
            .arg("-D")
            .arg("-f")
            .arg(&conf)
            .current_dir(&fixture.dir)
            .stdin(Stdio::null())
            .stdout(log("stdout.log")?)
            .stderr(log("stderr.log")?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut server = Server { child };
        server.wait_ready(fixture)?;
        Ok(server)
    }

    fn wait_ready(&mut self, fixture: &Fixture) -> Result<(), String> {
        let address = SocketAddr::from(([127, 0, 0, 1], fixture.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "server exited ({status}): {}",
                    stderr_head(fixture)
                ));
            }
            match listener_owned_by(self.child.id(), fixture.port) {
                Some(true) => return Ok(()),
                Some(false) => {}
                None if TcpStream::connect_timeout(&address, Duration::from_millis(200))
                    .is_ok() =>
                {
                    return Ok(())
                }
                None => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "server not accepting on port {} after 10 s: {}",
            fixture.port,
            stderr_head(fixture)
        ))
    }

    /// Stops the server with SIGTERM (lighttpd flushes its logs then) and waits up to
    /// 10 s for it to exit; a server still running then is killed and that is an error.
    pub fn stop(mut self) -> Result<(), String> {
        // Signal only an unreaped child: a reaped one's pid may be reused.
        if !self.alive() {
            return Ok(());
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.alive() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("server did not exit within 10 s of SIGTERM".into())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Whether process `pid` holds the listening socket on 127.0.0.1:`port` (from /proc), so a
/// server that lost the port to another process is never mistaken for ready; `None` when
/// /proc cannot tell (then a connect probe decides).
fn listener_owned_by(pid: u32, port: u16) -> Option<bool> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let listening = fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A");
            listening.then(|| fields.get(9).map(|inode| format!("socket:[{inode}]")))?
        })
        .collect();
    if inodes.is_empty() {
        return Some(false);
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let owned = fds
        .filter_map(|fd| fd.ok().and_then(|fd| fs::read_link(fd.path()).ok()))
        .any(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        });
    Some(owned)
}

fn stderr_head(fixture: &Fixture) -> String {
    let mut text = String::new();
    if let Ok(file) = fs::File::open(fixture.dir.join("stderr.log")) {
        let _ = file.take(400).read_to_string(&mut text);
    }
    text.trim().replace('\n', " | ")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
