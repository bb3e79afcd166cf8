//! The emoji a message can be reacted with: any single emoji Unicode lists
//! (the `emojis` crate's data: CLDR names and groups, skin-tone and ZWJ
//! sequences included), in its fully-qualified spelling.

/// The quick reactions, in the order pickers show them first.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/// The most different emoji one message carries (as Discord): past it,
/// people add one of those already there.
pub const MAX_DISTINCT: i64 = 20;

/// One emoji as Unicode lists it, fully qualified (`❤️` is U+2764 U+FE0F;
/// U+2764 alone is not a reaction, so one reaction has one spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaction(&'static str);

impl Reaction {
    pub fn parse(raw: &str) -> Result<Self, String> {
        emojis::get(raw)
            .filter(|emoji| emoji.as_str() == raw)
            .map(|emoji| Reaction(emoji.as_str()))
            .ok_or_else(|| "must be a single emoji".to_owned())
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// The emoji a picker offers, by group, in Unicode's order (default skin
/// tone; the other tones are reactions too, but are not listed).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EmojiCatalog {
    /// The Unicode version the list follows (`"18.0"`).
    pub unicode_version: String,
    /// [`REACTIONS`], which pickers show first.
    pub quick: Vec<&'static str>,
    pub groups: Vec<EmojiGroup>,
}

/// One of Unicode's emoji groups ("Smileys & Emotion", …).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EmojiGroup {
    /// A stable id (`smileys-emotion`).
    pub id: &'static str,
    /// Its name for people.
    pub name: &'static str,
    pub emoji: Vec<EmojiEntry>,
}

/// One emoji with what a search matches.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EmojiEntry {
    /// The emoji itself, as reactions spell it.
    pub emoji: &'static str,
    /// Its CLDR name (`"thumbs up"`).
    pub name: &'static str,
    /// Its short names (`["+1", "thumbsup"]`), also searched.
    pub shortcodes: Vec<&'static str>,
    /// For an emoji that takes a skin tone: its five toned spellings, light
    /// to dark (absent otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skin_tones: Vec<&'static str>,
}

/// The five uniform skin tones, light to dark.
const TONES: [emojis::SkinTone; 5] = [
    emojis::SkinTone::Light,
    emojis::SkinTone::MediumLight,
    emojis::SkinTone::Medium,
    emojis::SkinTone::MediumDark,
    emojis::SkinTone::Dark,
];

/// `emoji` in each of [`TONES`], when it takes them all.
fn toned(emoji: &'static emojis::Emoji) -> Vec<&'static str> {
    TONES
        .iter()
        .map(|tone| emoji.with_skin_tone(*tone).map(|e| e.as_str()))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

fn group_label(group: emojis::Group) -> (&'static str, &'static str) {
    use emojis::Group::*;
    match group {
        SmileysAndEmotion => ("smileys-emotion", "Smileys & Emotion"),
        PeopleAndBody => ("people-body", "People & Body"),
        AnimalsAndNature => ("animals-nature", "Animals & Nature"),
        FoodAndDrink => ("food-drink", "Food & Drink"),
        TravelAndPlaces => ("travel-places", "Travel & Places"),
        Activities => ("activities", "Activities"),
        Objects => ("objects", "Objects"),
        Symbols => ("symbols", "Symbols"),
        Flags => ("flags", "Flags"),
    }
}

/// Every emoji a picker offers (each one a valid [`Reaction`]).
pub fn catalog() -> EmojiCatalog {
    let version = emojis::UNICODE_VERSION;
    EmojiCatalog {
        unicode_version: format!("{}.{}", version.major(), version.minor()),
        quick: REACTIONS.to_vec(),
        groups: emojis::Group::iter()
            .map(|group| {
                let (id, name) = group_label(group);
                EmojiGroup {
                    id,
                    name,
                    emoji: group
                        .emojis()
                        .map(|emoji| EmojiEntry {
                            emoji: emoji.as_str(),
                            name: emoji.name(),
                            shortcodes: emoji.shortcodes().collect(),
                            skin_tones: toned(emoji),
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_emoji_is_a_reaction() {
        let catalog = catalog();
        let listed: Vec<&str> = catalog
            .groups
            .iter()
            .flat_map(|g| g.emoji.iter())
            .flat_map(|e| std::iter::once(e.emoji).chain(e.skin_tones.iter().copied()))
            .collect();
        assert!(listed.contains(&"👋🏽"), "toned spellings are listed");
        assert!(listed.len() > 1500, "{}", listed.len());
        for emoji in listed.iter().chain(&catalog.quick) {
            assert!(Reaction::parse(emoji).is_ok(), "{emoji}");
        }
    }

    #[test]
    fn the_quick_six_are_reactions() {
        for emoji in REACTIONS {
            assert_eq!(Reaction::parse(emoji).unwrap().as_str(), emoji);
        }
    }

    #[test]
    fn any_single_emoji_is_a_reaction() {
        for emoji in [
            "🚀",
            "🦀",
            "👋🏽", // a skin tone
            "👩‍💻", // a ZWJ sequence
            "🧑🏿‍🤝‍🧑🏻", // two skin tones in one sequence
            "🏳️‍🌈", // flag sequence
            "🇫🇷", // regional indicators
            "1️⃣", // keycap
        ] {
            assert_eq!(Reaction::parse(emoji).unwrap().as_str(), emoji, "{emoji}");
        }
    }

    #[test]
    fn text_several_emoji_and_look_alikes_are_not() {
        for raw in [
            "",
            "x",
            "thumbs up",
            ":+1:",
            "👍👍",
            "👍 ",
            " 👍",
            "\u{2764}", // the heart without its emoji presentation
            "👍\u{0}",
            "\u{0}",
            "\u{1F3FD}",  // a skin-tone modifier alone
            "\u{1F1EB}",  // half a flag
            "\u{200D}",   // a joiner alone
            "👩\u{200D}", // a sequence cut short
            "<script>",
        ] {
            assert!(Reaction::parse(raw).is_err(), "{raw:?}");
        }
    }
}
