//! Step 6: the emulated devices — only a 16550 UART; the versus ports
//! (marker, exit, paravirtual console, ping) are handled in `exits/mod.rs`.

pub mod serial;
