//! Timer triggers: FC's schedule syntax (6-field cron with seconds, `CRON_TZ=<zone>` prefix,
//! `@every <duration>`) and the timer event (reference/fc.md §2.2).

use std::time::Duration;

use jiff::tz::TimeZone;
use serde_json::json;
use time::OffsetDateTime;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every interval, counted from an anchor (the emulator's start).
    Every(Duration),
    /// A cron expression evaluated in a time zone (UTC unless `CRON_TZ` says otherwise).
    Cron(Box<Cron>),
}

/// The fields of a cron expression, each a set of allowed values.
#[derive(Debug, Clone)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_star: bool,
    weekdays_star: bool,
    tz: TimeZone,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses one cron field into a bit set over `lo..=hi`. `names` maps names to values from
/// `names_base`. Returns the set and whether the field was `*` or `?`.
fn field(
    spec: &str,
    lo: u32,
    hi: u32,
    names: &[&str],
    names_base: u32,
    what: &str,
) -> Result<(u64, bool), String> {
    let star = spec == "*" || spec == "?";
    let value = |s: &str| -> Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(i as u32 + names_base);
        }
        s.parse::<u32>().map_err(|_| {
            format!(
                "{what}: {s:?} is not a number{}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" or a name ({})", names.join(", "))
                }
            )
        })
    };
    let mut bits = 0u64;
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: step {s:?} must be a positive number"))?,
            ),
            None => (part, 1),
        };
        let (start, end) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { hi } else { v })
        };
        if start < lo || end > hi || start > end {
            return Err(format!("{what}: {range:?} is outside {lo}-{hi}"));
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

/// Parses a Go-style duration: `5m`, `1h30m`, `90s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    go_duration(s.trim())
}

fn go_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 5m or 1h30m"))?;
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("{s:?}: unknown unit {c:?}; use h, m or s")),
        };
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(format!("{s:?} is not a duration like 5m or 1h30m"));
    }
    Ok(Duration::from_secs(total))
}

impl Schedule {
    /// Parses FC's schedule syntax.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let expr = expr.trim();
        if let Some(rest) = expr.strip_prefix("@every") {
            return Ok(Schedule::Every(go_duration(rest.trim())?));
        }
        let (tz, fields) = match expr.strip_prefix("CRON_TZ=") {
            Some(rest) => {
                let (zone, fields) = rest
                    .split_once(char::is_whitespace)
                    .ok_or("CRON_TZ=<zone> must be followed by the six fields")?;
                (
                    TimeZone::get(zone).map_err(|_| {
                        format!(
                            "unknown time zone {zone:?}; use an IANA name such as Asia/Shanghai"
                        )
                    })?,
                    fields.trim(),
                )
            }
            None => (TimeZone::UTC, expr),
        };
        let parts: Vec<&str> = fields.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(format!(
                "a cron expression has 6 fields (seconds minutes hours day-of-month month day-of-week), got {}",
                parts.len()
            ));
        }
        let (seconds, _) = field(parts[0], 0, 59, &[], 0, "seconds")?;
        let (minutes, _) = field(parts[1], 0, 59, &[], 0, "minutes")?;
        let (hours, _) = field(parts[2], 0, 23, &[], 0, "hours")?;
        let (days, days_star) = field(parts[3], 1, 31, &[], 0, "day-of-month")?;
        let (months, _) = field(parts[4], 1, 12, &MONTHS, 1, "month")?;
        let (mut weekdays, weekdays_star) = field(parts[5], 0, 7, &WEEKDAYS, 0, "day-of-week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Schedule::Cron(Box::new(Cron {
            seconds,
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_star,
            weekdays_star,
            tz,
        })))
    }

    /// The first firing strictly after `after`. `anchor` is where `@every` counts from.
    pub fn next_after(
        &self,
        after: OffsetDateTime,
        anchor: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        match self {
            Schedule::Every(every) => {
                let every = every.as_secs().max(1) as i64;
                let since = (after - anchor).whole_seconds();
                let n = if since < 0 { 0 } else { since / every + 1 };
                Some(anchor + time::Duration::seconds(n * every))
            }
            Schedule::Cron(c) => c.next_after(after),
        }
    }
}

impl Cron {
    fn day_matches(&self, dom: i8, dow: i8) -> bool {
        let dom_ok = self.days & (1 << dom) != 0;
        let dow_ok = self.weekdays & (1 << dow) != 0;
        match (self.days_star, self.weekdays_star) {
            (true, true) => true,
            (true, false) => dow_ok,
            (false, true) => dom_ok,
            (false, false) => dom_ok || dow_ok,
        }
    }

    fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after_ts = jiff::Timestamp::from_second(after.unix_timestamp()).ok()?;
        let start = self.tz.to_datetime(after_ts);
        let start_date = start.date();
        for day in 0..(366 * 5) {
            let date = start_date.checked_add(jiff::Span::new().days(day)).ok()?;
            if self.months & (1 << date.month()) == 0
                || !self.day_matches(date.day(), date.weekday().to_sunday_zero_offset())
            {
                continue;
            }
            for h in 0..24i8 {
                if self.hours & (1 << h) == 0 || (day == 0 && h < start.hour()) {
                    continue;
                }
                for m in 0..60i8 {
                    if self.minutes & (1 << m) == 0
                        || (day == 0 && h == start.hour() && m < start.minute())
                    {
                        continue;
                    }
                    for s in 0..60i8 {
                        if self.seconds & (1 << s) == 0 {
                            continue;
                        }
                        let civil = date.at(h, m, s, 0);
                        let Ok(ts) = self.tz.to_ambiguous_timestamp(civil).compatible() else {
                            continue;
                        };
                        if ts > after_ts {
                            return OffsetDateTime::from_unix_timestamp(ts.as_second()).ok();
                        }
                    }
                }
            }
        }
        None
    }
}

/// The timer event: `{"triggerTime", "triggerName", "payload"}`, time at second precision.
pub fn timer_event(trigger: &str, payload: &str, at: OffsetDateTime) -> Vec<u8> {
    let event = json!({
        "triggerTime": rfc3339_seconds(at),
        "triggerName": trigger,
        "payload": payload,
    });
    serde_json::to_vec(&event).unwrap_or_default()
}

/// `2023-12-26T07:49:00Z`.
pub fn rfc3339_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A synthetic timer firing: `{"type": "timer", ...}` and `fcemu events generate timer`.
#[derive(Debug, Clone, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct TimerEventArgs {
    /// Function whose timer trigger fires (default: the only timer in the app).
    #[arg(long)]
    #[serde(default)]
    pub function: Option<String>,
    /// Trigger name.
    #[arg(long)]
    #[serde(default)]
    pub trigger: Option<String>,
    /// Payload (default: the trigger's).
    #[arg(long)]
    #[serde(default)]
    pub payload: Option<String>,
}

/// A schedule (manifest `type = "timer"`, as planned).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct TimerTrigger {
    /// Cron expression with seconds, or `@every <duration>`.
    pub cron: String,
    /// Payload string delivered in the event.
    pub payload: String,
}

/// The manifest table of a `type = "timer"` trigger, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimerTrigger {
    pub(crate) name: Option<String>,
    pub(crate) cron: String,
    pub(crate) payload: Option<String>,
    pub(crate) enable: Option<bool>,
}

impl TimerTrigger {
    /// FC's view of the trigger (GetTrigger, ListTriggers): its type, source ARN and config.
    pub fn fc_metadata(
        &self,
        _region: &str,
        _account: &str,
        enabled: bool,
    ) -> (&'static str, String, serde_json::Value) {
        (
            "timer",
            String::new(),
            json!({ "cronExpression": self.cron, "enable": enabled, "payload": self.payload }),
        )
    }

    /// Plans a `type = "timer"` trigger table of function `check.function`, reporting what is
    /// wrong to `check` (and planning something sensible anyway).
    pub(crate) fn from_manifest(
        t: RawTimerTrigger,
        check: &mut crate::manifest::TriggerCheck<'_>,
    ) -> Self {
        let fn_name = check.function;
        let cron = t.cron.trim().to_string();
        if let Err(why) = Schedule::parse(&cron) {
            check.problem(format!("function `{fn_name}`: cron {cron:?} is not valid: {why}"), "invalid schedule", "use FC's syntax: six fields with seconds (\"0 */15 * * * *\"), optionally \"CRON_TZ=Asia/Shanghai \" before them, or \"@every 5m\"");
        } else if cron.is_empty() {
            check.problem(
                format!("function `{fn_name}`: empty cron expression"),
                "empty",
                "use a cron expression with seconds such as \"0 */15 * * * *\", or \"@every 5m\"",
            );
        }
        TimerTrigger {
            cron,
            payload: t.payload.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn fires(expr: &str, from: OffsetDateTime, n: usize) -> Vec<String> {
        let s = Schedule::parse(expr).unwrap();
        let mut t = from;
        let mut out = Vec::new();
        for _ in 0..n {
            t = s.next_after(t, from).unwrap();
            out.push(rfc3339_seconds(t));
        }
        out
    }

    #[test]
    fn every_quarter_hour() {
        let from = datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(
            fires("0 */15 * * * *", from, 5),
            [
                "2024-01-01T00:15:00Z",
                "2024-01-01T00:30:00Z",
                "2024-01-01T00:45:00Z",
                "2024-01-01T01:00:00Z",
                "2024-01-01T01:15:00Z"
            ]
        );
    }

    #[test]
    fn names_ranges_and_weekdays() {
        // 2024-01-01 is a Monday.
        let from = datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(
            fires("0 30 9 * * MON-FRI", from, 2),
            ["2024-01-01T09:30:00Z", "2024-01-02T09:30:00Z"]
        );
        assert_eq!(fires("0 0 0 * * 0", from, 1), ["2024-01-07T00:00:00Z"]);
        assert_eq!(fires("0 0 0 * * 7", from, 1), ["2024-01-07T00:00:00Z"]);
        assert_eq!(fires("0 0 12 1 FEB ?", from, 1), ["2024-02-01T12:00:00Z"]);
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let from = datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(
            fires("CRON_TZ=Asia/Shanghai 0 0 4 * * *", from, 1),
            ["2024-01-01T20:00:00Z"]
        );
    }

    #[test]
    fn every_counts_from_the_anchor() {
        let from = datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(
            fires("@every 1h30m", from, 2),
            ["2024-01-01T01:30:00Z", "2024-01-01T03:00:00Z"]
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!(
            Schedule::parse("0 0 * * *")
                .unwrap_err()
                .contains("6 fields")
        );
        assert!(
            Schedule::parse("0 61 * * * *")
                .unwrap_err()
                .contains("minutes")
        );
        assert!(
            Schedule::parse("@every 5x")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(
            Schedule::parse("CRON_TZ=Mars/Olympus 0 0 * * * *")
                .unwrap_err()
                .contains("time zone")
        );
    }

    #[test]
    fn timer_event_matches_fc() {
        let e = timer_event("nightly", "compact", datetime!(2023-12-26 07:49:00.123 UTC));
        assert_eq!(
            String::from_utf8(e).unwrap(),
            r#"{"triggerTime":"2023-12-26T07:49:00Z","triggerName":"nightly","payload":"compact"}"#
        );
    }
}
