//! The mails chatroom sends, as plain text and HTML. Never a password.

/// A mail ready to queue.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The action link inside, if any (logged in outbox mode).
    pub link: Option<String>,
}

fn escape(s: &str) -> String {
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
}
