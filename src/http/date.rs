//! HTTP dates (lighttpd src/http_date.c): IMF-fixdate output, a per-second
//! cache of the formatted `Date`, and parsing of the three HTTP-date forms
//! with lighttpd's leniency (field ranges are not checked; they roll over
//! as `timegm` does; the string length picks the format).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Wed, 25 Nov 2026 19:44:59 GMT`.
pub fn http_date(t: SystemTime) -> String {
    http_date_secs(unix_secs(t))
}

/// IMF-fixdate of a Unix time in seconds. Written digit by digit rather
/// than with `format!`: the idle server runs this every second, and the
/// formatting machinery's code and tables would keep extra pages resident.
pub fn http_date_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    if (0..=9999).contains(&y) {
        let mut out = String::with_capacity(29);
        out.push_str(WDAYS[wday]);
        out.push_str(", ");
        push_digits(&mut out, d, 2);
        out.push(' ');
        out.push_str(MONTHS[(m - 1) as usize]);
        out.push(' ');
        push_digits(&mut out, y, 4);
        out.push(' ');
        push_digits(&mut out, rem / 3600, 2);
        out.push(':');
        push_digits(&mut out, rem % 3600 / 60, 2);
        out.push(':');
        push_digits(&mut out, rem % 60, 2);
        out.push_str(" GMT");
        return out;
    }
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WDAYS[wday],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Appends the `width` low decimal digits of `v` (0 ≤ v), zero-padded.
fn push_digits(out: &mut String, v: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = (v / 10_i64.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// Seconds since the epoch (negative before 1970).
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Formats the `Date` header at most once per second.
#[derive(Debug, Default)]
pub struct DateCache {
    secs: Option<i64>,
    text: String,
}

impl DateCache {
    pub fn new() -> DateCache {
        DateCache::default()
    }

    /// The IMF-fixdate for `now`, re-formatted only when the second changed.
    pub fn get(&mut self, now: SystemTime) -> &str {
        let secs = unix_secs(now);
        if self.secs != Some(secs) {
            self.text = http_date_secs(secs);
            self.secs = Some(secs);
        }
        &self.text
    }
}

/// Parses IMF-fixdate (29 chars), RFC 850 (longer) or asctime (shorter), as
/// lighttpd `http_date_str_to_tm` + `timegm`. Text after the date is ignored.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let secs = parse_http_date_secs(s)?;
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// [`parse_http_date`] as Unix seconds.
pub fn parse_http_date_secs(s: &str) -> Option<i64> {
    parse_http_date_at(s, unix_secs(SystemTime::now()))
}

/// Broken-down time as lighttpd's parsers fill `struct tm` (month 0-based).
struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
    sec: i64,
}

/// Parsing relative to `now` (RFC 850 two-digit years are resolved against it).
fn parse_http_date_at(s: &str, now: i64) -> Option<i64> {
    let b = s.as_bytes();
    let tm = match b.len() {
        29 => parse_imf(b)?,
        n if n > 29 => parse_rfc850(b, now)?,
        _ => parse_asctime(b)?,
    };
    Some(timegm(&tm))
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn two_digits(b: &[u8], i: usize) -> Option<i64> {
    let (x, y) = (at(b, i), at(b, i + 1));
    (x.is_ascii_digit() && y.is_ascii_digit()).then(|| i64::from((x - b'0') * 10 + (y - b'0')))
}

fn wday_ok(b: &[u8]) -> bool {
    WDAYS.iter().any(|d| b.get(..3) == Some(d.as_bytes()))
}

fn month(b: &[u8], i: usize) -> Option<i64> {
    MONTHS
        .iter()
        .position(|m| b.get(i..i + 3) == Some(m.as_bytes()))
        .map(|m| m as i64)
}

/// `hh:mm:ss` starting at `i`.
fn clock(b: &[u8], i: usize) -> Option<(i64, i64, i64)> {
    let h = two_digits(b, i)?;
    (at(b, i + 2) == b':').then_some(())?;
    let m = two_digits(b, i + 3)?;
    (at(b, i + 5) == b':').then_some(())?;
    Some((h, m, two_digits(b, i + 6)?))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf(b: &[u8]) -> Option<Tm> {
    (wday_ok(b) && &b[3..5] == b", ").then_some(())?;
    let mday = two_digits(b, 5)?;
    (at(b, 7) == b' ').then_some(())?;
    let mon = month(b, 8)?;
    (at(b, 11) == b' ').then_some(())?;
    let year = two_digits(b, 12)? * 100 + two_digits(b, 14)?;
    (at(b, 16) == b' ').then_some(())?;
    let (hour, min, sec) = clock(b, 17)?;
    (&b[25..29] == b" GMT").then_some(())?;
    Some(Tm {
        year,
        mon,
        mday,
        hour,
        min,
        sec,
    })
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn parse_rfc850(b: &[u8], now: i64) -> Option<Tm> {
    wday_ok(b).then_some(())?;
    let c = 3 + b[3..].iter().position(|&x| x == b',')?;
    (at(b, c + 1) == b' ').then_some(())?;
    let mday = two_digits(b, c + 2)?;
    (at(b, c + 4) == b'-').then_some(())?;
    let mon = month(b, c + 5)?;
    (at(b, c + 8) == b'-').then_some(())?;
    let yy = two_digits(b, c + 9)?;
    (at(b, c + 11) == b' ').then_some(())?;
    let (hour, min, sec) = clock(b, c + 12)?;
    (b.get(c + 20..c + 24) == Some(b" GMT")).then_some(())?;
    let cur = civil_from_days(now.div_euclid(86_400)).0;
    let mut year = cur - cur.rem_euclid(100) + yy;
    if year > cur + 50 {
        year -= 100;
    }
    Some(Tm {
        year,
        mon,
        mday,
        hour,
        min,
        sec,
    })
}

/// `Sun Nov  6 08:49:37 1994`
fn parse_asctime(b: &[u8]) -> Option<Tm> {
    (wday_ok(b) && at(b, 3) == b' ').then_some(())?;
    let mon = month(b, 4)?;
    let d1 = at(b, 8);
    (at(b, 7) == b' ' && (d1 == b' ' || d1.is_ascii_digit()) && at(b, 9).is_ascii_digit())
        .then_some(())?;
    let mday = if d1 == b' ' {
        0
    } else {
        i64::from(d1 - b'0') * 10
    } + i64::from(at(b, 9) - b'0');
    (at(b, 10) == b' ').then_some(())?;
    let (hour, min, sec) = clock(b, 11)?;
    (at(b, 19) == b' ').then_some(())?;
    let year = two_digits(b, 20)? * 100 + two_digits(b, 22)?;
    Some(Tm {
        year,
        mon,
        mday,
        hour,
        min,
        sec,
    })
}

/// `timegm`: out-of-range day/hour/minute/second fields roll over.
fn timegm(tm: &Tm) -> i64 {
    let days = days_from_civil(tm.year, tm.mon + 1, 1) + tm.mday - 1;
    days * 86_400 + tm.hour * 3600 + tm.min * 60 + tm.sec
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(http_date_secs(T), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date_secs(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date_secs(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            http_date_secs(253_402_300_799),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            http_date_secs(253_402_300_800),
            "Sat, 01 Jan 10000 00:00:00 GMT"
        );
        assert_eq!(
            http_date_secs(-62_135_596_800),
            "Mon, 01 Jan 0001 00:00:00 GMT"
        );
        assert_eq!(
            http_date_secs(-62_167_219_200),
            "Sat, 01 Jan 0000 00:00:00 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(1_795_635_899)),
            "Wed, 25 Nov 2026 19:44:59 GMT"
        );
    }

    #[test]
    fn parses_the_three_formats() {
        let now = 1_795_635_899;
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date_at(s, now), Some(T), "{s}");
        }
        // two-digit years are taken in the current century unless > 50 years ahead
        assert_eq!(
            parse_http_date_at("Thursday, 01-Jan-70 00:00:00 GMT", now),
            Some(3_155_760_000)
        );
        assert_eq!(
            parse_http_date_at("Monday, 01-Jan-80 00:00:00 GMT", now),
            Some(315_532_800)
        );
    }

    #[test]
    fn lenient_like_lighttpd() {
        let now = 1_795_635_899;
        // weekday not checked against the date; ranges roll over
        assert_eq!(
            parse_http_date_at("Mon, 06 Nov 1994 08:49:37 GMT", now),
            Some(T)
        );
        assert_eq!(
            parse_http_date_at("Sun, 05 Nov 1994 32:49:37 GMT", now),
            Some(T)
        );
        // trailing text after an asctime date is ignored
        assert_eq!(
            parse_http_date_at("Sun Nov  6 08:49:37 1994 x", now),
            Some(T)
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT ",
            "Sun Nov  6 08:49:37 94",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date_at(s, 0), None, "{s:?}");
        }
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").is_some());
    }

    #[test]
    fn cache_reformats_per_second() {
        let mut c = DateCache::new();
        let t0 = UNIX_EPOCH + Duration::from_millis(T as u64 * 1000 + 100);
        assert_eq!(c.get(t0), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            c.get(t0 + Duration::from_millis(800)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            c.get(t0 + Duration::from_secs(1)),
            "Sun, 06 Nov 1994 08:49:38 GMT"
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1_000_000i64, -1, 0, 1, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
