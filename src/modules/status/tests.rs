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

#[test]
fn statistics_counters_become_prometheus_metrics() {
    let counters = [
        ("fastcgi.requests".to_string(), 7),
        ("gw.active-requests".to_string(), 1),
        ("gw.backend.php.load".to_string(), 2),
        ("gw.backend.php.0.connected".to_string(), 5),
        ("gw.backend.my.app\"x.12.died".to_string(), 0),
        ("gw.backend.odd".to_string(), 3),
    ];
    let text = render_statistics_prometheus(&counters);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "lighttpd_fastcgi_requests 7",
            "lighttpd_gw_active_requests 1",
            "lighttpd_gw_backend_load{backend=\"php\"} 2",
            "lighttpd_gw_backend_process_connected{backend=\"php\",process=\"0\"} 5",
            "lighttpd_gw_backend_process_died{backend=\"my.app\\\"x\",process=\"12\"} 0",
            "lighttpd_gw_backend_odd 3",
        ]
    );
}
