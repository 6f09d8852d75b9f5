//! mod_dirlisting's HTML page (lighttpd src/mod_dirlisting.c
//! `http_list_directory_header`, `http_list_directory`,
//! `http_list_directory_footer`), byte for byte. The runtime reads the
//! directory (stat follows symlinks; failures skipped) and the README/HEADER
//! files; this module filters, sorts and renders.
//!
//! The inline CSS below and `dirlist_assets/sort_script.html` (the column
//! sorting script) are the text lighttpd 1.4.69 emits (BSD-3-Clause,
//! © Jan Kneschke, Glenn Strauss), recorded from its output so listings stay
//! identical for users' stylesheets and scripts.

use crate::http::mime;
use crate::http::uri::url_encode_part;
use crate::sys::LocalTime;

/// One directory entry as read by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// The `dir-listing.*` settings and request facts the page depends on.
pub struct ListingOptions<'a> {
    /// `uri.path` of the directory (decoded), shown in the title.
    pub uri_path: &'a str,
    pub hide_dotfiles: bool,
    /// `dir-listing.show-readme` / `show-header` file names (None = off).
    pub show_readme: Option<&'a str>,
    pub hide_readme_file: bool,
    pub show_header: Option<&'a str>,
    pub hide_header_file: bool,
    /// The README / HEADER contents, when configured and readable.
    pub readme_text: Option<&'a str>,
    pub header_text: Option<&'a str>,
    pub encode_readme: bool,
    pub encode_header: bool,
    pub external_css: Option<&'a str>,
    pub external_js: Option<&'a str>,
    pub encoding: Option<&'a str>,
    pub auto_layout: bool,
    /// `dir-listing.set-footer`, else `server.tag`; None = no footer line.
    pub footer: Option<&'a str>,
    /// `mimetype.assign`, for the Type column.
    pub mimetypes: &'a mime::MimeTypes,
}

const SORT_SCRIPT: &str = include_str!("dirlist_assets/sort_script.html");

const INLINE_CSS: &str = "<style type=\"text/css\">\n\
a, a:active {text-decoration: none; color: blue;}\n\
a:visited {color: #48468F;}\n\
a:hover, a:focus {text-decoration: underline; color: red;}\n\
body {background-color: #F5F5F5;}\n\
h2 {margin-bottom: 12px;}\n\
table {margin-left: 12px;}\n\
th, td { font: 90% monospace; text-align: left;}\n\
th { font-weight: bold; padding-right: 14px; padding-bottom: 3px;}\n\
td {padding-right: 14px;}\n\
td.s, th.s {text-align: right;}\n\
div.list { background-color: white; border-top: 1px solid #646464; \
border-bottom: 1px solid #646464; padding-top: 10px; padding-bottom: 14px;}\n\
div.foot { font: 90% monospace; color: #787878; padding-top: 4px;}\n\
</style>\n";

/// Response Content-Type for a listing.
pub fn content_type(encoding: Option<&str>) -> String {
    match encoding {
        Some(e) => format!("text/html;charset={e}"),
        None => "text/html".to_string(),
    }
}

/// Should this entry be listed? (`.`/`..` never; dot-files when hidden;
/// the README/HEADER file when its hide option is on; `exclude` matches.)
pub fn is_listed(name: &str, o: &ListingOptions, exclude: &dyn Fn(&str) -> bool) -> bool {
    if name.starts_with('.') && (o.hide_dotfiles || name == "." || name == "..") {
        return false;
    }
    if o.hide_readme_file && o.show_readme == Some(name) {
        return false;
    }
    if o.hide_header_file && o.show_header == Some(name) {
        return false;
    }
    !exclude(name)
}

/// The whole listing page. `localtime` converts Unix seconds to local time
/// (`crate::sys::localtime` in the server).
pub fn render_listing(
    o: &ListingOptions,
    entries: Vec<DirEntry>,
    exclude: &dyn Fn(&str) -> bool,
    localtime: &dyn Fn(i64) -> LocalTime,
) -> String {
    let (mut dirs, mut files): (Vec<DirEntry>, Vec<DirEntry>) = entries
        .into_iter()
        .filter(|e| is_listed(&e.name, o, exclude))
        .partition(|e| e.is_dir);
    dirs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut out = String::with_capacity(2048 + 200 * (dirs.len() + files.len()));
    header(&mut out, o);
    for d in &dirs {
        out.push_str("<tr class=\"d\"><td class=\"n\"><a href=\"");
        out.push_str(&url_encode_part(d.name.as_bytes()));
        out.push_str("/\">");
        out.push_str(&xml_escape(&d.name));
        out.push_str("</a>/</td><td class=\"m\">");
        out.push_str(&format_mtime(localtime(d.mtime)));
        out.push_str("</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n");
    }
    for f in &files {
        let ctype = mime::lookup(&f.name, o.mimetypes).unwrap_or("application/octet-stream");
        out.push_str("<tr><td class=\"n\"><a href=\"");
        out.push_str(&url_encode_part(f.name.as_bytes()));
        out.push_str("\">");
        out.push_str(&xml_escape(&f.name));
        out.push_str("</a></td><td class=\"m\">");
        out.push_str(&format_mtime(localtime(f.mtime)));
        out.push_str("</td><td class=\"s\">");
        out.push_str(&format_size(f.size));
        out.push_str("</td><td class=\"t\">");
        out.push_str(ctype);
        out.push_str("</td></tr>\n");
    }
    footer(&mut out, o);
    out
}

fn header(out: &mut String, o: &ListingOptions) {
    let path = xml_escape(o.uri_path);
    if o.auto_layout {
        out.push_str("<!DOCTYPE html>\n<html>\n<head>\n");
        if let Some(enc) = o.encoding {
            out.push_str(&format!("<meta charset=\"{enc}\">\n"));
        }
        out.push_str(&format!("<title>Index of {path}</title>\n"));
        match o.external_css {
            Some(css) => out.push_str(&format!(
                "<meta name=\"viewport\" content=\"initial-scale=1\">\
<link rel=\"stylesheet\" type=\"text/css\" href=\"{css}\">\n"
            )),
            None => out.push_str(INLINE_CSS),
        }
        out.push_str("</head>\n<body>\n");
    }
    include_file(out, o.header_text, o.encode_header, "header");
    out.push_str(&format!("<h2>Index of {path}</h2>\n"));
    out.push_str(
        "<div class=\"list\">\n\
<table summary=\"Directory Listing\" cellpadding=\"0\" cellspacing=\"0\">\n\
<thead><tr><th class=\"n\">Name</th><th class=\"m\">Last Modified</th>\
<th class=\"s\">Size</th><th class=\"t\">Type</th></tr></thead>\n<tbody>\n",
    );
    if o.uri_path != "/" {
        out.push_str(
            "<tr class=\"d\"><td class=\"n\"><a href=\"../\">..</a>/</td>\
<td class=\"m\">&nbsp;</td><td class=\"s\">- &nbsp;</td><td class=\"t\">Directory</td></tr>\n",
        );
    }
}

fn footer(out: &mut String, o: &ListingOptions) {
    out.push_str("</tbody>\n</table>\n</div>\n");
    include_file(out, o.readme_text, o.encode_readme, "readme");
    if !o.auto_layout {
        return;
    }
    if let Some(f) = o.footer {
        out.push_str(&format!("<div class=\"foot\">{f}</div>\n"));
    }
    match o.external_js {
        Some(js) => out.push_str(&format!(
            "<script type=\"text/javascript\" src=\"{js}\"></script>\n"
        )),
        None => out.push_str(SORT_SCRIPT),
    }
    out.push_str("</body>\n</html>\n");
}

/// README/HEADER: nothing when empty; escaped inside `<pre class>` or raw.
fn include_file(out: &mut String, text: Option<&str>, encode: bool, class: &str) {
    match text {
        Some(t) if !t.is_empty() && encode => {
            out.push_str(&format!("<pre class=\"{class}\">"));
            out.push_str(&xml_escape(t));
            out.push_str("</pre>");
        }
        Some(t) => out.push_str(t),
        None => {}
    }
}

/// lighttpd ENCODING_MINIMAL_XML: `& < > " ' \``, DEL and control
/// characters become `&#xHH;` (uppercase hex); other bytes unchanged.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '&' | '<' | '>' | '"' | '\'' | '`') || (c as u32) < 32 || c as u32 == 127 {
            out.push_str(&format!("&#x{:02X};", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `%Y-%b-%d %H:%M:%S` (C locale month names).
fn format_mtime(t: LocalTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get((t.month as usize).wrapping_sub(1))
        .unwrap_or(&"Jan");
    format!(
        "{:04}-{}-{:02} {:02}:{:02}:{:02}",
        t.year, month, t.day, t.hour, t.minute, t.second
    )
}

/// lighttpd `http_list_directory_sizefmt`: `<int>.<digit><unit>`, at least K.
pub fn format_size(size: u64) -> String {
    let mut size = if (1..100).contains(&size) {
        size + 99
    } else {
        size
    };
    let mut unit = 0;
    let mut remain;
    loop {
        remain = size & 1023;
        size >>= 10;
        if size < 1024 {
            break;
        }
        unit += 1;
    }
    let mut digit = (remain / 100).min(9);
    if size > 999 {
        size = 0;
        digit = 9;
        unit += 1;
    }
    let units = b"KMGTPE";
    format!("{size}.{digit}{}", units[unit.min(units.len() - 1)] as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_time(_: i64) -> LocalTime {
        LocalTime {
            year: 2026,
            month: 11,
            day: 25,
            hour: 20,
            minute: 59,
            second: 21,
        }
    }

    fn no_exclude(_: &str) -> bool {
        false
    }

    fn options(mimetypes: &mime::MimeTypes) -> ListingOptions<'_> {
        ListingOptions {
            uri_path: "/list/",
            hide_dotfiles: true,
            show_readme: Some("README.txt"),
            hide_readme_file: false,
            show_header: None,
            hide_header_file: false,
            readme_text: Some("README <b>\n"),
            header_text: None,
            encode_readme: true,
            encode_header: true,
            external_css: None,
            external_js: None,
            encoding: None,
            auto_layout: true,
            footer: Some("lighttpd/1.4.69"),
            mimetypes,
        }
    }

    fn entries() -> Vec<DirEntry> {
        let e = |name: &str, is_dir: bool, size: u64| DirEntry {
            name: name.into(),
            is_dir,
            size,
            mtime: 0,
        };
        vec![
            e("z.bin", false, 150_000),
            e(".hidden", false, 0),
            e("b file&<x>.txt", false, 150),
            e("README.txt", false, 11),
            e("sub dir", true, 4096),
        ]
    }

    #[test]
    fn same_page_as_lighttpd() {
        // recorded from lighttpd 1.4.69 listing the same directory
        let mt = mime::MimeTypes::new(vec![
            (".html".to_string(), "text/html".to_string()),
            (".txt".to_string(), "text/plain".to_string()),
        ]);
        let page = render_listing(&options(&mt), entries(), &no_exclude, &fixed_time);
        assert_eq!(page, include_str!("testdata/dirlist_list.html"));
    }

    #[test]
    fn same_page_as_lighttpd_with_options() {
        // recorded: encoding utf-8, external css/js, set-footer "FOOT",
        // hide-dotfiles disable, show-header enable (hidden, not encoded)
        let mt = mime::MimeTypes::new(vec![(".txt".to_string(), "text/plain".to_string())]);
        let o = ListingOptions {
            uri_path: "/l2/",
            hide_dotfiles: false,
            show_readme: None,
            hide_readme_file: false,
            show_header: Some("HEADER.txt"),
            hide_header_file: true,
            readme_text: None,
            header_text: Some("HEAD <i>\n"),
            encode_readme: true,
            encode_header: false,
            external_css: Some("/s.css"),
            external_js: Some("/s.js"),
            encoding: Some("utf-8"),
            auto_layout: true,
            footer: Some("FOOT"),
            mimetypes: &mt,
        };
        let e = |name: &str, is_dir: bool, size: u64| DirEntry {
            name: name.into(),
            is_dir,
            size,
            mtime: 0,
        };
        let entries = vec![
            e("big.bin", false, 2_500_000),
            e("HEADER.txt", false, 9),
            e("Ünï.txt", false, 2),
            e(".dot", false, 3),
            e("adir", true, 4096),
        ];
        let t = |_| LocalTime {
            year: 2026,
            month: 11,
            day: 25,
            hour: 21,
            minute: 24,
            second: 32,
        };
        let page = render_listing(&o, entries, &no_exclude, &t);
        assert_eq!(page, include_str!("testdata/dirlist_options.html"));
    }

    #[test]
    fn layout_options() {
        let mt = mime::MimeTypes::default();
        let mut o = options(&mt);
        o.uri_path = "/";
        o.auto_layout = false;
        o.hide_readme_file = true;
        o.readme_text = Some("<raw>");
        o.encode_readme = false;
        o.header_text = Some("H&");
        let page = render_listing(&o, entries(), &|n: &str| n.ends_with(".bin"), &fixed_time);
        assert!(page.starts_with("<pre class=\"header\">H&#x26;</pre><h2>Index of /</h2>\n"));
        assert!(!page.contains("href=\"../\"") && !page.contains("README.txt"));
        assert!(!page.contains("z.bin") && page.contains("application/octet-stream"));
        assert!(page.ends_with("</tbody>\n</table>\n</div>\n<raw>"));
        let mut o = options(&mt);
        o.external_css = Some("/s.css");
        o.external_js = Some("/s.js");
        o.encoding = Some("utf-8");
        o.footer = None;
        o.hide_dotfiles = false;
        let page = render_listing(&o, entries(), &no_exclude, &fixed_time);
        assert!(page.contains("<meta charset=\"utf-8\">\n<title>Index of /list/</title>\n<meta name=\"viewport\" content=\"initial-scale=1\"><link rel=\"stylesheet\" type=\"text/css\" href=\"/s.css\">\n</head>"));
        assert!(page.ends_with(
            "</pre><script type=\"text/javascript\" src=\"/s.js\"></script>\n</body>\n</html>\n"
        ));
        assert!(page.contains(">.hidden</a>"));
        assert_eq!(content_type(Some("utf-8")), "text/html;charset=utf-8");
        assert_eq!(content_type(None), "text/html");
    }

    #[test]
    fn sizes() {
        for (n, s) in [
            (0, "0.0K"),
            (1, "0.1K"),
            (99, "0.1K"),
            (500, "0.5K"),
            (150_000, "146.4K"),
            (2 << 20, "2.0M"),
            (1000 * 1024, "0.9M"),
            (1023, "0.9K"),
            (1 << 40, "1.0T"),
        ] {
            assert_eq!(format_size(n), s, "{n}");
        }
    }

    #[test]
    fn escaping_and_sorting() {
        assert_eq!(
            xml_escape("a&<>\"'`\x01\x7fü"),
            "a&#x26;&#x3C;&#x3E;&#x22;&#x27;&#x60;&#x01;&#x7F;ü"
        );
        let e = |n: &str| DirEntry {
            name: n.into(),
            is_dir: false,
            size: 1,
            mtime: 0,
        };
        let mt = mime::MimeTypes::default();
        let mut o = options(&mt);
        o.readme_text = None;
        let page = render_listing(
            &o,
            vec![e("b"), e("B"), e("a"), e("README")],
            &no_exclude,
            &fixed_time,
        );
        let order: Vec<usize> = ["\">B<", "\">README<", "\">a<", "\">b<"]
            .iter()
            .map(|s| page.find(s).unwrap_or(usize::MAX))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(!page.contains("<pre"));
    }
}
