//! mod_userdir (lighttpd src/mod_userdir.c): `/~user/rest` served from
//! `<home>/<userdir.path>/rest` (home from the passwd database) or from
//! `<userdir.basepath>/[<first letter>/]<user>/<userdir.path>/rest`.
//! `/~user` without a slash is redirected (301) to `/~user/`.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_list, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserdirConf {
    /// None = module inactive.
    pub path: Option<String>,
    pub basepath: Option<String>,
    pub exclude_user: Vec<String>,
    pub include_user: Vec<String>,
    pub letterhomes: bool,
    pub active: bool,
}

impl Default for UserdirConf {
    fn default() -> Self {
        UserdirConf {
            path: None,
            basepath: None,
            exclude_user: Vec::new(),
            include_user: Vec::new(),
            letterhomes: false,
            active: true,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Item {
    Path(String),
    Basepath(Option<String>),
    Exclude(Vec<String>),
    Include(Vec<String>),
    Letterhomes(bool),
    Active(bool),
}

impl Patch for UserdirConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Path(p) => self.path = Some(p.clone()),
            Item::Basepath(p) => self.basepath = p.clone(),
            Item::Exclude(l) => self.exclude_user = l.clone(),
            Item::Include(l) => self.include_user = l.clone(),
            Item::Letterhomes(b) => self.letterhomes = *b,
            Item::Active(b) => self.active = *b,
        }
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<UserdirConf>, Vec<Diagnostic>> {
    let keys = [
        "userdir.path",
        "userdir.exclude-user",
        "userdir.include-user",
        "userdir.basepath",
        "userdir.letterhomes",
        "userdir.active",
    ];
    Scoped::build(tree, UserdirConf::default(), &keys, |key, d| {
        let v = &d.value;
        Ok(match key {
            "userdir.path" => Item::Path(get_str(key, v)?.to_string()),
            "userdir.basepath" => {
                let s = get_str(key, v)?;
                Item::Basepath((!s.is_empty()).then(|| s.to_string()))
            }
            "userdir.exclude-user" => Item::Exclude(get_list(key, v)?),
            "userdir.include-user" => Item::Include(get_list(key, v)?),
            "userdir.letterhomes" => Item::Letterhomes(get_bool(key, v)?),
            _ => Item::Active(get_bool(key, v)?),
        })
    })
}

/// What the physical hook does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Userdir {
    /// Not a userdir request (or not allowed): leave it.
    Ignore,
    /// `/~user` → 301 to the directory.
    RedirectToDir,
    /// (basedir, physical path).
    Path(String, String),
}

/// Join like lighttpd `buffer_append_path_len`: exactly one `/` between.
fn join(a: &str, b: &str) -> String {
    match (a.ends_with('/'), b.starts_with('/')) {
        (true, true) => format!("{a}{}", &b[1..]),
        (false, false) => format!("{a}/{b}"),
        _ => format!("{a}{b}"),
    }
}

fn valid_name(u: &str) -> bool {
    u != "."
        && u != ".."
        && u.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Decide for `uri_path`; `home_of` looks a user's home directory up
/// (passwd) and `is_dir` checks a directory.
pub fn resolve(
    conf: &UserdirConf,
    uri_path: &str,
    lowercase: bool,
    home_of: impl Fn(&str) -> Option<String>,
    is_dir: impl Fn(&str) -> bool,
) -> Userdir {
    let Some(after) = uri_path.strip_prefix("/~") else {
        return Userdir::Ignore;
    };
    let Some(path) = conf.path.as_deref().filter(|_| conf.active) else {
        return Userdir::Ignore;
    };
    let Some((user, rest)) = after.split_once('/') else {
        return if after.is_empty() {
            Userdir::Ignore
        } else {
            Userdir::RedirectToDir
        };
    };
    let excluded = conf.exclude_user.iter().any(|x| {
        if lowercase {
            x.eq_ignore_ascii_case(user)
        } else {
            x == user
        }
    });
    if user.is_empty() || user.len() >= 256 || excluded {
        return Userdir::Ignore;
    }
    if !conf.include_user.is_empty() && !conf.include_user.iter().any(|x| x == user) {
        return Userdir::Ignore;
    }
    let dir = match &conf.basepath {
        None => {
            let Some(home) = home_of(user) else {
                return Userdir::Ignore;
            };
            let d = join(&home, path);
            if !is_dir(&d) {
                return Userdir::Ignore;
            }
            d
        }
        Some(base) => {
            if !valid_name(user) {
                return Userdir::Ignore;
            }
            let u = if lowercase {
                user.to_ascii_lowercase()
            } else {
                user.to_string()
            };
            let mut d = base.clone();
            if conf.letterhomes {
                if u.starts_with('.') {
                    return Userdir::Ignore;
                }
                d = join(&d, &u[..1]);
            }
            join(&join(&d, &u), path)
        }
    };
    let mut phys = dir.clone();
    if !phys.ends_with('/') {
        phys.push('/');
    }
    phys.push_str(rest);
    Userdir::Path(dir, phys)
}

/// The home directory of a user from the passwd database.
pub fn passwd_home(user: &str) -> Option<String> {
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
}

/// The module.
pub struct ModUserdir {
    conf: Scoped<UserdirConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModUserdir {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModUserdir {
    fn name(&self) -> &'static str {
        "mod_userdir"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Physical]
    }

    fn physical(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if !r.uri.path.starts_with("/~") {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let is_dir = |p: &str| std::fs::metadata(p).is_ok_and(|m| m.is_dir());
        let lc = r.conf.force_lowercase_filenames;
        match resolve(&conf, &r.uri.path, lc, passwd_home, is_dir) {
            Userdir::Ignore => Flow::GoOn,
            Userdir::RedirectToDir => {
                let mut loc = crate::http::uri::url_encode_path(&r.uri.path);
                loc.push('/');
                if !r.uri.query.is_empty() {
                    loc.push('?');
                    loc.push_str(&r.uri.query);
                }
                r.resp.headers.set("Location", &loc);
                r.resp.complete = true;
                r.finish_with(301)
            }
            Userdir::Path(basedir, path) => {
                r.physical.basedir = basedir;
                r.physical.path = path;
                Flow::GoOn
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> UserdirConf {
        UserdirConf {
            path: Some("public_html".into()),
            ..UserdirConf::default()
        }
    }

    fn home(u: &str) -> Option<String> {
        (u == "bob").then(|| "/home/bob".to_string())
    }

    #[test]
    fn passwd_homes() {
        let c = conf();
        let r = |p: &str| resolve(&c, p, false, home, |d| d == "/home/bob/public_html");
        assert_eq!(
            r("/~bob/a/b.html"),
            Userdir::Path(
                "/home/bob/public_html".into(),
                "/home/bob/public_html/a/b.html".into()
            )
        );
        assert_eq!(r("/~bob"), Userdir::RedirectToDir);
        assert_eq!(r("/~"), Userdir::Ignore);
        assert_eq!(r("/~/x"), Userdir::Ignore);
        assert_eq!(r("/~alice/x"), Userdir::Ignore);
        assert_eq!(r("/bob/x"), Userdir::Ignore);
        let c = UserdirConf {
            exclude_user: vec!["BOB".into()],
            ..conf()
        };
        assert_eq!(resolve(&c, "/~bob/", true, home, |_| true), Userdir::Ignore);
        assert_ne!(
            resolve(&c, "/~bob/", false, home, |_| true),
            Userdir::Ignore
        );
        let c = UserdirConf {
            include_user: vec!["carol".into()],
            ..conf()
        };
        assert_eq!(
            resolve(&c, "/~bob/", false, home, |_| true),
            Userdir::Ignore
        );
        let c = UserdirConf {
            active: false,
            ..conf()
        };
        assert_eq!(
            resolve(&c, "/~bob/", false, home, |_| true),
            Userdir::Ignore
        );
    }

    #[test]
    fn basepath_names_are_restricted() {
        let c = UserdirConf {
            basepath: Some("/u".into()),
            letterhomes: true,
            ..conf()
        };
        let r = |p: &str| resolve(&c, p, true, |_| None, |_| false);
        assert_eq!(
            r("/~Bob/x"),
            Userdir::Path(
                "/u/b/bob/public_html".into(),
                "/u/b/bob/public_html/x".into()
            )
        );
        assert_eq!(r("/~../x"), Userdir::Ignore);
        assert_eq!(r("/~.x/y"), Userdir::Ignore);
        assert_eq!(r("/~a b/y"), Userdir::Ignore);
        let c = UserdirConf {
            basepath: Some("/u/".into()),
            path: Some("".into()),
            ..conf()
        };
        assert_eq!(
            resolve(&c, "/~x/", false, |_| None, |_| false),
            Userdir::Path("/u/x/".into(), "/u/x/".into())
        );
    }
}
