use super::*;

#[test]
fn uptime_and_idle_slots() {
    let Ok(tree) = crate::config::load_str("t.conf", b"server.max-connections = 10\n") else {
        panic!("config");
    };
    let init = ModuleInit {
        tree: &tree,
        modules: &["mod_status".to_string()],
    };
    assert!(new(&init).is_ok());
    let m = ModStatus {
        conf: compile(&tree).expect("empty config"),
        modules: Vec::new(),
        started: 100,
        max_conns: 10,
        conns: HashMap::new(),
        accepted: 0,
        requests: 3,
        traffic: 0,
        requests_5s: [0; 5],
        traffic_5s: [0; 5],
        this_second: (0, 0),
        slot: 0,
    };
    let s = m.stats(105);
    assert_eq!((s.uptime, s.busy, s.idle, s.requests), (5, 0, 10, 3));
}
