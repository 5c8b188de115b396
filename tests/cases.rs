//! Runs every behaviour case in `tests/cases/*.case` through the Rust API, as
//! `tests/cases/README.md` describes. Steps the Rust API cannot express (a
//! negative quantity for a `u64`, bytes that are not UTF-8 for a `&str`) are
//! skipped and counted; every other step must give exactly what the case
//! expects.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use stockkeeper::{Engine, ErrorCode, Line, Lookup, Options, Stock};

const NANOS_PER_UNIT: [(&str, u128); 5] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("ns", 1),
];

/// Why a step did not give a result.
enum Trouble {
    /// The case is fine, but the Rust API has no way to say this step.
    NotExpressible(String),
    /// The case itself is wrong: the runner cannot tell what it means.
    Malformed(String),
}

type Step<T> = Result<T, Trouble>;

fn malformed<T>(message: impl Into<String>) -> Step<T> {
    Err(Trouble::Malformed(message.into()))
}

fn not_expressible<T>(message: impl Into<String>) -> Step<T> {
    Err(Trouble::NotExpressible(message.into()))
}

/// What an operation gave.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    Ok,
    Error(&'static str),
    Number(u64),
    Stock(Stock),
    Status {
        state: &'static str,
        deadline: Duration,
    },
    /// A batch's answer to each request: `ok` or an error code.
    Each(Vec<&'static str>),
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Ok => f.write_str("ok"),
            Got::Error(code) => write!(f, "error {code}"),
            Got::Number(n) => write!(f, "{n}"),
            Got::Stock(s) => write!(f, "{} {} {}", s.on_hand, s.reserved, s.available),
            Got::Status { state, deadline } => {
                write!(f, "{state} deadline={}", format_duration(*deadline))
            }
            Got::Each(answers) => f.write_str(&answers.join(" ")),
        }
    }
}

/// What a step expects, parsed from the tokens after `=>`.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Ok,
    Error(String),
    Number(u64),
    Stock([u64; 3]),
    Status { state: String, deadline: Option<Duration> },
    Each(Vec<String>),
}

impl Expected {
    fn is_error(&self) -> bool {
        matches!(self, Expected::Error(_))
    }

    fn matches(&self, got: &Got) -> bool {
        match (self, got) {
            (Expected::Ok, Got::Ok) => true,
            (Expected::Error(want), Got::Error(code)) => want == code,
            (Expected::Number(want), Got::Number(n)) => want == n,
            (Expected::Stock(want), Got::Stock(s)) => *want == [s.on_hand, s.reserved, s.available],
            (Expected::Status { state: want, deadline }, Got::Status { state, deadline: at }) => {
                want == state && deadline.map_or(true, |want| want == *at)
            }
            (Expected::Each(want), Got::Each(got)) => want == got,
            _ => false,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Ok => f.write_str("ok"),
            Expected::Error(code) => write!(f, "error {code}"),
            Expected::Number(n) => write!(f, "{n}"),
            Expected::Stock([on_hand, reserved, available]) => {
                write!(f, "{on_hand} {reserved} {available}")
            }
            Expected::Status { state, deadline: None } => f.write_str(state),
            Expected::Status { state, deadline: Some(at) } => {
                write!(f, "{state} deadline={}", format_duration(*at))
            }
            Expected::Each(answers) => f.write_str(&answers.join(" ")),
        }
    }
}

fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    let (unit, size) =
        NANOS_PER_UNIT.iter().copied().find(|(_, size)| nanos % size == 0).unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / size)
}

/// A decimal number, which the format lets be negative or wider than 64
/// bits. Past `i128` no front door can carry it, so it is not expressible.
fn parse_number(token: &str) -> Step<i128> {
    let digits = token.strip_prefix('-').unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return malformed(format!("`{token}` is not a decimal number"));
    }
    match token.parse::<i128>() {
        Ok(n) => Ok(n),
        Err(_) => not_expressible(format!("{token} does not fit 128 bits")),
    }
}

fn to_u64(token: &str) -> Step<u64> {
    let n = parse_number(token)?;
    u64::try_from(n).or_else(|_| not_expressible(format!("{token} is not a u64")))
}

fn to_i64(token: &str) -> Step<i64> {
    let n = parse_number(token)?;
    i64::try_from(n).or_else(|_| not_expressible(format!("{token} is not an i64")))
}

fn parse_duration(token: &str) -> Step<Duration> {
    let split = token.find(|c: char| !c.is_ascii_digit()).unwrap_or(token.len());
    let (number, unit) = token.split_at(split);
    let Some(&(_, size)) = NANOS_PER_UNIT.iter().find(|(name, _)| *name == unit) else {
        return malformed(format!("`{token}` is not a duration (number and ns, ms, s, m or h)"));
    };
    if number.is_empty() {
        return malformed(format!("`{token}` has no number"));
    }
    let nanos = match number.parse::<u128>().ok().and_then(|n| n.checked_mul(size)) {
        Some(nanos) => nanos,
        None => return not_expressible(format!("{token} does not fit 128-bit nanoseconds")),
    };
    let seconds = u64::try_from(nanos / 1_000_000_000)
        .or_else(|_| not_expressible(format!("{token} does not fit a Duration")))?;
    Ok(Duration::new(seconds, (nanos % 1_000_000_000) as u32))
}

/// Decodes an id or name token into its bytes: `""`, `TEXT*N` repetition,
/// then `%XX` escapes.
fn decode_bytes(token: &str) -> Step<Vec<u8>> {
    if token == "\"\"" {
        return Ok(Vec::new());
    }
    let repeated = match token.rsplit_once('*') {
        Some((text, count)) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => {
            let Ok(count) = count.parse::<usize>() else {
                return malformed(format!("`{token}` repeats too often"));
            };
            text.repeat(count)
        }
        _ => token.to_owned(),
    };
    let mut bytes = Vec::with_capacity(repeated.len());
    let mut rest = repeated.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'%' {
            bytes.push(first);
            rest = tail;
            continue;
        }
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return malformed(format!("`{token}` has a `%` not followed by two hex digits"));
        };
        bytes.push(byte);
        rest = &tail[2..];
    }
    Ok(bytes)
}

fn decode_text(token: &str) -> Step<String> {
    let bytes = decode_bytes(token)?;
    String::from_utf8(bytes).or_else(|_| not_expressible(format!("`{token}` is not UTF-8")))
}

/// Product and quantity pairs, decoded.
fn decode_lines(tokens: &[String]) -> Step<Vec<(String, u64)>> {
    if tokens.is_empty() || tokens.len() % 2 != 0 {
        return malformed("lines must be one or more `product quantity` pairs");
    }
    tokens.chunks(2).map(|pair| Ok((decode_text(&pair[0])?, to_u64(&pair[1])?))).collect()
}

fn parse_expected(operation: &str, tokens: &[&str]) -> Step<Expected> {
    if let ["error", code] = tokens {
        if !ErrorCode::ALL.iter().any(|known| known.name() == *code) {
            return malformed(format!("`{code}` is not an error code"));
        }
        return Ok(Expected::Error((*code).to_owned()));
    }
    let number = |token: &str| {
        let n = parse_number(token)?;
        u64::try_from(n).or_else(|_| malformed(format!("{token} cannot be a count")))
    };
    match (operation, tokens) {
        ("available" | "advance" | "release", [n]) => Ok(Expected::Number(number(n)?)),
        ("stock", [on_hand, reserved, available]) => {
            Ok(Expected::Stock([number(on_hand)?, number(reserved)?, number(available)?]))
        }
        ("status", [state, rest @ ..]) if rest.len() <= 1 => {
            if !["held", "confirmed", "cancelled", "expired"].contains(state) {
                return malformed(format!("`{state}` is not an order state"));
            }
            let deadline = match rest.first() {
                None => None,
                Some(token) => match token.strip_prefix("deadline=") {
                    Some(at) => Some(parse_duration(at)?),
                    None => return malformed(format!("`{token}` is not `deadline=DURATION`")),
                },
            };
            Ok(Expected::Status { state: (*state).to_owned(), deadline })
        }
        (
            "add" | "update" | "block" | "block_for" | "confirm" | "cancel" | "extend" | "close",
            ["ok"],
        ) => Ok(Expected::Ok),
        ("add_many" | "block_many" | "confirm_many", answers) => {
            let known = |answer: &&str| {
                *answer == "ok" || ErrorCode::ALL.iter().any(|code| code.name() == *answer)
            };
            match answers.iter().find(|answer| !known(answer)) {
                Some(answer) => malformed(format!("`{answer}` is not `ok` or an error code")),
                None => Ok(Expected::Each(answers.iter().map(|a| (*a).to_owned()).collect())),
            }
        }
        _ => malformed(format!("`{}` is not what `{operation}` gives", tokens.join(" "))),
    }
}

fn options_from(tokens: &[&str]) -> Step<Options> {
    let mut options = Options::manual();
    for token in tokens {
        match token.split_once('=') {
            Some(("hold", value)) => options.hold_time = parse_duration(value)?,
            Some(("retention", value)) => options.retention = parse_duration(value)?,
            Some(("remember", value)) => {
                options.max_remembered = usize::try_from(to_u64(value)?)
                    .or_else(|_| not_expressible(format!("{value} is not a usize")))?;
            }
            _ => return malformed(format!("`{token}` is not an engine option")),
        }
    }
    Ok(options)
}

fn arity(args: &[String], count: usize, shape: &str) -> Step<()> {
    if args.len() != count {
        return malformed(format!("expected arguments `{shape}`"));
    }
    Ok(())
}

fn block(engine: &Engine, order: &str, lines: &[String], hold: Option<Duration>) -> Step<Got> {
    let order = decode_text(order)?;
    let lines = decode_lines(lines)?;
    let result = match lines.as_slice() {
        [(product, quantity)] => engine.block(product, *quantity, &order, hold),
        _ => {
            let lines: Vec<Line<'_>> = lines.iter().map(|(p, q)| Line::new(p, *q)).collect();
            engine.block_order(&order, &lines, hold)
        }
    };
    Ok(result.map_or_else(error, |_| Got::Ok))
}

fn error(err: stockkeeper::Error) -> Got {
    Got::Error(err.code().name())
}

/// What one request of a batch gave: `ok` or its error code.
fn answer<T>(result: stockkeeper::Result<T>) -> &'static str {
    result.map_or_else(|err| err.code().name(), |_| "ok")
}

/// The most requests a batch step may have (tests/cases/README.md).
const MAX_BATCH: usize = 64;

/// A batch step: 1 to [`MAX_BATCH`] requests of `width` tokens each (`what`
/// names them), each decoded by `read`, then run in turn by `run`, read
/// ahead as `lookup` says, as a front door runs its batches; a closed engine
/// refuses it whole.
fn batch<T>(
    engine: &Engine,
    args: &[String],
    (width, what): (usize, &str),
    read: impl Fn(&[String]) -> Step<T>,
    lookup: impl for<'a> Fn(&'a T) -> Lookup<'a>,
    run: impl Fn(&T) -> &'static str,
) -> Step<Got> {
    if args.is_empty() || args.len() % width != 0 || args.len() > width * MAX_BATCH {
        return malformed(format!("expected 1 to {MAX_BATCH} {what}"));
    }
    let requests = args.chunks(width).map(read).collect::<Step<Vec<_>>>()?;
    if engine.is_closed() {
        return Ok(Got::Error("closed"));
    }
    Ok(Got::Each(engine.read_ahead(&requests, lookup).map(run).collect()))
}

fn block_lookup<'a>((product, _, order): &'a (String, u64, String)) -> Lookup<'a> {
    Lookup::Block { product, order }
}

fn product_lookup<'a>((product, _, _): &'a (String, String, u64)) -> Lookup<'a> {
    Lookup::Product(product)
}

fn order_lookup((order,): &(String,)) -> Lookup<'_> {
    Lookup::Order(order)
}

/// A batch of blocks, `order product quantity` triples.
fn block_many(engine: &Engine, args: &[String]) -> Step<Got> {
    let read = |r: &[String]| Ok((decode_text(&r[1])?, to_u64(&r[2])?, decode_text(&r[0])?));
    let block = |(product, quantity, order): &(String, u64, String)| {
        answer(engine.block(product, *quantity, order, None))
    };
    batch(engine, args, (3, "`order product quantity` triples"), read, block_lookup, block)
}

/// A batch of products added, `product name count` triples.
fn add_many(engine: &Engine, args: &[String]) -> Step<Got> {
    let read = |p: &[String]| Ok((decode_text(&p[0])?, decode_text(&p[1])?, to_u64(&p[2])?));
    let add = |(id, name, on_hand): &(String, String, u64)| {
        answer(engine.add_product(id, name, *on_hand))
    };
    batch(engine, args, (3, "`product name count` triples"), read, product_lookup, add)
}

/// A batch of confirms, one order each.
fn confirm_many(engine: &Engine, args: &[String]) -> Step<Got> {
    let read = |o: &[String]| Ok((decode_text(&o[0])?,));
    let confirm = |(order,): &(String,)| answer(engine.confirm(order));
    batch(engine, args, (1, "orders"), read, order_lookup, confirm)
}

/// Runs one operation and reports what it gave, or why it could not run.
fn perform(engine: &Engine, operation: &str, args: &[String]) -> Step<Got> {
    let ok = |result: stockkeeper::Result<()>| result.map_or_else(error, |()| Got::Ok);
    let got = match operation {
        "add" => {
            arity(args, 3, "product name count")?;
            let (id, name) = (decode_text(&args[0])?, decode_text(&args[1])?);
            ok(engine.add_product(&id, &name, to_u64(&args[2])?))
        }
        "available" => {
            arity(args, 1, "product")?;
            engine.available(&decode_text(&args[0])?).map_or_else(error, Got::Number)
        }
        "stock" => {
            arity(args, 1, "product")?;
            engine.stock(&decode_text(&args[0])?).map_or_else(error, Got::Stock)
        }
        "update" => {
            arity(args, 2, "product delta")?;
            let id = decode_text(&args[0])?;
            ok(engine.update_inventory(&id, to_i64(&args[1])?).map(drop))
        }
        "block" => {
            let Some((order, lines)) = args.split_first() else {
                return malformed("expected arguments `order product quantity ...`");
            };
            block(engine, order, lines, None)?
        }
        "block_for" => {
            let [hold, order, lines @ ..] = args else {
                return malformed("expected arguments `duration order product quantity ...`");
            };
            block(engine, order, lines, Some(parse_duration(hold)?))?
        }
        "confirm" => {
            arity(args, 1, "order")?;
            ok(engine.confirm(&decode_text(&args[0])?))
        }
        "cancel" => {
            arity(args, 1, "order")?;
            ok(engine.cancel(&decode_text(&args[0])?))
        }
        "extend" => {
            arity(args, 2, "order duration")?;
            let order = decode_text(&args[0])?;
            ok(engine.extend(&order, parse_duration(&args[1])?).map(drop))
        }
        "status" => {
            arity(args, 1, "order")?;
            engine.status(&decode_text(&args[0])?).map_or_else(error, |status| Got::Status {
                state: status.state.name(),
                deadline: status.deadline.since_start,
            })
        }
        "advance" => {
            arity(args, 1, "duration")?;
            let by = parse_duration(&args[0])?;
            engine.advance(by).map_or_else(error, |n| Got::Number(n as u64))
        }
        "release" => {
            arity(args, 0, "")?;
            engine.release_expired().map_or_else(error, |n| Got::Number(n as u64))
        }
        "close" => {
            arity(args, 0, "")?;
            engine.close();
            Got::Ok
        }
        "add_many" => add_many(engine, args)?,
        "block_many" => block_many(engine, args)?,
        "confirm_many" => confirm_many(engine, args)?,
        _ => return malformed(format!("`{operation}` is not an operation")),
    };
    Ok(got)
}

#[derive(Default)]
struct Tally {
    run: usize,
    skipped: usize,
}

/// Runs one case file; returns its tally, or the first step that went wrong.
fn run_case(path: &Path) -> Result<Tally, String> {
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let steps: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let at = |line: usize, step: &str, message: &str| format!("{name}:{line}: `{step}`: {message}");

    let mut rest = steps.as_slice();
    let mut options = Options::manual();
    if let Some(((line, step), later)) = rest.split_first() {
        if let Some(tokens) = step.strip_prefix("engine ") {
            let tokens: Vec<&str> = tokens.split_whitespace().collect();
            options = match options_from(&tokens) {
                Ok(options) => options,
                Err(Trouble::Malformed(m) | Trouble::NotExpressible(m)) => {
                    return Err(at(*line, step, &m));
                }
            };
            rest = later;
        }
    }
    let engine = Engine::new(options).map_err(|e| format!("{name}: engine refused: {e}"))?;

    let mut tally = Tally::default();
    for (line, step) in rest {
        let Some((call, expected)) = step.split_once("=>") else {
            return Err(at(*line, step, "a step needs `=>` and what it gives"));
        };
        let call: Vec<String> = call.split_whitespace().map(str::to_owned).collect();
        let expected: Vec<&str> = expected.split_whitespace().collect();
        let Some((operation, args)) = call.split_first() else {
            return Err(at(*line, step, "a step needs an operation"));
        };
        let expected = match parse_expected(operation, &expected) {
            Ok(expected) => expected,
            Err(Trouble::Malformed(m) | Trouble::NotExpressible(m)) => {
                return Err(at(*line, step, &m));
            }
        };
        match perform(&engine, operation, args) {
            Ok(got) if expected.matches(&got) => tally.run += 1,
            Ok(got) => return Err(at(*line, step, &format!("expected {expected}, got {got}"))),
            // A skipped step must be one that fails, for a failed step changes
            // nothing and the rest of the case then still holds.
            Err(Trouble::NotExpressible(_)) if expected.is_error() => tally.skipped += 1,
            Err(Trouble::NotExpressible(why)) => {
                let message = format!("not expressible in Rust ({why}), yet expects {expected}");
                return Err(at(*line, step, &message));
            }
            Err(Trouble::Malformed(m)) => return Err(at(*line, step, &m)),
        }
    }
    Ok(tally)
}

fn case_files() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases");
    let entries = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "case"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_case_holds_through_the_rust_api() {
    let files = case_files();
    assert!(!files.is_empty(), "tests/cases holds no *.case file");

    // Written straight to stderr: the test harness captures `println!`, and
    // the counts are what tells a reader how much of each case Rust covers.
    let mut report = std::io::stderr().lock();
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match run_case(path) {
            Ok(tally) => {
                let _ = writeln!(
                    report,
                    "case {name}: {} steps run, {} skipped",
                    tally.run, tally.skipped
                );
                total.run += tally.run;
                total.skipped += tally.skipped;
            }
            Err(failure) => {
                let _ = writeln!(report, "case {name}: FAILED");
                failures.push(failure);
            }
        }
    }
    let _ = writeln!(
        report,
        "cases: {} files, {} steps run, {} skipped as not expressible in Rust",
        files.len(),
        total.run,
        total.skipped
    );

    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}
