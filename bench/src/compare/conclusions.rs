//! The conclusions of a comparison: sentences computed from its figures,
//! section by section, each one only when its figures exist.

use super::model::{Comparison, Section, figure};
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

/// "3.1× (±0.2)" for a ratio above one, and which way round.
fn times(ratio: &Ratio) -> String {
    format!("{:.1}× (±{:.1})", ratio.pairs.median, ratio.pairs.iqr / 2.0)
}

/// "no significant difference: the paired ratios spread ±10.6, more than
/// the ratio itself" — said instead of a ratio the runs do not support.
fn not_significant(ratio: &Ratio) -> String {
    format!(
        "no significant difference: the paired ratios spread ±{:.1}, more than the ratio \
         itself (more --runs may settle it)",
        ratio.spread()
    )
}

/// "The VM took 3.1× (±0.2) as long as the container to reach its
/// workload", whichever way round the ratio `slow / fast` falls.
fn took_as_long(ratio: &Ratio, slow: &str, fast: &str, what: &str) -> String {
    if !ratio.is_significant() {
        format!(
            "The {slow} against the {fast}, {what} — {}.",
            not_significant(ratio)
        )
    } else if ratio.pairs.median >= 1.0 {
        format!(
            "The {slow} took {} as long as the {fast} {what}.",
            times(ratio)
        )
    } else {
        // Invert each pair's ratio: the spread of 1/x is not 1/spread.
        let inverse = Summary {
            median: 1.0 / ratio.pairs.median,
            iqr: ratio.pairs.iqr / (ratio.pairs.median * ratio.pairs.median),
            ..ratio.pairs.clone()
        };
        format!(
            "The {fast} took {} as long as the {slow} {what}.",
            times(&Ratio { pairs: inverse })
        )
    }
}

/// Sentences computed from the figures; each one only when its figures exist.
pub(super) fn conclusions(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    startup_conclusions(c, &mut out);
    syscall_conclusions(c, &mut out);
    io_conclusions(c, &mut out);
    identity_conclusions(c, &mut out);
    out
}

/// Startup: the VM against the container, the container against the host.
fn startup_conclusions(c: &Comparison, out: &mut Vec<String>) {
    if let Some(r) = ratio_of(c, figure::STARTUP, "vm", "container") {
        out.push(took_as_long(r, "VM", "container", "to reach its workload"));
    }
    if let Some(r) = ratio_of(c, figure::STARTUP, "container", "host") {
        if !r.is_significant() {
            out.push(format!(
                "Fencing a process in (namespaces, cgroup, pivot_root, capabilities, seccomp): \
                 the container against a plain host process, to reach its workload — {}.",
                not_significant(r)
            ));
            return;
        }
        out.push(format!(
            "Fencing a process in (namespaces, cgroup, pivot_root, capabilities, seccomp): the \
             container took {} as long as a plain host process to reach its workload.",
            times(r)
        ));
    }
}

/// System calls: a getpid on the host and in the VM, the seccomp filter's
/// share, the exits a VM's getpid loop caused.
fn syscall_conclusions(c: &Comparison, out: &mut Vec<String>) {
    if let (Some(host), Some(vm)) = (
        median_of(c, Section::Syscall, figure::GETPID, "host"),
        median_of(c, Section::Syscall, figure::GETPID, "vm"),
    ) {
        let ratio = ratio_of(c, figure::GETPID, "vm", "host")
            .map(|r| {
                if r.is_significant() {
                    format!(" — {} the host's", times(r))
                } else {
                    format!(" — against the host's, {}", not_significant(r))
                }
            })
            .unwrap_or_default();
        out.push(format!(
            "A getpid cost {} on the host and {} in the VM{ratio}.",
            fmt::duration_f64(host),
            fmt::duration_f64(vm)
        ));
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
                if r.is_significant() {
                    format!("; paired by round, {}", times(r))
                } else {
                    format!("; paired by round, {}", not_significant(r))
                }
            })
            .unwrap_or_default();
        out.push(format!(
            "In the container the seccomp filter changed a getpid by {} ({} with it, {} \
             without{paired}).",
            signed_duration(with - without),
            fmt::duration_f64(with),
            fmt::duration_f64(without)
        ));
    }
    if let Some(exits) = median_of(c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm") {
        if exits == 0.0 {
            out.push(
                "The VM's getpid loop caused no VM exits: a system call is answered by the \
                 guest's own kernel, the host never sees it."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "The VM's getpid loop caused {exits:.1} exits per 1,000 calls (expected 0: \
                 something other than the guest kernel answered)."
            ));
        }
    }
}

/// I/O: the UART against the paravirtual console, one exit round trip.
fn io_conclusions(c: &Comparison, out: &mut Vec<String>) {
    if let Some(r) = ratio_of(c, figure::WRITE, "vm (UART)", "vm") {
        let per_write = median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm (UART)")
            .zip(median_of(c, Section::Io, figure::EXITS_PER_WRITE, "vm"))
            .map(|(uart, paravirt)| format!(" ({uart:.0} exits per write against {paravirt:.0})"))
            .unwrap_or_default();
        out.push(if r.is_significant() {
            format!(
                "Through the emulated UART every byte is an exit: a console write cost {} the \
                 paravirtual console's{per_write}.",
                times(r)
            )
        } else {
            format!(
                "Through the emulated UART every byte is an exit{per_write}; a console write \
                 against the paravirtual console's — {}.",
                not_significant(r)
            )
        });
    }
    if let Some(exit) = median_of(c, Section::Io, figure::EXIT_HOST, "vm") {
        let getpid = median_of(c, Section::Syscall, figure::GETPID, "host")
            .map(|g| {
                format!(
                    ", {:.0}× a host getpid",
                    if g > 0.0 { exit / g } else { 0.0 }
                )
            })
            .unwrap_or_default();
        out.push(format!(
            "One VM exit round trip (guest → VMM → guest) cost {}{getpid}.",
            fmt::duration_f64(exit)
        ));
    }
}

/// Identity: which kernel answers in the container and in the VM.
fn identity_conclusions(c: &Comparison, out: &mut Vec<String>) {
    let kernel = |subject: &str| {
        c.identity
            .iter()
            .find(|row| row.subject == subject)
            .and_then(|row| row.kernel.clone())
    };
    if let (Some(host), Some(container)) = (kernel("host"), kernel("container")) {
        if host == container {
            out.push(
                "The container's uname is the host's own kernel: one kernel serves both."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "The container's uname ({container}) differs from the host's ({host}) — \
                 unexpected for a container."
            ));
        }
    }
    if let (Some(container), Some(vm)) = (kernel("container"), kernel("vm"))
        && container != vm
    {
        out.push(format!(
            "The VM's uname names its own guest kernel ({vm}), not the host's."
        ));
    }
}

fn signed_duration(ns: f64) -> String {
    if ns >= 0.0 {
        format!("+{}", fmt::duration_f64(ns))
    } else {
        format!("−{}", fmt::duration_f64(-ns))
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
            },
            runs: 5,
            warmup: 0,
            rounds_done: 5,
            sections: vec![Section::Startup],
            without_vm: None,
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
        // Pairs spread ±11.2 around a median of 2: not significant.
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
        assert!(text.contains("±11.2"), "{text}");
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
}
