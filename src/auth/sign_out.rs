//! Why a session was ended from elsewhere: the reason its live sockets are
//! told (`signed_out` `{"reason"}`, docs/realtime.md) before they are cut,
//! and the sentence the login page shows for `/login?reason=…`. One fixed
//! list: the page never echoes text it was given.

/// Why the server signed a session out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutReason {
    /// The session itself logged out (another tab or window).
    LoggedOut,
    /// Ended from another device, or by an operator.
    SessionEnded,
    /// The password was changed, reset or set by an operator.
    PasswordChanged,
    /// Suspended by an admin or an operator.
    AccountSuspended,
    /// The account was deleted.
    AccountDeleted,
    /// Found gone by the periodic check (expired, or a missed cut).
    SessionExpired,
}

impl SignOutReason {
    /// Every reason, for tests and the login page.
    pub const ALL: [SignOutReason; 6] = [
        SignOutReason::LoggedOut,
        SignOutReason::SessionEnded,
        SignOutReason::PasswordChanged,
        SignOutReason::AccountSuspended,
        SignOutReason::AccountDeleted,
        SignOutReason::SessionExpired,
    ];

    /// The name on the wire and in the login page's address.
    pub fn as_str(self) -> &'static str {
        match self {
            SignOutReason::LoggedOut => "logged_out",
            SignOutReason::SessionEnded => "session_ended",
            SignOutReason::PasswordChanged => "password_changed",
            SignOutReason::AccountSuspended => "account_suspended",
            SignOutReason::AccountDeleted => "account_deleted",
            SignOutReason::SessionExpired => "session_expired",
        }
    }

    /// The reason named `name`; `None` for anything else.
    pub fn parse(name: &str) -> Option<SignOutReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What the login page tells the person.
    pub fn sentence(self) -> &'static str {
        match self {
            SignOutReason::LoggedOut => "You logged out in another tab or window.",
            SignOutReason::SessionEnded => {
                "You were signed out because this session was ended from another device."
            }
            SignOutReason::PasswordChanged => {
                "You were signed out because your password was changed. Log in with the new one."
            }
            SignOutReason::AccountSuspended => {
                "You were signed out because an admin suspended your account."
            }
            SignOutReason::AccountDeleted => "Your account was deleted, so you were signed out.",
            SignOutReason::SessionExpired => "Your session ended. Log in again to continue.",
        }
    }

    /// The `signed_out` event's payload.
    pub fn payload(self) -> serde_json::Value {
        serde_json::json!({ "reason": self.as_str() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_and_is_a_sentence() {
        for reason in SignOutReason::ALL {
            assert_eq!(SignOutReason::parse(reason.as_str()), Some(reason));
            let sentence = reason.sentence();
            assert!(sentence.ends_with('.'), "{sentence}");
            assert!(sentence.starts_with(char::is_uppercase), "{sentence}");
        }
        assert_eq!(SignOutReason::parse("<script>"), None);
        assert_eq!(SignOutReason::parse(""), None);
    }
}
