//! The mails chatroom sends, as plain text and HTML. Never a password.

/// A mail ready to queue.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The action link inside, if any (logged in outbox mode).
    pub link: Option<String>,
    /// Extra header lines (`List-Unsubscribe`, …): printable ASCII only.
    pub headers: Vec<(&'static str, String)>,
}

impl Mail {
    /// The mail as the queue stores it, for `to`; `headers` are
    /// [`crate::db::mail::header_lines`] of [`Mail::headers`].
    pub fn outgoing<'a>(&'a self, to: &'a str, headers: &'a str) -> crate::db::mail::Outgoing<'a> {
        crate::db::mail::Outgoing {
            recipient: to,
            subject: &self.subject,
            body_text: &self.text,
            body_html: &self.html,
            headers,
        }
    }
}

/// Text made safe to put in HTML (element content and quoted attributes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn with_link(subject: &str, username: &str, intro: &str, link: &str, outro: &str) -> Mail {
    let text = format!("Hello {username},\n\n{intro}\n\n{link}\n\n{outro}\n\n— chatroom\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Hello {u},</p><p>{i}</p>\
         <p><a href=\"{l}\">{l}</a></p><p>{o}</p><p>— chatroom</p></body></html>",
        u = escape(username),
        i = escape(intro),
        l = escape(link),
        o = escape(outro),
    );
    Mail {
        subject: subject.to_owned(),
        text,
        html,
        link: Some(link.to_owned()),
        headers: Vec::new(),
    }
}

fn notice(subject: &str, username: &str, body: &str) -> Mail {
    let text = format!("Hello {username},\n\n{body}\n\n— chatroom\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Hello {u},</p><p>{b}</p><p>— chatroom</p></body></html>",
        u = escape(username),
        b = escape(body),
    );
    Mail {
        subject: subject.to_owned(),
        text,
        html,
        link: None,
        headers: Vec::new(),
    }
}

impl Mail {
    /// The password reset link.
    pub fn password_reset(username: &str, link: &str) -> Mail {
        with_link(
            "Reset your chatroom password",
            username,
            "Someone (hopefully you) asked to reset your chatroom password. Open this link within 30 minutes to choose a new one:",
            link,
            "If you did not ask for this, ignore this mail; your password stays as it is.",
        )
    }

    /// The link that verifies a new address.
    pub fn verify_email(username: &str, link: &str) -> Mail {
        with_link(
            "Confirm your email address for chatroom",
            username,
            "Open this link to confirm this address as your chatroom recovery address:",
            link,
            "If you did not ask for this, ignore this mail.",
        )
    }

    /// Tells the verified address that the password changed.
    pub fn password_changed(username: &str) -> Mail {
        notice(
            "Your chatroom password was changed",
            username,
            "The password of your chatroom account was just changed, and your other sessions were signed out. If this was not you, reset your password now.",
        )
    }

    /// Tells the old verified address that the address changed.
    pub fn email_changed(username: &str, new_email: &str) -> Mail {
        notice(
            "Your chatroom email address was changed",
            username,
            &format!("The recovery address of your chatroom account was changed to {new_email}. If this was not you, reset your password now."),
        )
    }
}

/// One message quoted in a missed-message mail.
#[derive(Debug, Clone)]
pub struct Quoted {
    /// Who wrote it ("Deleted user" once they are gone).
    pub author: String,
    /// Where: "direct message", "#rust-fans", "the global room".
    pub place: String,
    /// When, for people ("2026-05-01 14:03 UTC").
    pub at: String,
    pub text: String,
}

/// The longest quote of one message, in characters.
const QUOTE_CHARS: usize = 500;

fn shortened(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(QUOTE_CHARS).collect();
    short.push('…');
    short
}

/// The links a missed-message mail carries.
#[derive(Debug, Clone)]
pub struct MissedLinks {
    /// Where to read the messages.
    pub read: String,
    /// Where the setting is changed.
    pub profile: String,
    /// The one-click unsubscribe URL (also in `List-Unsubscribe`).
    pub unsubscribe: String,
}

impl Mail {
    /// Direct messages and mentions someone missed: the first few quoted,
    /// the rest counted (`more`). Carries `List-Unsubscribe` and
    /// `List-Unsubscribe-Post` (RFC 8058) for one-click unsubscribing.
    pub fn missed_messages(
        username: &str,
        quoted: &[Quoted],
        more: i64,
        links: &MissedLinks,
    ) -> Mail {
        let total = i64::try_from(quoted.len())
            .unwrap_or(i64::MAX)
            .saturating_add(more);
        let subject = if total == 1 {
            "A message you missed on chatroom".to_owned()
        } else {
            format!("{total} messages you missed on chatroom")
        };
        let intro = "While you were away, people wrote to you on chatroom:";
        let more_line = match more {
            0 => String::new(),
            1 => "…and 1 more message.".to_owned(),
            n => format!("…and {n} more messages."),
        };
        let why = "You get this mail because your chatroom account asks for mail about \
                   direct messages and mentions you miss.";

        let mut text = format!("Hello {username},\n\n{intro}\n\n");
        for q in quoted {
            text.push_str(&format!("{} ({}, {}):\n", q.author, q.place, q.at));
            for line in shortened(&q.text).lines() {
                text.push_str(&format!("> {line}\n"));
            }
            text.push('\n');
        }
        if !more_line.is_empty() {
            text.push_str(&format!("{more_line}\n\n"));
        }
        text.push_str(&format!(
            "Read them: {read}\n\n{why} Change this in your profile ({profile}) \
             or stop these mails with one click: {unsubscribe}\n\n— chatroom\n",
            read = links.read,
            profile = links.profile,
            unsubscribe = links.unsubscribe,
        ));

        let mut html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>Hello {u},</p><p>{i}</p>",
            u = escape(username),
            i = escape(intro),
        );
        for q in quoted {
            let lines: Vec<String> = shortened(&q.text).lines().map(escape).collect();
            html.push_str(&format!(
                "<p><strong>{a}</strong> ({p}, {t}):</p>\
                 <blockquote style=\"margin:0 0 1em 0;padding-left:1em;border-left:3px solid #ccc\">{b}</blockquote>",
                a = escape(&q.author),
                p = escape(&q.place),
                t = escape(&q.at),
                b = lines.join("<br>"),
            ));
        }
        if !more_line.is_empty() {
            html.push_str(&format!("<p>{}</p>", escape(&more_line)));
        }
        html.push_str(&format!(
            "<p><a href=\"{r}\">Read them on chatroom</a></p>\
             <p style=\"color:#666;font-size:small\">{w} Change this in <a href=\"{p}\">your profile</a> \
             or <a href=\"{x}\">stop these mails</a>.</p><p>— chatroom</p></body></html>",
            r = escape(&links.read),
            w = escape(why),
            p = escape(&links.profile),
            x = escape(&links.unsubscribe),
        ));

        Mail {
            subject,
            text,
            html,
            link: None,
            headers: vec![
                ("List-Unsubscribe", format!("<{}>", links.unsubscribe)),
                (
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_owned(),
                ),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_part_escapes_user_text() {
        let mail = Mail::password_reset("<b>x</b>", "http://h/reset-password?token=a&b");
        assert!(mail.html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(mail.html.contains("token=a&amp;b"));
        assert!(mail.text.contains("http://h/reset-password?token=a&b"));
    }

    fn links() -> MissedLinks {
        MissedLinks {
            read: "http://h/discover".into(),
            profile: "http://h/profile".into(),
            unsubscribe: "http://h/unsubscribe/T".into(),
        }
    }

    #[test]
    fn missed_messages_quote_escaped_text_and_count_the_rest() {
        let quoted = vec![Quoted {
            author: "<alice>".into(),
            place: "direct message".into(),
            at: "2026-05-01 14:03 UTC".into(),
            text: "<script>x</script> & hi\nsecond line".into(),
        }];
        let mail = Mail::missed_messages("bob", &quoted, 30, &links());
        assert_eq!(mail.subject, "31 messages you missed on chatroom");
        assert!(mail
            .html
            .contains("&lt;script&gt;x&lt;/script&gt; &amp; hi<br>second line"));
        assert!(mail.html.contains("&lt;alice&gt;"));
        assert!(!mail.html.contains("<script>"));
        assert!(mail
            .text
            .contains("> <script>x</script> & hi\n> second line\n"));
        assert!(mail.text.contains("…and 30 more messages."));
        assert!(mail.text.contains("http://h/unsubscribe/T"));
        assert_eq!(
            mail.headers,
            vec![
                ("List-Unsubscribe", "<http://h/unsubscribe/T>".to_owned()),
                (
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_owned()
                ),
            ]
        );
        let one = Mail::missed_messages("bob", &quoted, 0, &links());
        assert_eq!(one.subject, "A message you missed on chatroom");
        assert!(!one.text.contains("more message"));
    }

    #[test]
    fn long_messages_are_shortened_in_the_quote() {
        let quoted = vec![Quoted {
            author: "alice".into(),
            place: "the global room".into(),
            at: "now".into(),
            text: "é".repeat(2000),
        }];
        let mail = Mail::missed_messages("bob", &quoted, 0, &links());
        assert!(mail.text.contains(&format!("{}…", "é".repeat(500))));
        assert!(!mail.text.contains(&"é".repeat(501)));
    }
}
