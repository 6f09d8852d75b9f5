//! Pipeline order tests: the uri slot rule and reverse reset order.

use super::*;
use std::cell::RefCell;
use std::rc::Rc;

struct Probe {
    name: &'static str,
    hooks: &'static [Hook],
    log: Rc<RefCell<Vec<String>>>,
    answer: Flow,
}

impl Module for Probe {
    fn name(&self) -> &'static str {
        self.name
    }
    fn hooks(&self) -> &'static [Hook] {
        self.hooks
    }
    fn uri_raw(&mut self, _r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.log.borrow_mut().push(format!("{}:raw", self.name));
        Flow::GoOn
    }
    fn uri_clean(&mut self, _r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.log.borrow_mut().push(format!("{}:clean", self.name));
        self.answer
    }
    fn request_reset(&mut self, _r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.log.borrow_mut().push(format!("{}:reset", self.name));
        Flow::GoOn
    }
}

/// A bare request (document root /tmp) for hook and handler tests.
pub(crate) fn request() -> Request {
    let tree = crate::config::load_str("test.conf", b"server.document-root = \"/tmp\"\n")
        .map_err(|_| "load")
        .unwrap();
    let compiled = crate::config::core::compile(&tree).unwrap();
    let ctx = crate::request::ReqContext {
        scheme: "http",
        remote_ip: "127.0.0.1".into(),
        remote_port: Some(1234),
        server_socket: "127.0.0.1:80".into(),
        core: Rc::new(crate::request::CoreConfs::new(compiled.core)),
        cond_tree: compiled.conds,
        now: 0,
        seq: 1,
    };
    Request::failed(400, crate::http::h1::Version::Http11, None, &ctx)
}

#[test]
fn uri_raw_hooks_run_before_every_uri_clean_and_reset_is_reversed() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let probe = |name, hooks, answer| {
        Box::new(Probe {
            name,
            hooks,
            log: log.clone(),
            answer,
        }) as Box<dyn Module>
    };
    let mut p = Pipeline::new(vec![
        probe(
            "redirect",
            &[Hook::UriClean, Hook::RequestReset],
            Flow::GoOn,
        ),
        probe("rewrite", &[Hook::UriRaw, Hook::RequestReset], Flow::GoOn),
        probe("access", &[Hook::UriClean], Flow::Finished),
        probe("never", &[Hook::UriClean], Flow::GoOn),
    ]);
    let poll = mio::Poll::new().unwrap();
    let mut cx = Ctx {
        now: 0,
        registry: poll.registry(),
        token_base: 0,
    };
    let mut r = request();
    assert_eq!(p.run(Hook::UriClean, &mut r, &mut cx), Flow::Finished);
    p.run(Hook::RequestReset, &mut r, &mut cx);
    assert_eq!(
        *log.borrow(),
        [
            "rewrite:raw",
            "redirect:clean",
            "access:clean",
            "rewrite:reset",
            "redirect:reset"
        ]
    );
}

struct Proxy;

impl Module for Proxy {
    fn name(&self) -> &'static str {
        "proxyproto"
    }
    fn hooks(&self) -> &'static [Hook] {
        &[Hook::ConnectionPreamble]
    }
    fn connection_preamble(&mut self, _c: &ConnInfo, input: &[u8], _cx: &mut Ctx) -> Preamble {
        match input.iter().position(|&b| b == b'\n') {
            _ if !input.starts_with(b"PROXY") => Preamble::NotMine,
            None => Preamble::NeedMore,
            Some(i) => Preamble::Consumed {
                len: i + 1,
                remote_ip: Some("10.0.0.1".into()),
                remote_port: Some(4321),
            },
        }
    }
}

#[test]
fn preamble_hooks_answer_in_order() {
    let mut p = Pipeline::new(vec![Box::new(Proxy)]);
    assert!(p.has(Hook::ConnectionPreamble));
    assert!(!p.has(Hook::Trigger));
    let poll = mio::Poll::new().unwrap();
    let mut cx = Ctx {
        now: 0,
        registry: poll.registry(),
        token_base: 0,
    };
    let conn = ConnInfo {
        id: 1,
        remote_ip: "127.0.0.1".into(),
        server_socket: "127.0.0.1:80".into(),
    };
    assert_eq!(
        p.run_preamble(&conn, b"GET / HTTP/1.1\r\n", &mut cx),
        Preamble::NotMine
    );
    assert_eq!(
        p.run_preamble(&conn, b"PROXY TCP4", &mut cx),
        Preamble::NeedMore
    );
    assert_eq!(
        p.run_preamble(&conn, b"PROXY TCP4 x\r\nGET", &mut cx),
        Preamble::Consumed {
            len: 14,
            remote_ip: Some("10.0.0.1".into()),
            remote_port: Some(4321)
        }
    );
}
