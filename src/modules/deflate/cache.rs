//! `deflate.cache-dir` (lighttpd src/mod_deflate.c
//! `mod_deflate_cache_file_name` and friends): compressed copies of static
//! files kept on disk. A file's copy is `<cache-dir>/<physical path>-<ETag
//! without quotes>`, the ETag already carrying the encoding suffix
//! (`/var/cache/lighttpd/srv/www/a.css-1234-56-789-gzip`), so a changed
//! file (new ETag) gets a new name. A copy is written to `<name>.<pid>`
//! and renamed into place; directories are created mode 0700.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The cache file for a physical path and the response's (suffixed)
/// ETag: `cache_dir` and the path joined by one `/`.
pub fn file_name(cache_dir: &str, physical: &str, etag: &str) -> String {
    // lighttpd drops the ETag's first and last byte (its quotes)
    let inner = etag.get(1..etag.len().saturating_sub(1)).unwrap_or("");
    format!(
        "{}/{}-{inner}",
        cache_dir.trim_end_matches('/'),
        physical.trim_start_matches('/')
    )
}

/// Create the directories above `path` (mode 0700), as `mkdir -p`.
pub fn make_parents(path: &str) -> std::io::Result<()> {
    let Some(parent) = Path::new(path).parent() else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
}

/// Create the cache directory itself if missing (config time).
pub fn make_dir(dir: &str) -> std::io::Result<()> {
    if std::fs::metadata(dir).is_ok() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// An existing cached copy: the open file and its length.
pub fn lookup(name: &str) -> Option<(File, u64)> {
    let file = File::open(name).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta.len()))
}

/// Write a compressed copy (temp file, then rename); the open copy.
pub fn store(name: &str, data: &[u8]) -> std::io::Result<(File, u64)> {
    make_parents(name)?;
    let tmp = format!("{name}.{}", std::process::id());
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    if let Err(e) = f.write_all(data).and_then(|()| std::fs::rename(&tmp, name)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((f, data.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_dir_path_and_etag() {
        assert_eq!(
            file_name("/c/", "/srv/www/a.css", "\"12-34-gzip\""),
            "/c/srv/www/a.css-12-34-gzip"
        );
        assert_eq!(file_name("/c", "/x", "\"e-br\""), "/c/x-e-br");
    }

    #[test]
    fn store_then_lookup() {
        let dir = std::env::temp_dir().join(format!("lrs-deflate-cache-{}", std::process::id()));
        let dir = dir.to_string_lossy().into_owned();
        let name = file_name(&dir, "/srv/www/deep/a.txt", "\"1-2-gzip\"");
        assert!(lookup(&name).is_none());
        let (_, len) = store(&name, b"compressed").expect("store");
        assert_eq!(len, 10);
        let (_, len) = lookup(&name).expect("cached");
        assert_eq!(len, 10);
        assert!(!Path::new(&format!("{name}.{}", std::process::id())).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
