//! `lighttpd -p`: the evaluated configuration printed exactly as lighttpd
//! 1.4.69's `config_print` does (src/configfile.c) — 4-space indents, keys
//! padded to the block's longest key, short scalar arrays on one line (keys
//! dropped, as lighttpd does), `# block N` markers and `# end of` lines.

use super::tree::{ConfigTree, Context, CtxId};
use super::value::{Array, Value};

/// The whole `-p` output, ending with a newline.
pub fn print(tree: &ConfigTree) -> String {
    let mut out = String::new();
    print_block(tree, 0, 0, &mut out);
    out.push('\n');
    out
}

fn indent(out: &mut String, depth: usize) {
    out.push_str(&" ".repeat(depth * 4));
}

fn cond_text(c: &Context) -> String {
    match (&c.cond, c.is_else) {
        (Some(cond), false) => cond.text(),
        _ => "else".to_string(),
    }
}

fn print_block(tree: &ConfigTree, id: CtxId, depth: usize, out: &mut String) {
    let Some(ctx) = tree.contexts.get(id) else {
        return;
    };
    if id == 0 {
        out.push_str("config {\n");
    } else {
        if !ctx.is_else {
            out.push_str(&cond_text(ctx));
            out.push(' ');
        }
        out.push_str("{\n");
        indent(out, depth + 1);
        out.push_str(&format!("# block {id}\n"));
    }
    let inner = depth + 1;
    let width = ctx
        .directives
        .iter()
        .map(|d| d.key.len())
        .max()
        .unwrap_or(0);
    for d in &ctx.directives {
        indent(out, inner);
        out.push_str(&format!("{:<width$} = ", d.key));
        print_value(&d.value, inner, out);
        out.push('\n');
    }
    out.push('\n');
    for &child in &ctx.children {
        if tree.contexts.get(child).is_some_and(|c| c.prev.is_none()) {
            out.push('\n');
            indent(out, inner);
            print_block(tree, child, inner, out);
            out.push('\n');
        }
    }
    indent(out, depth);
    out.push('}');
    if id != 0 {
        out.push_str(" # end of ");
        out.push_str(&cond_text(ctx));
    }
    if let Some(next) = ctx.next {
        out.push('\n');
        indent(out, depth);
        out.push_str("else ");
        print_block(tree, next, depth, out);
    }
}

fn print_value(v: &Value, depth: usize, out: &mut String) {
    match v {
        Value::Str(s) => print_string(s, out),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Array(a) => print_array(a, depth, out),
    }
}

/// `"` + text with every `"` escaped + `"`; nothing else is escaped.
fn print_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn print_array(a: &Array, depth: usize, out: &mut String) {
    let items = &a.items;
    let scalars = items.iter().all(|(_, v)| !matches!(v, Value::Array(_)));
    if items.len() <= 5 && items.first().map_or(true, |(k, _)| k.is_none()) && scalars {
        out.push('(');
        for (i, (_, v)) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            print_value(v, depth + 1, out);
        }
        out.push(')');
        return;
    }
    let width = items
        .iter()
        .map(|(k, _)| k.as_ref().map_or(0, |k| k.len()))
        .max()
        .unwrap_or(0);
    out.push_str("(\n");
    for (k, v) in items {
        indent(out, depth + 1);
        if let Some(k) = k {
            out.push_str(&format!("\"{k}\"{:pad$} => ", "", pad = width - k.len()));
        }
        print_value(v, depth + 1, out);
        out.push_str(",\n");
    }
    indent(out, depth);
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    /// Print `src`, with var.CWD/var.PID replaced by fixed values.
    fn p(src: &str) -> String {
        let mut tree = load_str("t.conf", src.as_bytes())
            .map_err(|e| e.lighttpd_lines)
            .expect("loads");
        for d in &mut tree.contexts[0].directives {
            match d.key.as_str() {
                "var.CWD" => d.value = Value::Str("/".into()),
                "var.PID" => d.value = Value::Int(12345),
                _ => {}
            }
        }
        print(&tree)
    }

    #[test]
    fn example_1_values_arrays_concatenation() {
        let src = r#"# example 1: values, arrays, concatenation
var.basedir = "/srv/www"
server.document-root = basedir + "/htdocs"
server.port = 8080
server.modules = ( "mod_access", "mod_rewrite" )
server.modules += ( "mod_setenv" )
index-file.names = ( "index.html", "index.htm", )
mimetype.assign = ( ".html" => "text/html", ".css" => "text/css", "" => "application/octet-stream" )
static-file.exclude-extensions = ( ".php", ".pl", ".fcgi", ".cgi", ".sh", ".py" )
server.tag = "say \"hi\""
var.n = 3 + 4
var.s = "n=" + var.n
"#;
        let want = r#"config {
    var.CWD                        = "/"
    var.PID                        = 12345
    var.basedir                    = "/srv/www"
    server.document-root           = "/srv/www/htdocs"
    server.port                    = 8080
    server.modules                 = ("mod_access", "mod_rewrite", "mod_setenv")
    index-file.names               = ("index.html", "index.htm")
    mimetype.assign                = (
        ".html" => "text/html",
        ".css"  => "text/css",
        ""      => "application/octet-stream",
    )
    static-file.exclude-extensions = (
        ".php",
        ".pl",
        ".fcgi",
        ".cgi",
        ".sh",
        ".py",
    )
    server.tag                     = "say \"hi\""
    var.n                          = 7
    var.s                          = "n=7"

}
"#;
        assert_eq!(p(src), want);
    }

    #[test]
    fn example_2_conditions_else_nesting() {
        let src = r#"server.document-root = "/srv/www/default"
$SERVER["socket"] == "127.0.0.1:8443" {
  ssl.engine = "enable"
}
$HTTP["host"] == "example.org" {
  server.document-root = "/srv/www/example.org"
  $HTTP["url"] =~ "^/static/" {
    expire.url = ( "" => "access plus 7 days" )
  }
}
else $HTTP["host"] =~ "^(www\.)?example\.net$" {
  server.document-root = "/srv/www/example.net"
}
else {
  url.access-deny = ( "" )
}
$HTTP["remoteip"] != "10.0.0.0/8" {
  $HTTP["url"] =~ "\.php$" { url.access-deny = ( "" ) }
}
"#;
        let want = r#"config {
    var.CWD              = "/"
    var.PID              = 12345
    server.document-root = "/srv/www/default"


    $SERVER["socket"] == "127.0.0.1:8443" {
        # block 1
        ssl.engine = "enable"

    } # end of $SERVER["socket"] == "127.0.0.1:8443"

    $HTTP["host"] == "example.org" {
        # block 2
        server.document-root = "/srv/www/example.org"


        $HTTP["url"] =^ "/static/" {
            # block 3
            expire.url = (
                "" => "access plus 7 days",
            )

        } # end of $HTTP["url"] =^ "/static/"
    } # end of $HTTP["host"] == "example.org"
    else $HTTP["host"] =~ "^(www\.)?example\.net$" {
        # block 4
        server.document-root = "/srv/www/example.net"

    } # end of $HTTP["host"] =~ "^(www\.)?example\.net$"
    else {
        # block 5
        url.access-deny = ("")

    } # end of else

    $HTTP["remoteip"] != "10.0.0.0/8" {
        # block 6


        $HTTP["url"] =$ ".php" {
            # block 7
            url.access-deny = ("")

        } # end of $HTTP["url"] =$ ".php"
    } # end of $HTTP["remoteip"] != "10.0.0.0/8"
}
"#;
        assert_eq!(p(src), want);
    }

    #[test]
    fn example_3_append_reorders_and_lossy_one_line_array() {
        let src = "var.a = 1\nvar.b = 2\nvar.c = 3\nvar.a += 10\nvar.l = (\"x\", \"k\" => \"v\")\n";
        let want = "config {\n    var.CWD = \"/\"\n    var.PID = 12345\n    var.c   = 3\n    var.b   = 2\n    var.a   = 11\n    var.l   = (\"x\", \"v\")\n\n}\n";
        assert_eq!(p(src), want);
    }

    #[test]
    fn empty_block_and_nested_arrays() {
        let out = p("$HTTP[\"url\"] == \"/x\" { }\nvar.n = (\"a\" => (1, 2), \"bb\" => ())\n");
        assert!(out.contains("    $HTTP[\"url\"] == \"/x\" {\n        # block 1\n\n    } # end of $HTTP[\"url\"] == \"/x\"\n"), "{out}");
        assert!(
            out.contains(
                "    var.n   = (\n        \"a\"  => (1, 2),\n        \"bb\" => (),\n    )\n"
            ),
            "{out}"
        );
    }
}
