//! Step 6: the emulated devices — a 16550 UART and the paravirtual
//! services (sleep, random bytes, standard input); the versus ports are dispatched in
//! `exits/mod.rs` (marker, exit, paravirtual console and ping handled
//! there).

pub mod paravirt;
pub mod serial;
pub mod stdin;
