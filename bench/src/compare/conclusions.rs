//! The conclusions of a comparison: sentences computed from its figures,
//! section by section, each one only when its figures exist. The sentences
//! come from the catalog (`bench/locales/*/compare.txt`), so that
//! `versus compare --lang ko` concludes in Korean.

use super::model::{Comparison, Section, figure};
use crate::explain::{Catalog, Lang};
use crate::fmt;
use crate::stats::{Ratio, Summary};

fn median_of(comparison: &Comparison, section: Section, name: &str, subject: &str) -> Option<f64> {
    comparison
        .series
        .iter()
        .find(|s| s.section == section && s.figure == name && s.subject == subject)
        .and_then(|s| s.summary.as_ref())
        .map(|s| s.median)
}

fn ratio_of<'a>(
    comparison: &'a Comparison,
    name: &str,
    top: &str,
    bottom: &str,
) -> Option<&'a Ratio> {
    comparison
        .ratios
        .iter()
        .find(|r| r.figure == name && r.numerator == top && r.denominator == bottom)
        .map(|r| &r.ratio)
}

/// "3.1× (±0.2)", "2,200× (±700)": the ratio and its spread by
/// [`fmt::ratio_with_spread`]'s rule.
fn times(ratio: &Ratio) -> String {
    fmt::ratio_with_spread(ratio.pairs.median, ratio.spread())
}

/// "no significant difference: the paired ratios spread ±10.6, more than
/// the ratio itself" — said instead of a ratio the runs do not support.
fn not_significant(t: &Catalog, ratio: &Ratio) -> String {
    t.say(
        "compare.c.not-significant",
        &[("spread", &fmt::significant(ratio.spread()))],
    )
}

/// "The VM took 3.1× (±0.2) as long as the container to reach its
/// workload", whichever way round the ratio `slow / fast` falls.
fn took_as_long(t: &Catalog, ratio: &Ratio, slow: &str, fast: &str, what: &str) -> String {
    if !ratio.is_significant() {
        let verdict = not_significant(t, ratio);
        t.say(
            "compare.c.took-unsupported",
            &[
                ("slow", slow),
                ("fast", fast),
                ("what", what),
                ("verdict", &verdict),
            ],
        )
    } else if ratio.pairs.median >= 1.0 {
        t.say(
            "compare.c.took",
            &[
                ("slow", slow),
                ("times", &times(ratio)),
                ("fast", fast),
                ("what", what),
            ],
        )
    } else {
        t.say(
            "compare.c.took",
            &[
                ("slow", fast),
                ("times", &times(&inverse(ratio))),
                ("fast", slow),
                ("what", what),
            ],
        )
    }
}

/// The ratio the other way round (`fast / slow`), so that a ratio below one
/// is said as "the other took N× as long", never as "0.4× as long".
fn inverse(ratio: &Ratio) -> Ratio {
    // The spread of 1/x is not 1/spread: near the median, d(1/x) = dx/x².
    let inverse = Summary {
        median: 1.0 / ratio.pairs.median,
        iqr: ratio.pairs.iqr / (ratio.pairs.median * ratio.pairs.median),
        ..ratio.pairs.clone()
    };
    Ratio { pairs: inverse }
}

/// A significant ratio below one: its figure is the smaller of the two.
fn is_below_one(ratio: &Ratio) -> bool {
    ratio.is_significant() && ratio.pairs.median < 1.0
}

/// Sentences computed from the figures, in English; each one only when its
/// figures exist.
pub(super) fn conclusions(c: &Comparison) -> Vec<String> {
    conclusions_in(c, &Catalog::for_output(Lang::En))
}

/// [`conclusions`] in the catalog's language.
pub(super) fn conclusions_in(c: &Comparison, t: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    startup_conclusions(c, t, &mut out);
    linux_conclusions(c, t, &mut out);
    syscall_conclusions(c, t, &mut out);
    io_conclusions(c, t, &mut out);
    identity_conclusions(c, t, &mut out);
    out
}

/// Startup: the VM against the container, the container against the host.
fn startup_conclusions(c: &Comparison, t: &Catalog, out: &mut Vec<String>) {
    if let Some(r) = ratio_of(c, figure::STARTUP, "vm", "container") {
        let (vm, container) = (
            t.say("compare.c.vm", &[]),
            t.say("compare.c.container", &[]),
        );
        let what = t.say("compare.c.reach", &[]);
        out.push(took_as_long(t, r, &vm, &container, &what));
    }
    if let Some(r) = ratio_of(c, figure::STARTUP, "container", "host") {
        if !r.is_significant() {
            let verdict = not_significant(t, r);
            out.push(t.say("compare.c.fence-unsupported", &[("verdict", &verdict)]));
            return;
        }
        if is_below_one(r) {
            out.push(t.say("compare.c.fence-less", &[("times", &times(&inverse(r)))]));
            return;
        }
        out.push(t.say("compare.c.fence", &[("times", &times(r))]));
    }
}

/// The Linux guest (`--linux`): how much a full kernel adds over the tiny
/// one and over a container — start-up (paired by round) and memory
/// (medians).
fn linux_conclusions(c: &Comparison, t: &Catalog, out: &mut Vec<String>) {
    let linux = crate::backend::linux::LABEL;
    let what = t.say("compare.c.linux-ready", &[]);
    let linux_name = t.say("compare.c.linux", &[]);
    for (other, name_key) in [
        ("vm", "compare.c.tiny-vm"),
        ("container", "compare.c.container"),
    ] {
        if let Some(r) = ratio_of(c, figure::STARTUP, linux, other) {
            let other_name = t.say(name_key, &[]);
            out.push(took_as_long(t, r, &linux_name, &other_name, &what));
        }
    }
    let touched = |subject| median_of(c, Section::Memory, figure::GUEST_TOUCHED, subject);
    let bytes = |v: f64| super::render::value(super::model::Unit::Bytes, v);
    if let (Some(full), Some(tiny)) = (touched(linux), touched("vm"))
        && tiny > 0.0
    {
        out.push(t.say(
            "compare.c.linux-memory",
            &[
                ("linux", &bytes(full)),
                ("tiny", &bytes(tiny)),
                ("times", &fmt::ratio(full / tiny)),
            ],
        ));
    }
    let container = median_of(c, Section::Memory, figure::CGROUP_PEAK, "container");
    if let (Some(full), Some(container)) = (touched(linux), container)
        && container > 0.0
    {
        out.push(t.say(
            "compare.c.linux-memory-container",
            &[
                ("container", &bytes(container)),
                ("times", &fmt::ratio(full / container)),
            ],
        ));
    }
}

/// System calls: a getpid on the host and in the VM, the seccomp filter's
/// share, the exits a VM's getpid loop caused.
fn syscall_conclusions(c: &Comparison, t: &Catalog, out: &mut Vec<String>) {
    if let (Some(host), Some(vm)) = (
        median_of(c, Section::Syscall, figure::GETPID, "host"),
        median_of(c, Section::Syscall, figure::GETPID, "vm"),
    ) {
        let (host, vm) = (fmt::duration_f64(host), fmt::duration_f64(vm));
        let costs = [("host", host.as_str()), ("vm", vm.as_str())];
        out.push(match ratio_of(c, figure::GETPID, "vm", "host") {
            None => t.say("compare.c.getpid", &costs),
            Some(r) if is_below_one(r) => {
                let times = times(&inverse(r));
                t.say(
                    "compare.c.getpid-less",
                    &[costs[0], costs[1], ("times", &times)],
                )
            }
            Some(r) if r.is_significant() => {
                let times = times(r);
                t.say(
                    "compare.c.getpid-ratio",
                    &[costs[0], costs[1], ("times", &times)],
                )
            }
            Some(r) => {
                let verdict = not_significant(t, r);
                t.say(
                    "compare.c.getpid-unsupported",
                    &[costs[0], costs[1], ("verdict", &verdict)],
                )
            }
        });
    }
    if let (Some(with), Some(without)) = (
        median_of(c, Section::Syscall, figure::GETPID, "container"),
        median_of(
            c,
            Section::Syscall,
            figure::GETPID,
            "container (no seccomp)",
        ),
    ) {
        let paired = ratio_of(c, figure::GETPID, "container", "container (no seccomp)")
            .map(|r| {
                if is_below_one(r) {
                    // Said from the side without the filter, which took longer.
                    let ratio = times(&inverse(r));
                    return t.say("compare.c.seccomp-paired-inverse", &[("ratio", &ratio)]);
                }
                let ratio = if r.is_significant() {
                    times(r)
                } else {
                    not_significant(t, r)
                };
                t.say("compare.c.seccomp-paired", &[("ratio", &ratio)])
            })
            .unwrap_or_default();
        let (with_text, without_text) = (fmt::duration_f64(with), fmt::duration_f64(without));
        let figures = [
            ("with", with_text.as_str()),
            ("without", without_text.as_str()),
            ("paired", paired.as_str()),
        ];
        out.push(if with < without {
            // Faster with the filter than without: not a cost, a difference
            // between runs larger than what the filter costs.
            let delta = fmt::duration_f64(without - with);
            t.say(
                "compare.c.seccomp-faster",
                &[
                    ("delta", delta.as_str()),
                    figures[0],
                    figures[1],
                    figures[2],
                ],
            )
        } else {
            let delta = format!("+{}", fmt::duration_f64(with - without));
            t.say(
                "compare.c.seccomp",
                &[
                    ("delta", delta.as_str()),
                    figures[0],
                    figures[1],
                    figures[2],
                ],
            )
        });
    }
    if let Some(exits) = median_of(c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm") {
        if exits == 0.0 {
            out.push(t.say("compare.c.no-exits", &[]));
        } else if exits < 0.0 {
            let fewer = format!("{:.1}", -exits);
            out.push(t.say("compare.c.exits-fewer", &[("exits", &fewer)]));
        } else {
            out.push(t.say("compare.c.exits", &[("exits", &format!("{exits:.1}"))]));
        }
    }
}

/// I/O: the UART against the paravirtual console, one exit round trip.
fn io_conclusions(c: &Comparison, t: &Catalog, out: &mut Vec<String>) {
    if let Some(r) = ratio_of(c, figure::WRITE, "vm (UART)", "vm") {
        let per_write = median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm (UART)")
            .zip(median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm"))
            .map(|(uart, paravirt)| {
                let fragment = t.say(
                    "compare.c.uart-per-write",
                    &[
                        ("uart", &format!("{uart:.0}")),
                        ("paravirt", &format!("{paravirt:.0}")),
                    ],
                );
                format!(" {fragment}")
            })
            .unwrap_or_default();
        out.push(if is_below_one(r) {
            t.say(
                "compare.c.uart-less",
                &[("times", &times(&inverse(r))), ("per_write", &per_write)],
            )
        } else if r.is_significant() {
            t.say(
                "compare.c.uart",
                &[("times", &times(r)), ("per_write", &per_write)],
            )
        } else {
            let verdict = not_significant(t, r);
            t.say(
                "compare.c.uart-unsupported",
                &[("per_write", &per_write), ("verdict", &verdict)],
            )
        });
    }
    if let Some(exit) = median_of(c, Section::Io, figure::EXIT_HOST, "vm") {
        let cost = fmt::duration_f64(exit);
        out.push(
            match median_of(c, Section::Syscall, figure::GETPID, "host") {
                Some(g) => {
                    let times = fmt::significant(if g > 0.0 { exit / g } else { 0.0 });
                    t.say(
                        "compare.c.exit-getpid",
                        &[("cost", &cost), ("times", &times)],
                    )
                }
                None => t.say("compare.c.exit", &[("cost", &cost)]),
            },
        );
    }
}

/// Identity: which kernel answers in the container and in the VM.
fn identity_conclusions(c: &Comparison, t: &Catalog, out: &mut Vec<String>) {
    let kernel = |subject: &str| {
        c.identity
            .iter()
            .find(|row| row.subject == subject)
            .and_then(|row| row.kernel.clone())
    };
    if let (Some(host), Some(container)) = (kernel("host"), kernel("container")) {
        if host == container {
            out.push(t.say("compare.c.same-kernel", &[]));
        } else {
            out.push(t.say(
                "compare.c.other-kernel",
                &[("container", &container), ("host", &host)],
            ));
        }
    }
    if let (Some(container), Some(vm)) = (kernel("container"), kernel("vm"))
        && container != vm
    {
        out.push(t.say("compare.c.vm-kernel", &[("vm", &vm)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::{HostHeader, RatioRow};

    fn with_ratios(ratios: Vec<RatioRow>) -> Comparison {
        Comparison {
            command: "versus compare".into(),
            host: HostHeader {
                kernel: None,
                cpu: None,
                kvm_backend: "kvm_pvm".into(),
                kvm_is_bare_metal_hardware: false,
                kvm_warning: None,
                kvm_caveat: None,
            },
            runs: 5,
            warmup: 0,
            rounds_done: 5,
            sections: vec![Section::Startup],
            without_vm: None,
            linux: None,
            series: Vec::new(),
            phases: Vec::new(),
            ratios,
            identity: Vec::new(),
            conclusions: Vec::new(),
        }
    }

    fn startup_ratio(top: &str, bottom: &str, pairs: &[f64]) -> RatioRow {
        RatioRow {
            section: Section::Startup,
            figure: figure::STARTUP.into(),
            numerator: top.into(),
            denominator: bottom.into(),
            ratio: Ratio::paired(pairs, &vec![1.0; pairs.len()]).unwrap(),
        }
    }

    #[test]
    fn a_ratio_the_runs_do_not_support_is_not_stated() {
        // Pairs spread ±11.2 around a median of 2: not significant, and the
        // spread said to two significant figures.
        let c = with_ratios(vec![
            startup_ratio("vm", "container", &[0.5, 1.0, 2.0, 20.0, 30.0]),
            startup_ratio("container", "host", &[0.5, 1.0, 2.0, 20.0, 30.0]),
        ]);
        let text = conclusions(&c).join("\n");
        assert!(!text.contains('×'), "a ratio was stated:\n{text}");
        assert_eq!(
            text.matches("no significant difference").count(),
            2,
            "{text}"
        );
        assert!(text.contains("spread ±11,"), "{text}");
    }

    #[test]
    fn a_uart_cheaper_than_the_paravirtual_console_is_said_the_other_way_round() {
        // UART / paravirtual pairs 0.4, 0.5, 0.5: the paravirtual console's
        // write took 2× as long.
        let c = with_ratios(vec![RatioRow {
            section: Section::Io,
            figure: figure::WRITE.into(),
            numerator: "vm (UART)".into(),
            denominator: "vm".into(),
            ratio: Ratio::paired(&[0.4, 0.5, 0.5], &[1.0; 3]).unwrap(),
        }]);
        let text = conclusions(&c).join("\n");
        assert!(
            text.contains(
                "a console write cost less than through the paravirtual console: the \
                 paravirtual console's took 2.0×"
            ),
            "{text}"
        );
        let korean = conclusions_in(&c, &Catalog::for_output(Lang::Ko)).join("\n");
        assert!(korean.contains("반가상화 콘솔은 UART의 2.0×"), "{korean}");
    }

    #[test]
    fn a_supported_ratio_is_stated_with_its_spread() {
        let c = with_ratios(vec![startup_ratio("vm", "container", &[3.0, 3.1, 3.2])]);
        let text = conclusions(&c).join("\n");
        assert!(
            text.contains("The VM took 3.1× (±0.1) as long as the container"),
            "{text}"
        );
    }

    #[test]
    fn a_large_ratio_is_rounded_in_both_languages() {
        // The Linux guest against the tiny kernel: a ratio in the thousands
        // whose pairs spread by hundreds (median 2200.8, spread 679.7).
        let pairs = [1300.0, 1541.2, 2200.8, 2900.6, 3000.0];
        let c = with_ratios(vec![startup_ratio("vm", "container", &pairs)]);
        let text = conclusions(&c).join("\n");
        assert!(text.contains("The VM took 2,200× (±700) as long"), "{text}");
        let korean = conclusions_in(&c, &Catalog::for_output(Lang::Ko)).join("\n");
        assert!(korean.contains("2,200× (±700)"), "{korean}");
    }
}
