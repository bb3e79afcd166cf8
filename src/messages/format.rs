//! Message formatting (docs/threads.md): the text people type, in Markdown,
//! rendered once into the `html` every client may show. pulldown-cmark
//! parses; raw HTML in the text is turned into text before rendering; bare
//! URLs and addresses become links; ammonia then lets only the allowed
//! elements and link schemes through, whatever the steps before produced.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use linkify::{LinkFinder, LinkKind};
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The elements that may appear in a message's `html`.
pub const ALLOWED_TAGS: [&str; 12] = [
    "p",
    "br",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
];

/// The schemes a link may use.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// What every link carries.
pub const LINK_REL: &str = "noopener noreferrer nofollow";

static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        .tags(HashSet::from(ALLOWED_TAGS))
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("ol", HashSet::from(["start"])),
        ]))
        .generic_attributes(HashSet::new())
        .url_schemes(HashSet::from(LINK_SCHEMES))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
});

static LINKS: LazyLock<LinkFinder> = LazyLock::new(|| {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url, LinkKind::Email]);
    finder
});

/// Renders a message's text into sanitized HTML. Never empty for a
/// non-empty text: what renders to nothing (a lone `---`) is shown as typed.
pub fn render(text: &str) -> String {
    if let Some(html) = plain(text) {
        return html;
    }
    let parser = Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH);
    let events = Rewriter::default().rewrite(parser);
    let mut raw = String::with_capacity(text.len() + text.len() / 2 + 16);
    pulldown_cmark::html::push_html(&mut raw, events.into_iter());
    let clean = SANITIZER.clean(&raw).to_string();
    if clean.trim().is_empty() && !text.trim().is_empty() {
        return paragraph(text);
    }
    clean
}

/// The fast way for text with nothing Markdown or a link could make of
/// it (most chat lines): one escaped paragraph, exactly what the full
/// rendering gives for it (tested below).
fn plain(text: &str) -> Option<String> {
    let first = text.chars().next()?;
    if first.is_ascii_digit() || "-+=>#".contains(first) {
        return None;
    }
    let special = |c: char| {
        c.is_control()
            || c == '\u{a0}'
            || "\\`*_~[]<>&:@".contains(c)
            || c.is_whitespace() && c != ' '
    };
    if text.chars().any(special) || text.contains("  ") {
        return None;
    }
    Some(paragraph(text))
}

/// One paragraph of text shown as typed.
fn paragraph(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 8);
    html.push_str("<p>");
    for c in text.trim().chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '\u{a0}' => html.push_str("&nbsp;"),
            '\n' => html.push_str("<br>"),
            c => html.push(c),
        }
    }
    html.push_str("</p>\n");
    html
}

/// Turns the parser's events into the ones we render: raw HTML becomes
/// text, a line break is a break, headings are paragraphs, images their
/// alt text, rules nothing; links keep only allowed schemes, and bare URLs
/// and addresses in text become links.
#[derive(Default)]
struct Rewriter<'a> {
    out: Vec<Event<'a>>,
    /// For each open link: whether it was kept (its end must match).
    links: Vec<bool>,
    /// Inside a code block or a link: text is left as it is.
    verbatim: usize,
}

impl<'a> Rewriter<'a> {
    fn rewrite(mut self, parser: Parser<'a>) -> Vec<Event<'a>> {
        for event in parser {
            self.event(event);
        }
        self.out
    }

    fn event(&mut self, event: Event<'a>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(end) => self.end(end),
            Event::Html(html) | Event::InlineHtml(html) => self.out.push(Event::Text(html)),
            Event::SoftBreak => self.out.push(Event::HardBreak),
            Event::Rule => {}
            Event::Text(text) if self.verbatim == 0 => self.linkify(text),
            other => self.out.push(other),
        }
    }

    fn start(&mut self, tag: Tag<'a>) {
        match tag {
            Tag::Heading { .. } | Tag::HtmlBlock => self.out.push(Event::Start(Tag::Paragraph)),
            Tag::Image { .. } => {}
            Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            } => {
                let kept = link_type == LinkType::Email || allowed_scheme(&dest_url);
                self.links.push(kept);
                self.verbatim += 1;
                if kept {
                    self.out.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Tag::CodeBlock(kind) => {
                self.verbatim += 1;
                self.out.push(Event::Start(Tag::CodeBlock(kind)));
            }
            other => self.out.push(Event::Start(other)),
        }
    }

    fn end(&mut self, end: TagEnd) {
        match end {
            TagEnd::Heading(_) | TagEnd::HtmlBlock => self.out.push(Event::End(TagEnd::Paragraph)),
            TagEnd::Image => {}
            TagEnd::Link => {
                self.verbatim = self.verbatim.saturating_sub(1);
                if self.links.pop().unwrap_or(false) {
                    self.out.push(Event::End(TagEnd::Link));
                }
            }
            TagEnd::CodeBlock => {
                self.verbatim = self.verbatim.saturating_sub(1);
                self.out.push(Event::End(TagEnd::CodeBlock));
            }
            other => self.out.push(Event::End(other)),
        }
    }

    /// Text with its bare `http(s)://` URLs and email addresses as links.
    fn linkify(&mut self, text: CowStr<'a>) {
        let mut rest = 0;
        for link in LINKS.links(&text) {
            let target = match link.kind() {
                LinkKind::Email => format!("mailto:{}", link.as_str()),
                _ if allowed_scheme(link.as_str()) => link.as_str().to_owned(),
                _ => continue,
            };
            if link.start() > rest {
                self.out
                    .push(Event::Text(text[rest..link.start()].to_owned().into()));
            }
            self.out.push(Event::Start(Tag::Link {
                link_type: LinkType::Autolink,
                dest_url: target.into(),
                title: CowStr::Borrowed(""),
                id: CowStr::Borrowed(""),
            }));
            self.out.push(Event::Text(link.as_str().to_owned().into()));
            self.out.push(Event::End(TagEnd::Link));
            rest = link.end();
        }
        if rest == 0 {
            self.out.push(Event::Text(text));
        } else if rest < text.len() {
            self.out.push(Event::Text(text[rest..].to_owned().into()));
        }
    }
}

/// Whether a link target uses one of the allowed schemes.
fn allowed_scheme(url: &str) -> bool {
    let url = url.trim_start();
    LINK_SCHEMES.iter().any(|scheme| {
        url.len() > scheme.len()
            && url.as_bytes()[scheme.len()] == b':'
            && url[..scheme.len()].eq_ignore_ascii_case(scheme)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(text: &str) -> String {
        let parser = Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH);
        let events = Rewriter::default().rewrite(parser);
        let mut raw = String::new();
        pulldown_cmark::html::push_html(&mut raw, events.into_iter());
        SANITIZER.clean(&raw).to_string()
    }

    #[test]
    fn the_fast_way_gives_what_the_full_rendering_gives() {
        for text in [
            "hello",
            "hello world, how are you?",
            "load 12345 from sender 3 at 1700000000000",
            "say \"hi\" (or don't); 50% off / $5 {x} ^ =",
            "héllo wörld 日本語 😀",
            "a, b ; c ? d ' e",
            "Hello. Is #rust on? Yes! a|b",
        ] {
            assert!(plain(text).is_some(), "{text} takes the fast way");
            assert_eq!(render(text), full(text), "{text}");
        }
        for text in [
            "1. one",
            "- item",
            "# x",
            "x@y.z",
            "http://a.b",
            "a  b",
            "~x~",
        ] {
            assert!(plain(text).is_none(), "{text} is rendered in full");
        }
    }

    #[test]
    fn markdown_people_type() {
        assert_eq!(render("**bold**"), "<p><strong>bold</strong></p>\n");
        assert_eq!(render("*it* _it_"), "<p><em>it</em> <em>it</em></p>\n");
        assert_eq!(render("~~gone~~"), "<p><del>gone</del></p>\n");
        assert_eq!(render("`a < b`"), "<p><code>a &lt; b</code></p>\n");
        assert_eq!(
            render("```rust\nfn main() {\n    x  <  y;\n}\n```"),
            "<pre><code>fn main() {\n    x  &lt;  y;\n}\n</code></pre>\n"
        );
        assert_eq!(
            render("> quoted"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        );
        assert_eq!(render("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
        assert_eq!(
            render("3. c\n4. d"),
            "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n"
        );
        assert_eq!(render("one\ntwo"), "<p>one<br>\ntwo</p>\n");
        assert_eq!(render("# Title"), "<p>Title</p>\n");
        assert_eq!(render("---"), "<p>---</p>\n");
    }

    #[test]
    fn links_only_with_allowed_schemes() {
        let rel = "rel=\"noopener noreferrer nofollow\"";
        assert_eq!(
            render("see https://example.com/a?b=1&c=2 now"),
            format!("<p>see <a href=\"https://example.com/a?b=1&amp;c=2\" {rel}>https://example.com/a?b=1&amp;c=2</a> now</p>\n")
        );
        assert_eq!(
            render("[docs](http://example.com)"),
            format!("<p><a href=\"http://example.com\" {rel}>docs</a></p>\n")
        );
        assert_eq!(
            render("mail bob@example.com"),
            format!("<p>mail <a href=\"mailto:bob@example.com\" {rel}>bob@example.com</a></p>\n")
        );
        assert_eq!(
            render("<https://example.com>"),
            format!("<p><a href=\"https://example.com\" {rel}>https://example.com</a></p>\n")
        );
        for hostile in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
            "[x](/relative)",
            "[x](//evil.example)",
            "<javascript:alert(1)>",
        ] {
            let html = render(hostile);
            assert!(!html.contains("href"), "{hostile} → {html}");
            assert!(
                !html.to_lowercase().contains("javascript:alert(1)\""),
                "{hostile} → {html}"
            );
        }
        assert_eq!(
            render("ftp://example.com/x"),
            "<p>ftp://example.com/x</p>\n"
        );
    }

    /// Every element is an allowed one, and the only attributes are
    /// `href` (http, https, mailto) and `rel` on links and `start` on lists.
    fn assert_only_allowed_markup(html: &str) {
        for tag in html.split('<').skip(1) {
            let tag = &tag[..tag.find('>').expect("closed tag")];
            let tag = tag.strip_prefix('/').unwrap_or(tag);
            let mut parts = tag.split(' ');
            let name = parts.next().unwrap_or_default();
            assert!(ALLOWED_TAGS.contains(&name), "<{name}> in {html}");
            for attribute in parts {
                let ok = attribute.starts_with("href=\"http://")
                    || attribute.starts_with("href=\"https://")
                    || attribute.starts_with("href=\"mailto:")
                    || attribute.starts_with("rel=\"")
                    || ["noreferrer", "nofollow\""].contains(&attribute)
                    || attribute.starts_with("start=\"");
                assert!(ok, "{attribute} in {html}");
            }
        }
    }

    #[test]
    fn raw_html_is_text() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "hi <b onclick=alert(1)>there</b>",
            "<div>\n<iframe src=https://evil.example></iframe>\n</div>",
            "![alt text](https://example.com/x.png)",
            "<!-- hidden -->",
            "<svg onload=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "**<style>body{display:none}</style>**",
        ] {
            let html = render(hostile);
            assert_only_allowed_markup(&html);
            assert!(html.starts_with("<p>"), "{hostile} → {html}");
        }
        assert_eq!(render("<b>bold</b>"), "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n");
        assert_eq!(
            render("![alt text](https://example.com/x.png)"),
            "<p>alt text</p>\n"
        );
    }

    #[test]
    fn bombs_and_long_tokens_stay_cheap() {
        let started = std::time::Instant::now();
        let nested = format!("{}x{}", "*_".repeat(500), "_*".repeat(500));
        let stars = "*".repeat(2000);
        let brackets = "[".repeat(1000) + &"]".repeat(1000);
        let quotes = "> ".repeat(1000);
        let long_token = "a".repeat(2000);
        let long_url = format!("https://example.com/{}", "b".repeat(1980));
        for text in [&nested, &stars, &brackets, &quotes, &long_token, &long_url] {
            let html = render(text);
            assert!(!html.is_empty());
            assert_only_allowed_markup(&html);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }
}
