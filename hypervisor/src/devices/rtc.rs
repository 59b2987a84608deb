//! A CMOS real-time clock (the MC146818 of every PC) on ports 0x70/0x71,
//! for a Linux guest: Linux reads the wall-clock time from it at boot
//! (`mach_get_cmos_time`), and without one every read floats to 0xff, whose
//! bit 7 in register A is "update in progress" — so the kernel spins on it
//! (a Debian kernel spent 40,000 exits there before this device existed).
//!
//! The model is the least a guest needs: an index port (0x70, its bit 7 the
//! NMI mask, ignored) and a data port (0x71) over 128 bytes of CMOS. The
//! time registers are computed from the host's clock on every read, in BCD
//! or binary and in 24- or 12-hour form as register B asks; "update in
//! progress" is never set (the time is read whole, so no read can tear);
//! no alarm, periodic or update interrupt is ever raised (register C reads
//! 0); register D says the battery is good. The other bytes are plain RAM
//! the guest may write and read back.

use std::time::{SystemTime, UNIX_EPOCH};

/// The index port (register number; bit 7 masks NMI on a real PC).
pub const RTC_INDEX_PORT: u16 = 0x70;
/// The data port (the indexed register's value).
pub const RTC_DATA_PORT: u16 = 0x71;

/// CMOS bytes: 14 clock registers and 114 bytes of RAM.
const CMOS_SIZE: usize = 128;
/// The index bits that select a register (bit 7 is the NMI mask).
const INDEX_MASK: u8 = 0x7f;

/// Clock register numbers.
const REG_SECONDS: u8 = 0x00;
const REG_MINUTES: u8 = 0x02;
const REG_HOURS: u8 = 0x04;
const REG_WEEKDAY: u8 = 0x06;
const REG_DAY: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
const REG_D: u8 = 0x0d;
/// The century byte (IBM's convention; ACPI's FADT may name another).
const REG_CENTURY: u8 = 0x32;

/// Register A's "update in progress" bit: versus never sets it.
pub const REG_A_UIP: u8 = 0x80;
/// Register A as the guest first reads it: the 32.768 kHz time base
/// (divider 010) and a 1024 Hz periodic rate (0110), a PC BIOS's setting.
const REG_A_DEFAULT: u8 = 0x26;
/// Register B's "data mode binary" bit (clear: BCD).
pub const REG_B_BINARY: u8 = 0x04;
/// Register B's "24-hour" bit (clear: 12-hour, bit 7 of the hours = PM).
pub const REG_B_24H: u8 = 0x02;
/// Register B as the guest first reads it: BCD, 24-hour, no interrupts —
/// what a PC BIOS leaves and what Linux expects.
const REG_B_DEFAULT: u8 = REG_B_24H;
/// Register B's SET bit (the guest halts updates to set the time): kept as
/// written, the time still follows the host.
const REG_B_WRITABLE: u8 = 0xff;
/// Register D's "valid RAM and time" bit: the battery is good.
const REG_D_VRT: u8 = 0x80;
/// In 12-hour mode, bit 7 of the hours register marks PM.
const HOURS_PM: u8 = 0x80;

/// A broken-down UTC date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilTime {
    /// Full year (e.g. 2026).
    pub year: i64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
    /// 1 (Sunday) – 7 (Saturday), the RTC's day-of-week numbering.
    pub weekday: u8,
}

impl CivilTime {
    /// The UTC date and time `secs` seconds after 1970-01-01 00:00:00.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let in_day = secs.rem_euclid(86_400);
        // Days since 1970-01-01 to a proleptic Gregorian date, counted in
        // 400-year eras from 0000-03-01 so the leap day ends each year.
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // 1970-01-01 was a Thursday (5 in the RTC's 1 = Sunday numbering).
        let weekday = (days + 4).rem_euclid(7) + 1;
        CivilTime {
            year,
            month: month as u8,
            day: day as u8,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
            weekday: weekday as u8,
        }
    }
}

/// Where the RTC's time comes from.
pub type Clock = fn() -> i64;

/// The host's clock, in seconds since the epoch (0 if it is set before it).
pub fn host_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The CMOS RTC.
#[derive(Debug)]
pub struct Rtc {
    index: u8,
    cmos: [u8; CMOS_SIZE],
    clock: Clock,
}

impl Default for Rtc {
    fn default() -> Self {
        Self::new(host_clock)
    }
}

fn to_bcd(value: u8) -> u8 {
    (value / 10) << 4 | (value % 10)
}

impl Rtc {
    /// An RTC reading its time from `clock`.
    pub fn new(clock: Clock) -> Self {
        let mut cmos = [0; CMOS_SIZE];
        cmos[REG_A as usize] = REG_A_DEFAULT;
        cmos[REG_B as usize] = REG_B_DEFAULT;
        Rtc {
            index: 0,
            cmos,
            clock,
        }
    }

    /// Whether `port` is one of the RTC's.
    pub fn handles(port: u16) -> bool {
        port == RTC_INDEX_PORT || port == RTC_DATA_PORT
    }

    /// An `in` from `port`.
    pub fn pio_read(&self, port: u16) -> u8 {
        match port {
            // The index port is write-only on a PC; it reads back the index.
            RTC_INDEX_PORT => self.index,
            _ => self.register(self.index),
        }
    }

    /// An `out` to `port`.
    pub fn pio_write(&mut self, port: u16, value: u8) {
        match port {
            RTC_INDEX_PORT => self.index = value & INDEX_MASK,
            _ => match self.index {
                // The time follows the host: a guest setting it is ignored.
                REG_SECONDS..=REG_YEAR | REG_CENTURY => {}
                // UIP is read-only.
                REG_A => self.cmos[REG_A as usize] = value & !REG_A_UIP,
                REG_B => self.cmos[REG_B as usize] = value & REG_B_WRITABLE,
                // Flags and status are read-only.
                REG_C | REG_D => {}
                index => self.cmos[index as usize] = value,
            },
        }
    }

    /// The value of register `index`.
    fn register(&self, index: u8) -> u8 {
        let mode = self.cmos[REG_B as usize];
        let encode = |value: u8| {
            if mode & REG_B_BINARY != 0 {
                value
            } else {
                to_bcd(value)
            }
        };
        let now = || CivilTime::from_unix((self.clock)());
        match index {
            REG_SECONDS => encode(now().second),
            REG_MINUTES => encode(now().minute),
            REG_HOURS => {
                let hour = now().hour;
                if mode & REG_B_24H != 0 {
                    encode(hour)
                } else {
                    // 12-hour: 12, 1 … 11 AM, then 12, 1 … 11 PM with bit 7.
                    let twelve = if hour % 12 == 0 { 12 } else { hour % 12 };
                    encode(twelve) | if hour >= 12 { HOURS_PM } else { 0 }
                }
            }
            REG_WEEKDAY => encode(now().weekday),
            REG_DAY => encode(now().day),
            REG_MONTH => encode(now().month),
            REG_YEAR => encode(now().year.rem_euclid(100) as u8),
            REG_CENTURY => encode(now().year.div_euclid(100).rem_euclid(100) as u8),
            REG_A => self.cmos[REG_A as usize] & !REG_A_UIP,
            REG_C => 0,
            REG_D => REG_D_VRT,
            index => self.cmos[index as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 18:07:09 UTC, a Tuesday.
    fn evening() -> i64 {
        1_796_148_429
    }
    /// 2000-02-29 00:30:05 UTC, a Tuesday (a leap day, at half past midnight).
    fn leap_midnight() -> i64 {
        951_784_205
    }

    fn read(rtc: &mut Rtc, reg: u8) -> u8 {
        rtc.pio_write(RTC_INDEX_PORT, reg);
        rtc.pio_read(RTC_DATA_PORT)
    }

    #[test]
    fn civil_time_from_unix_seconds() {
        assert_eq!(
            CivilTime::from_unix(evening()),
            CivilTime {
                year: 2026,
                month: 12,
                day: 1,
                hour: 18,
                minute: 7,
                second: 9,
                weekday: 3,
            }
        );
        let leap = CivilTime::from_unix(leap_midnight());
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        assert_eq!((leap.hour, leap.minute, leap.second), (0, 30, 5));
        let epoch = CivilTime::from_unix(0);
        assert_eq!(
            (epoch.year, epoch.month, epoch.day, epoch.weekday),
            (1970, 1, 1, 5)
        );
        let before = CivilTime::from_unix(-1);
        assert_eq!(
            (before.year, before.month, before.day, before.hour),
            (1969, 12, 31, 23)
        );
    }

    #[test]
    fn the_time_reads_in_bcd_and_24_hours_by_default() {
        let mut rtc = Rtc::new(evening);
        assert_eq!(read(&mut rtc, REG_SECONDS), 0x09);
        assert_eq!(read(&mut rtc, REG_MINUTES), 0x07);
        assert_eq!(read(&mut rtc, REG_HOURS), 0x18);
        assert_eq!(read(&mut rtc, REG_WEEKDAY), 0x03);
        assert_eq!(read(&mut rtc, REG_DAY), 0x01);
        assert_eq!(read(&mut rtc, REG_MONTH), 0x12);
        assert_eq!(read(&mut rtc, REG_YEAR), 0x26);
        assert_eq!(read(&mut rtc, REG_CENTURY), 0x20);
        assert_eq!(read(&mut rtc, REG_D), REG_D_VRT, "the battery is good");
    }

    #[test]
    fn binary_mode_follows_register_b() {
        let mut rtc = Rtc::new(evening);
        rtc.pio_write(RTC_INDEX_PORT, REG_B);
        rtc.pio_write(RTC_DATA_PORT, REG_B_24H | REG_B_BINARY);
        assert_eq!(read(&mut rtc, REG_B), REG_B_24H | REG_B_BINARY);
        assert_eq!(read(&mut rtc, REG_HOURS), 18);
        assert_eq!(read(&mut rtc, REG_MONTH), 12);
        assert_eq!(read(&mut rtc, REG_YEAR), 26);
        assert_eq!(read(&mut rtc, REG_CENTURY), 20);
    }

    #[test]
    fn twelve_hour_mode_marks_pm_in_bit_7() {
        let mut rtc = Rtc::new(evening);
        rtc.pio_write(RTC_INDEX_PORT, REG_B);
        rtc.pio_write(RTC_DATA_PORT, 0);
        assert_eq!(read(&mut rtc, REG_HOURS), HOURS_PM | 0x06, "6 PM in BCD");
        rtc.pio_write(RTC_INDEX_PORT, REG_B);
        rtc.pio_write(RTC_DATA_PORT, REG_B_BINARY);
        assert_eq!(read(&mut rtc, REG_HOURS), HOURS_PM | 6, "6 PM in binary");
        let mut night = Rtc::new(leap_midnight);
        night.pio_write(RTC_INDEX_PORT, REG_B);
        night.pio_write(RTC_DATA_PORT, 0);
        assert_eq!(
            read(&mut night, REG_HOURS),
            0x12,
            "half past midnight is 12 AM"
        );
    }

    #[test]
    fn update_in_progress_is_never_set() {
        let mut rtc = Rtc::new(evening);
        assert_eq!(read(&mut rtc, REG_A) & REG_A_UIP, 0);
        assert_eq!(read(&mut rtc, REG_A), REG_A_DEFAULT);
        rtc.pio_write(RTC_INDEX_PORT, REG_A);
        rtc.pio_write(RTC_DATA_PORT, 0xff);
        assert_eq!(read(&mut rtc, REG_A), 0x7f, "UIP is read-only");
        assert_eq!(read(&mut rtc, REG_C), 0, "no interrupt is ever flagged");
    }

    #[test]
    fn the_index_ignores_the_nmi_bit_and_the_ram_keeps_writes() {
        let mut rtc = Rtc::new(evening);
        // Index 0x80 | 0x04 reads the hours with NMI masked.
        assert_eq!(read(&mut rtc, 0x80 | REG_HOURS), 0x18);
        rtc.pio_write(RTC_INDEX_PORT, 0x40);
        rtc.pio_write(RTC_DATA_PORT, 0x5a);
        assert_eq!(read(&mut rtc, 0x40), 0x5a);
        rtc.pio_write(RTC_INDEX_PORT, REG_SECONDS);
        rtc.pio_write(RTC_DATA_PORT, 0x59);
        assert_eq!(
            read(&mut rtc, REG_SECONDS),
            0x09,
            "the time follows the host"
        );
        assert!(Rtc::handles(0x70) && Rtc::handles(0x71) && !Rtc::handles(0x72));
    }
}
