//! The lessons' texts, in English and Korean, read from resource files
//! embedded in versus (`bench/locales/{en,ko}/explain.txt`).
//!
//! The format is deliberately plain — one message per line, `key = text`,
//! `#` comments, `{name}` placeholders — so that a teacher can edit a
//! sentence without learning a template language, and versus needs no
//! extra dependency to read it. The lessons need nothing more: no plurals
//! (figures are printed with their units), no gender, no selectors.
//!
//! [`SCHEMA`] is the contract between the code and the files: every key
//! versus uses, with the placeholders it fills. [`Catalog::check`] (run by
//! a test for both languages) rejects a file that misses a key, has an
//! extra one, or uses other placeholders; [`Catalog::text`] rejects a call
//! whose arguments do not match the schema, so a wrong call is an error,
//! never a half-filled sentence.

mod schema;

pub use schema::SCHEMA;

use std::collections::{BTreeMap, BTreeSet};

/// A language versus' lessons are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Korean (합니다체, as the docs).
    Ko,
}

impl Lang {
    /// Every language, for the catalog check.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The code `--lang` takes (`en`, `ko`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language from the locale variables, in POSIX order of
    /// precedence: the first non-empty of `LC_ALL`, `LC_MESSAGES`, `LANG`;
    /// Korean when it starts with `ko` (`ko_KR.UTF-8`), English otherwise.
    pub fn from_locale(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|value| !value.is_empty());
        match chosen {
            Some(value) if value.starts_with("ko") => Lang::Ko,
            _ => Lang::En,
        }
    }

    /// [`Lang::from_locale`] for this process' environment.
    pub fn from_env() -> Lang {
        let var = |name: &str| std::env::var(name).ok();
        Lang::from_locale(
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
    }

    /// The embedded resource files of this language: the lessons'
    /// (`explain.txt`) and `versus compare`'s (`compare.txt`).
    fn sources(self) -> [&'static str; 2] {
        match self {
            Lang::En => [
                include_str!("../../../locales/en/explain.txt"),
                include_str!("../../../locales/en/compare.txt"),
            ],
            Lang::Ko => [
                include_str!("../../../locales/ko/explain.txt"),
                include_str!("../../../locales/ko/compare.txt"),
            ],
        }
    }
}

/// What is wrong with a resource file or a lookup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// A line that is neither a comment, blank, nor `key = text`.
    #[error(
        "{lang} catalog, line {line} (counted over its files in order): expected `key = text`, got {text:?}"
    )]
    Malformed {
        /// The language's code.
        lang: &'static str,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A key defined twice.
    #[error("{lang} catalog: key {key:?} is defined twice; keep one")]
    Duplicate {
        /// The language's code.
        lang: &'static str,
        /// The key.
        key: String,
    },
    /// A key of the schema that the file lacks.
    #[error("{lang} catalog: key {key:?} is missing; add it to bench/locales/{lang}/")]
    Missing {
        /// The language's code.
        lang: &'static str,
        /// The key.
        key: String,
    },
    /// A key in the file that versus never uses.
    #[error("{lang} catalog: key {key:?} is not used by versus; remove it or add it to the schema")]
    Unknown {
        /// The language's code.
        lang: &'static str,
        /// The key.
        key: String,
    },
    /// A message whose placeholders differ from what the code fills in.
    #[error(
        "{lang} catalog: {key:?} uses placeholders {found:?}, versus fills {expected:?}; make them equal"
    )]
    Placeholders {
        /// The language's code.
        lang: &'static str,
        /// The key.
        key: String,
        /// The placeholders in the text.
        found: Vec<String>,
        /// The placeholders of the schema (or of the call).
        expected: Vec<String>,
    },
}

/// One language's messages.
#[derive(Debug, Clone)]
pub struct Catalog {
    lang: Lang,
    messages: BTreeMap<String, String>,
}

impl Catalog {
    /// The embedded catalog of `lang`, parsed and checked against [`SCHEMA`].
    pub fn load(lang: Lang) -> Result<Catalog, CatalogError> {
        let catalog = Catalog::parse(lang, &lang.sources().join("\n"))?;
        catalog.check()?;
        Ok(catalog)
    }

    /// Parses `source` as `lang`'s resource file (without the schema check).
    pub fn parse(lang: Lang, source: &str) -> Result<Catalog, CatalogError> {
        let mut messages = BTreeMap::new();
        for (index, raw) in source.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, text)) = line.split_once(" = ") else {
                return Err(CatalogError::Malformed {
                    lang: lang.code(),
                    line: index + 1,
                    text: raw.to_string(),
                });
            };
            let key = key.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(CatalogError::Malformed {
                    lang: lang.code(),
                    line: index + 1,
                    text: raw.to_string(),
                });
            }
            if messages
                .insert(key.to_string(), text.trim().to_string())
                .is_some()
            {
                return Err(CatalogError::Duplicate {
                    lang: lang.code(),
                    key: key.to_string(),
                });
            }
        }
        Ok(Catalog { lang, messages })
    }

    /// Checks the messages against [`SCHEMA`]: the same keys, the same
    /// placeholders.
    pub fn check(&self) -> Result<(), CatalogError> {
        let lang = self.lang.code();
        for (key, placeholders) in SCHEMA {
            let Some(text) = self.messages.get(*key) else {
                return Err(CatalogError::Missing {
                    lang,
                    key: key.to_string(),
                });
            };
            let found = placeholders_of(text);
            let expected: BTreeSet<String> = placeholders.iter().map(|p| p.to_string()).collect();
            if found != expected {
                return Err(CatalogError::Placeholders {
                    lang,
                    key: key.to_string(),
                    found: found.into_iter().collect(),
                    expected: expected.into_iter().collect(),
                });
            }
        }
        if let Some(key) = self
            .messages
            .keys()
            .find(|key| !SCHEMA.iter().any(|(known, _)| known == key))
        {
            return Err(CatalogError::Unknown {
                lang,
                key: key.clone(),
            });
        }
        Ok(())
    }

    /// The catalog of `lang` for output that has no error path (`versus
    /// compare`'s tables): [`Catalog::load`], or — only in a build whose
    /// resource files break [`SCHEMA`], which the unit tests rule out — an
    /// empty catalog, in which [`Catalog::say`] shows each message's key.
    pub fn for_output(lang: Lang) -> Catalog {
        Catalog::load(lang).unwrap_or(Catalog {
            lang,
            messages: BTreeMap::new(),
        })
    }

    /// [`Catalog::text`], or the key itself when the message cannot be
    /// filled (see [`Catalog::for_output`]).
    pub fn say(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.text(key, args).unwrap_or_else(|_| key.to_string())
    }

    /// The language of this catalog.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The message `key` with its placeholders filled from `args`. The
    /// arguments must be exactly the message's placeholders.
    pub fn text(&self, key: &str, args: &[(&str, &str)]) -> Result<String, CatalogError> {
        let lang = self.lang.code();
        let Some(template) = self.messages.get(key) else {
            return Err(CatalogError::Missing {
                lang,
                key: key.to_string(),
            });
        };
        let found = placeholders_of(template);
        let given: BTreeSet<String> = args.iter().map(|(name, _)| name.to_string()).collect();
        if found != given {
            return Err(CatalogError::Placeholders {
                lang,
                key: key.to_string(),
                found: found.into_iter().collect(),
                expected: given.into_iter().collect(),
            });
        }
        let mut out = template.clone();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        Ok(out)
    }

    /// A subject's (backend's) name for display: `host`, `container`,
    /// `vm ×2`, `vm (Linux)`… in this catalog's language. Only what people
    /// read: JSON keys, CSV fields and `--backends` values keep the English
    /// name.
    pub fn subject(&self, name: &str) -> String {
        self.display_name("name", name)
    }

    /// A figure's name in `versus compare`'s tables, for display.
    pub fn figure(&self, name: &str) -> String {
        self.display_name("figure", name)
    }

    /// A launch phase's name in `versus compare`'s tables, for display.
    pub fn phase(&self, name: &str) -> String {
        self.display_name("phase", name)
    }

    /// The message `{kind}.{slug of name}`, or `name` itself when the
    /// catalog has none (a name that is data, such as a path or a subject
    /// another part of versus adds). A trailing vCPU count (` ×2`) is kept
    /// after the translated name, so `vm ×N` needs no key per N.
    fn display_name(&self, kind: &str, name: &str) -> String {
        let (base, count) = match name.rsplit_once(" ×") {
            Some((base, count))
                if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (base, Some(count))
            }
            _ => (name, None),
        };
        let translated = self
            .messages
            .get(&format!("{kind}.{}", slug(base)))
            .cloned()
            .unwrap_or_else(|| base.to_string());
        match count {
            Some(count) => format!("{translated} ×{count}"),
            None => translated,
        }
    }

    /// The message `key`, which has no placeholders.
    pub fn plain(&self, key: &str) -> Result<String, CatalogError> {
        self.text(key, &[])
    }
}

/// `name` as a catalog key part: lower case ASCII letters and digits,
/// every other run of characters one `-` ("container (no seccomp)" →
/// `container-no-seccomp`, "exec→marker" → `exec-marker`).
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The `{name}` placeholders of `text`.
fn placeholders_of(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                names.insert(after[..close].to_string());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_embedded_catalogs_have_every_key_with_its_placeholders() {
        for lang in Lang::ALL {
            Catalog::load(lang).unwrap_or_else(|error| panic!("{error}"));
        }
    }

    #[test]
    fn a_missing_key_an_extra_key_and_a_wrong_placeholder_are_caught() {
        let full = &Lang::En.sources().join("\n");
        let without = full.replace("heading.why = Why\n", "");
        assert!(matches!(
            Catalog::parse(Lang::En, &without).unwrap().check(),
            Err(CatalogError::Missing { key, .. }) if key == "heading.why"
        ));
        let extra = format!("{full}\nstray.key = hello\n");
        assert!(matches!(
            Catalog::parse(Lang::En, &extra).unwrap().check(),
            Err(CatalogError::Unknown { key, .. }) if key == "stray.key"
        ));
        let renamed = full.replace("{place}: {sysname}", "{where}: {sysname}");
        assert!(matches!(
            Catalog::parse(Lang::En, &renamed).unwrap().check(),
            Err(CatalogError::Placeholders { key, .. }) if key == "two-stacks.row"
        ));
    }

    #[test]
    fn malformed_and_duplicate_lines_are_errors() {
        assert!(matches!(
            Catalog::parse(Lang::Ko, "# fine\nno equals sign here\n"),
            Err(CatalogError::Malformed { line: 2, .. })
        ));
        assert!(matches!(
            Catalog::parse(Lang::Ko, "a = 1\na = 2\n"),
            Err(CatalogError::Duplicate { .. })
        ));
    }

    #[test]
    fn text_fills_placeholders_and_rejects_wrong_arguments() {
        let catalog = Catalog::load(Lang::En).unwrap();
        assert_eq!(
            catalog
                .text("no-translation.cgroup", &[("cgroup", "0::/versus")])
                .unwrap(),
            "its cgroup, seen from the host: 0::/versus"
        );
        assert!(catalog.text("no-translation.cgroup", &[]).is_err());
        let extra = [("cgroup", "x"), ("more", "y")];
        assert!(catalog.text("no-translation.cgroup", &extra).is_err());
        assert!(catalog.plain("no.such.key").is_err());
    }

    #[test]
    fn display_names_are_translated_in_korean_and_kept_in_english() {
        let ko = Catalog::load(Lang::Ko).unwrap();
        let en = Catalog::load(Lang::En).unwrap();
        assert_eq!(ko.subject("host"), "호스트");
        assert_eq!(ko.subject("vm ×2"), "VM ×2");
        assert_eq!(ko.subject("vm (UART)"), "VM (UART)");
        assert_eq!(
            ko.subject("container (no seccomp)"),
            "컨테이너 (seccomp 없음)"
        );
        assert_eq!(ko.phase("exec→marker"), "exec→표지");
        assert_eq!(ko.figure("image size"), "이미지 크기");
        // A name the catalog does not know is data, shown as it is.
        assert_eq!(ko.subject("container --pids 7"), "container --pids 7");
        for name in ["host", "vm ×2", "container (no seccomp)", "vm (Linux)"] {
            assert_eq!(en.subject(name), name);
        }
        assert_eq!(en.phase("mounts+pivot_root"), "mounts+pivot_root");
    }

    #[test]
    fn the_locale_picks_korean_only_for_ko() {
        assert_eq!(Lang::from_locale(None, None, Some("ko_KR.UTF-8")), Lang::Ko);
        assert_eq!(
            Lang::from_locale(Some("C"), None, Some("ko_KR.UTF-8")),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale(Some(""), Some("ko_KR"), Some("en_US")),
            Lang::Ko
        );
        assert_eq!(Lang::from_locale(None, None, None), Lang::En);
    }
}
