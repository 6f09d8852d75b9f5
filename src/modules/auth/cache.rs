//! `auth.cache` (lighttpd mod_auth.c `http_auth_cache_*`): successful
//! credentials kept per `auth.cache` directive for `max-age` seconds
//! (default 600), so the backend file is not read on every request.
//!
//! As lighttpd: Basic entries hold the password of one user under one
//! `auth.require` entry; a cached user is checked against the cached
//! password only (a password changed in the file takes effect after
//! max-age); Digest entries hold the HA1 the backend gave. Expired
//! entries are dropped every 8 seconds by the trigger hook. Difference:
//! an entry older than max-age is also ignored at lookup (lighttpd may use
//! it until the next cleanup), and the cache holds at most
//! [`MAX_ENTRIES`] entries (lighttpd: unbounded).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{constant_eq, Require, UserDb};
use crate::config::value::Value;

/// Entries kept at most (new ones are not cached while full).
pub const MAX_ENTRIES: usize = 16 * 1024;
/// Default `max-age`.
pub const DEFAULT_MAX_AGE: i64 = 600;

/// What identifies an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// (identity of the `auth.require` entry, user).
    Basic(usize, String),
    /// (realm, user or userhash, algorithm, is userhash).
    Digest(String, String, u8, bool),
}

/// What an entry remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Password(Vec<u8>),
    /// HA1 and the real user name.
    Ha1(Vec<u8>, String),
}

#[derive(Debug)]
struct Entry {
    ctime: i64,
    secret: Secret,
}

/// One `auth.cache` directive's cache.
#[derive(Debug)]
pub struct AuthCache {
    pub max_age: i64,
    entries: HashMap<Key, Entry>,
}

impl AuthCache {
    pub fn new(max_age: i64) -> AuthCache {
        AuthCache {
            max_age,
            entries: HashMap::new(),
        }
    }

    /// The live entry for `key`.
    pub fn get(&self, key: &Key, now: i64) -> Option<&Secret> {
        self.entries
            .get(key)
            .filter(|e| now - e.ctime <= self.max_age)
            .map(|e| &e.secret)
    }

    /// Remember a successful check.
    pub fn insert(&mut self, key: Key, secret: Secret, now: i64) {
        if self.entries.len() >= MAX_ENTRIES {
            self.purge(now);
            if self.entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        self.entries.insert(key, Entry { ctime: now, secret });
    }

    /// Drop entries older than max-age (lighttpd `mod_auth_periodic_cleanup`).
    pub fn purge(&mut self, now: i64) {
        let max_age = self.max_age;
        self.entries.retain(|_, e| now - e.ctime <= max_age);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A shared handle on one directive's cache (compared by identity).
#[derive(Debug, Clone)]
pub struct CacheRef(pub Rc<RefCell<AuthCache>>);

impl PartialEq for CacheRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CacheRef {}

/// `auth.cache = ( "max-age" => "600" )`: max-age as lighttpd's
/// `config_plugin_value_to_int32` reads it (600 when absent or invalid).
pub fn parse_max_age(v: &Value) -> i64 {
    let Some(arr) = v.as_array() else {
        return DEFAULT_MAX_AGE;
    };
    let found = arr
        .items
        .iter()
        .find(|(k, _)| k.as_deref() == Some("max-age"));
    match found.map(|(_, v)| v) {
        Some(Value::Int(n)) => i64::from(*n),
        Some(Value::Str(s)) => s.parse::<i32>().map_or(DEFAULT_MAX_AGE, i64::from),
        _ => DEFAULT_MAX_AGE,
    }
}

/// A backend with a cache in front of it.
pub struct CachedDb<'a> {
    pub inner: &'a dyn UserDb,
    pub cache: &'a RefCell<AuthCache>,
    pub now: i64,
}

/// The identity of an `auth.require` entry (lighttpd hashes its pointer;
/// the entries live as long as the configuration).
fn require_id(require: &Require) -> usize {
    require as *const Require as usize
}

impl UserDb for CachedDb<'_> {
    fn basic(&self, require: &Require, user: &str, pw: &str) -> bool {
        let key = Key::Basic(require_id(require), user.to_string());
        if let Some(Secret::Password(saved)) = self.cache.borrow().get(&key, self.now) {
            return constant_eq(saved, pw.as_bytes());
        }
        let ok = self.inner.basic(require, user, pw);
        if ok {
            let secret = Secret::Password(pw.as_bytes().to_vec());
            self.cache.borrow_mut().insert(key, secret, self.now);
        }
        ok
    }

    fn ha1(&self, algo: u8, user: &str, realm: &str, userhash: bool) -> Option<(Vec<u8>, String)> {
        let key = Key::Digest(realm.to_string(), user.to_string(), algo, userhash);
        if let Some(Secret::Ha1(ha1, real)) = self.cache.borrow().get(&key, self.now) {
            return Some((ha1.clone(), real.clone()));
        }
        let (ha1, real) = self.inner.ha1(algo, user, realm, userhash)?;
        let secret = Secret::Ha1(ha1.clone(), real.clone());
        self.cache.borrow_mut().insert(key, secret, self.now);
        Some((ha1, real))
    }

    fn has_digest(&self) -> bool {
        self.inner.has_digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A backend that counts its calls and knows alice:secret.
    struct Counting {
        calls: Cell<u32>,
        password: RefCell<String>,
    }

    impl UserDb for Counting {
        fn basic(&self, _r: &Require, user: &str, pw: &str) -> bool {
            self.calls.set(self.calls.get() + 1);
            user == "alice" && pw == *self.password.borrow()
        }
        fn ha1(&self, _a: u8, user: &str, _realm: &str, _uh: bool) -> Option<(Vec<u8>, String)> {
            self.calls.set(self.calls.get() + 1);
            (user == "alice").then(|| (vec![1, 2, 3], "alice".to_string()))
        }
        fn has_digest(&self) -> bool {
            true
        }
    }

    fn require() -> Require {
        Require {
            prefix: "/".into(),
            scheme: super::super::Scheme::Basic,
            realm: "r".into(),
            algorithms: super::super::MD5,
            nonce_secret: None,
            userhash: false,
            valid_user: true,
            users: Vec::new(),
            groups: Vec::new(),
            hosts: Vec::new(),
        }
    }

    #[test]
    fn basic_hits_skip_the_backend_until_max_age() {
        let backend = Counting {
            calls: Cell::new(0),
            password: RefCell::new("secret".into()),
        };
        let cache = RefCell::new(AuthCache::new(10));
        let req = require();
        let db = |now| CachedDb {
            inner: &backend,
            cache: &cache,
            now,
        };
        assert!(
            !db(0).basic(&req, "alice", "wrong"),
            "failures are not cached"
        );
        assert!(db(0).basic(&req, "alice", "secret"));
        assert_eq!((backend.calls.get(), cache.borrow().len()), (2, 1));
        *backend.password.borrow_mut() = "new".into();
        assert!(db(5).basic(&req, "alice", "secret"), "cached password");
        assert!(
            !db(5).basic(&req, "alice", "new"),
            "cache answers for the user"
        );
        assert_eq!(backend.calls.get(), 2);
        assert!(
            !db(11).basic(&req, "alice", "secret"),
            "expired: backend again"
        );
        assert!(db(11).basic(&req, "alice", "new"));
        assert_eq!(backend.calls.get(), 4);
        let other = require();
        assert!(
            db(11).basic(&other, "alice", "new"),
            "another require entry"
        );
        assert_eq!(backend.calls.get(), 5);
        cache.borrow_mut().purge(30);
        assert!(cache.borrow().is_empty());
    }

    #[test]
    fn digest_ha1_is_cached_per_realm_and_algorithm() {
        let backend = Counting {
            calls: Cell::new(0),
            password: RefCell::new(String::new()),
        };
        let cache = RefCell::new(AuthCache::new(600));
        let db = CachedDb {
            inner: &backend,
            cache: &cache,
            now: 0,
        };
        assert!(db.ha1(1, "alice", "r", false).is_some());
        assert!(db.ha1(1, "alice", "r", false).is_some());
        assert_eq!(backend.calls.get(), 1);
        assert!(db.ha1(2, "alice", "r", false).is_some());
        assert!(db.ha1(1, "bob", "r", false).is_none());
        assert!(db.ha1(1, "bob", "r", false).is_none());
        assert_eq!(backend.calls.get(), 4, "misses are not cached");
    }

    #[test]
    fn bounded_and_max_age_parsing() {
        let mut c = AuthCache::new(5);
        for i in 0..MAX_ENTRIES + 10 {
            c.insert(
                Key::Basic(i, String::new()),
                Secret::Password(Vec::new()),
                0,
            );
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        c.insert(Key::Basic(0, "x".into()), Secret::Password(Vec::new()), 100);
        assert_eq!(c.len(), 1, "full: expired entries dropped first");
        let kv = |k: &str, v: Value| {
            Value::Array(crate::config::value::Array {
                items: vec![(Some(k.to_string()), v)],
            })
        };
        assert_eq!(parse_max_age(&kv("max-age", Value::Str("30".into()))), 30);
        assert_eq!(parse_max_age(&kv("max-age", Value::Int(7))), 7);
        assert_eq!(parse_max_age(&kv("max-age", Value::Str("x".into()))), 600);
        assert_eq!(parse_max_age(&kv("other", Value::Int(7))), 600);
        assert_eq!(parse_max_age(&Value::Str("x".into())), 600);
    }
}
