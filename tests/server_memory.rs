//! Idle memory: once set up, the server gives back the pages of its own
//! executable that only startup read (`sys::release_startup_memory`).

mod common;

use std::time::{Duration, Instant};

use common::Server;

/// (Size, Rss) in KiB of the executable's mapping at file offset 0: ELF
/// headers, the relocation table the dynamic linker reads whole at startup,
/// constants.
fn first_segment(pid: i32) -> Option<(u64, u64)> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut lines = smaps.lines();
    while let Some(line) = lines.next() {
        let mut fields = line.split_whitespace();
        let (Some(_range), Some(perms), Some(offset)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if perms != "r--p" || offset != "00000000" || fields.nth(2) != exe.to_str() {
            continue;
        }
        let (mut size, mut rss) = (None, None);
        for field in lines.by_ref().take_while(|l| !l.contains(" r--p ")) {
            let kib = || field.split_whitespace().nth(1)?.parse::<u64>().ok();
            if field.starts_with("Size:") {
                size = kib();
            } else if field.starts_with("Rss:") {
                rss = kib();
            }
            if size.is_some() && rss.is_some() {
                break;
            }
        }
        return Some((size?, rss?));
    }
    None
}

#[test]
fn startup_only_pages_of_the_binary_are_given_back() {
    let mut server = Server::start("", &[("index.html", b"hello\n")]);
    assert_eq!(server.get("/index.html").status, 200);
    // The relocation table alone is over a quarter of this segment and is
    // read whole while the process loads; given back, a fifth is plenty.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        last = first_segment(server.pid());
        if matches!(last, Some((size, rss)) if rss * 5 < size) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    let (size, rss) = last.expect("the executable's first mapping in smaps");
    assert!(rss * 5 < size, "{rss} of {size} KiB still resident");
}
