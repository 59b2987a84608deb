//! `#[testkit::needs(...)]`, written above `#[test]`: where this machine
//! lacks what the test needs, the test is compiled with
//! `#[ignore = "why, and how to get it"]`, so `cargo test` counts it as
//! ignored and prints the reason, instead of counting a test that returned
//! early as passed.
//!
//! The check happens when the test is compiled (an attribute cannot decide
//! at run time), with the same probes `testkit`'s run-time guards use
//! (`testkit-probe`). The guards stay in the test bodies: they catch a
//! machine that changed after the build, and under `VERSUS_REQUIRE_KVM=1` /
//! `VERSUS_REQUIRE_ROOT=1` (CI) this attribute never ignores, so a missing
//! requirement reaches the guard and fails the test.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Ident, Token};
use testkit_probe::{Need, REQUIREMENTS, Requirement};

/// Marks the test below ignored, with the reason, where the machine lacks
/// one of the named requirements: `root`, `kvm`, `busybox`, `cc`, `musl`,
/// `objdump` (see `testkit_probe::Requirement`). Goes above `#[test]`.
#[proc_macro_attribute]
pub fn needs(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(
        args.into(),
        item.into(),
        Requirement::missing,
        Need::required,
    )
    .unwrap_or_else(syn::Error::into_compile_error)
    .into()
}

/// The test `item` with an ignore attribute added where a requirement in
/// `args` is missing, as `missing` reports it, unless `required` says CI
/// forbids skipping for it.
fn expand(
    args: TokenStream,
    item: TokenStream,
    missing: impl Fn(Requirement) -> Option<String>,
    required: impl Fn(Need) -> bool,
) -> syn::Result<TokenStream> {
    let requirements = parse_requirements(args)?;
    let attributes = outer_attribute_names(&item);
    if !attributes.iter().any(|name| name == "test") {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[testkit::needs(...)] goes directly above #[test] (above it, so that it sees the test)",
        ));
    }
    // A test ignored for another reason keeps that reason: a second
    // `#[ignore]` would only be a duplicate-attribute warning.
    if attributes.iter().any(|name| name == "ignore") {
        return Ok(item);
    }
    let lacking: Vec<(Requirement, String)> = requirements
        .into_iter()
        .filter_map(|requirement| missing(requirement).map(|why| (requirement, why)))
        .collect();
    Ok(match ignore_reason(&lacking, required) {
        Some(reason) => quote! { #[ignore = #reason] #item },
        None => item,
    })
}

/// The requirements named in the attribute's arguments, each once.
fn parse_requirements(args: TokenStream) -> syn::Result<Vec<Requirement>> {
    let names = Punctuated::<Ident, Token![,]>::parse_terminated.parse2(args)?;
    if names.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "name what the test needs, e.g. #[testkit::needs(root, kvm)]; one or more of: {}",
                known_names()
            ),
        ));
    }
    let mut requirements = Vec::new();
    for name in &names {
        let Some(requirement) = Requirement::from_name(&name.to_string()) else {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "unknown requirement `{name}`: expected one of {}",
                    known_names()
                ),
            ));
        };
        if requirements.contains(&requirement) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{name}` is named twice"),
            ));
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

fn known_names() -> String {
    REQUIREMENTS.map(Requirement::name).join(", ")
}

/// The reason to ignore a test that lacks `lacking` (each requirement with
/// why it is missing), or `None` to compile it as it is: when nothing is
/// lacking, and when a lacking requirement is `required` (CI), so that the
/// run-time guard turns it into a failure instead of the run hiding it.
fn ignore_reason(
    lacking: &[(Requirement, String)],
    required: impl Fn(Need) -> bool,
) -> Option<String> {
    if lacking.is_empty()
        || lacking
            .iter()
            .any(|(requirement, _)| required(requirement.need()))
    {
        return None;
    }
    let reasons: Vec<String> = lacking
        .iter()
        .map(|(requirement, why)| {
            format!(
                "{why} ({}=1, as CI sets, fails instead)",
                requirement.need().require_var()
            )
        })
        .collect();
    Some(reasons.join("; "))
}

/// The first word of each outer attribute of `item` (`test`, `ignore`,
/// `doc`, ...), read up to the item itself.
fn outer_attribute_names(item: &TokenStream) -> Vec<String> {
    let mut names = Vec::new();
    let mut tokens = item.clone().into_iter();
    while let Some(TokenTree::Punct(hash)) = tokens.next() {
        if hash.as_char() != '#' {
            break;
        }
        let Some(TokenTree::Group(group)) = tokens.next() else {
            break;
        };
        if group.delimiter() != Delimiter::Bracket {
            break;
        }
        if let Some(TokenTree::Ident(name)) = group.stream().into_iter().next() {
            names.push(name.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing_all(requirement: Requirement) -> Option<String> {
        Some(format!("no {}", requirement.name()))
    }

    fn expanded(args: &str, item: &str, missing: fn(Requirement) -> Option<String>) -> String {
        // Nothing required, whatever the variables of the process running
        // these tests say: the choice under CI is `ignore_reason`'s test.
        expand(
            args.parse().unwrap(),
            item.parse().unwrap(),
            missing,
            |_| false,
        )
        .map(|tokens| tokens.to_string())
        .unwrap_or_else(|err| format!("error: {err}"))
    }

    #[test]
    fn a_missing_requirement_becomes_an_ignore_with_its_reason_and_the_ci_variable() {
        let reason = ignore_reason(&[(Requirement::Root, "needs root".into())], |_| false);
        assert_eq!(
            reason.as_deref(),
            Some("needs root (VERSUS_REQUIRE_ROOT=1, as CI sets, fails instead)")
        );
        let reason = ignore_reason(
            &[
                (Requirement::Kvm, "needs /dev/kvm".into()),
                (Requirement::Busybox, "needs busybox".into()),
            ],
            |_| false,
        );
        assert_eq!(
            reason.as_deref(),
            Some(
                "needs /dev/kvm (VERSUS_REQUIRE_KVM=1, as CI sets, fails instead); \
                 needs busybox (VERSUS_REQUIRE_ROOT=1, as CI sets, fails instead)"
            )
        );
    }

    #[test]
    fn nothing_is_ignored_when_nothing_is_missing_or_ci_requires_what_is() {
        assert_eq!(ignore_reason(&[], |_| false), None);
        // CI requires root: a missing busybox (counted with root) must reach
        // the guard and fail, even beside a missing /dev/kvm CI excuses.
        let lacking = [
            (Requirement::Kvm, "needs /dev/kvm".to_owned()),
            (Requirement::Busybox, "needs busybox".to_owned()),
        ];
        assert_eq!(ignore_reason(&lacking, |need| need == Need::Root), None);
        assert_eq!(ignore_reason(&lacking, |need| need == Need::Kvm), None);
    }

    #[test]
    fn the_ignore_is_added_above_the_test_only_when_something_is_missing() {
        let with = expanded("root, kvm", "#[test] fn t() {}", missing_all);
        assert!(
            with.starts_with("# [ignore = \"no root (VERSUS_REQUIRE_ROOT=1"),
            "{with}"
        );
        assert!(with.ends_with("# [test] fn t () { }"), "{with}");
        let without = expanded("root", "#[test] fn t() {}", |_| None);
        assert_eq!(without, "# [test] fn t () { }");
    }

    #[test]
    fn a_test_already_ignored_keeps_its_own_reason() {
        let item = "#[test] #[ignore = \"run by hand\"] fn t() {}";
        assert_eq!(
            expanded("root", item, missing_all),
            "# [test] # [ignore = \"run by hand\"] fn t () { }"
        );
    }

    #[test]
    fn misuse_is_a_compile_error_that_says_what_to_write() {
        let below = expanded("root", "fn t() {}", missing_all);
        assert!(below.contains("goes directly above #[test]"), "{below}");
        let unknown = expanded("docker", "#[test] fn t() {}", missing_all);
        assert!(
            unknown.contains("unknown requirement `docker`: expected one of root, kvm, busybox, cc, musl, objdump"),
            "{unknown}"
        );
        let twice = expanded("kvm, kvm", "#[test] fn t() {}", missing_all);
        assert!(twice.contains("`kvm` is named twice"), "{twice}");
        let empty = expanded("", "#[test] fn t() {}", missing_all);
        assert!(empty.contains("name what the test needs"), "{empty}");
    }
}
