//! Which missed messages an account wants mailed (docs/threads.md,
//! "Missed-message mail").

use serde::Serialize;
use utoipa::ToSchema;

/// The `notify_email` setting of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEmail {
    /// No missed-message mail.
    Off,
    /// Mail about direct messages and mentions left unread (the default).
    #[default]
    DmsAndMentions,
}

/// Why a value is not a setting.
pub const NOTIFY_EMAIL_REASON: &str = "must be \"off\" or \"dms_and_mentions\"";

impl NotifyEmail {
    /// Reads the setting as clients and the database spell it.
    pub fn parse(text: &str) -> Result<NotifyEmail, &'static str> {
        match text {
            "off" => Ok(NotifyEmail::Off),
            "dms_and_mentions" => Ok(NotifyEmail::DmsAndMentions),
            _ => Err(NOTIFY_EMAIL_REASON),
        }
    }

    /// The setting as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEmail::Off => "off",
            NotifyEmail::DmsAndMentions => "dms_and_mentions",
        }
    }

    /// Whether missed messages are mailed.
    pub fn is_on(self) -> bool {
        self != NotifyEmail::Off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_the_two_settings() {
        for setting in [NotifyEmail::Off, NotifyEmail::DmsAndMentions] {
            assert_eq!(NotifyEmail::parse(setting.as_str()), Ok(setting));
            assert_eq!(
                serde_json::to_value(setting).unwrap(),
                serde_json::json!(setting.as_str())
            );
        }
        for bad in ["", "OFF", " off", "on", "dms", "dms_and_mentions\0"] {
            assert!(NotifyEmail::parse(bad).is_err(), "{bad:?}");
        }
    }
}
