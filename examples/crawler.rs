//! The crawler of seeds 001 and 004 — two of the Python tutorials this
//! project grew from (aiohttp coroutines, and `requests` in a thread
//! pool) — as corio tasks: fetch pages concurrently, parse each one in a
//! **done callback**, and let the parser spawn fetches for the links it
//! finds.
//!
//! Seed 004 (aiohttp, coroutines):
//!
//! ```python
//! async def get_request(url):
//!     async with aiohttp.ClientSession() as sess:
//!         async with await sess.get(url=url) as response:
//!             return await response.text()
//!
//! def parse(t):                       # the done callback
//!     page_text = t.result()          # raises if the task failed
//!     tree = etree.HTML(page_text)
//!     a = tree.xpath('//a[@id="feng"]/@href')[0]
//!
//! tasks = []
//! for url in urls:
//!     task = asyncio.ensure_future(get_request(url))
//!     task.add_done_callback(parse)
//!     tasks.append(task)
//! loop.run_until_complete(asyncio.wait(tasks))
//! ```
//!
//! Seed 001 (requests in a thread pool): `parse_index` finds the detail
//! pages and submits a fetch for each, with `parse_detail` as *its*
//! callback — the crawl grows from inside the callbacks.
//!
//! Here both at once: `spawn(fetch(url))` → `add_done_callback(parse)` →
//! `parse` spawns `fetch(link)` for every new link on the page. A
//! semaphore lets at most `--concurrency` requests be fetching at once (the
//! pool size of seed 001's `ThreadPoolExecutor(50)`); the others wait for a
//! slot. One shared [`Client`] (aiohttp's `ClientSession`) keeps the
//! connections alive between pages.
//!
//! With no `--url` it serves its own demo site on 127.0.0.1 — no internet
//! needed — modelled on seed 004's Flask server: pages such as `/bobo`,
//! `/jay` and `/tom` that answer after a delay and link onward with
//! `<a id="feng" href=..>`. Two pages misbehave on purpose (a 404, and one
//! that trickles slower than the read timeout), to show what errors look
//! like. Redirects are followed by the crawl itself, as links under the
//! same-host rule: `/old-index` → `/` is followed, `/elsewhere` (off the
//! site) is not. A link to something that is not HTML (the demo's
//! "videos") is fetched only as far as its head: there is nothing to
//! parse in it, so its body is not downloaded.
//!
//! Links are every `href` and `src` of the page, read as browsers read
//! attributes (any case, any quoting, `&amp;` decoded) by a small scanner
//! — not an HTML parser — and resolved against the page's `<base href>`
//! if it has one; `user:password@` in a link is dropped (it names the
//! same page, and the client sends no credentials from a URL), and its
//! escapes are normalized (`/%61` and `/a` are one page). A page in a
//! charset the client does not decode (GBK, Shift_JIS: `Response::text`
//! knows UTF-8 and Latin-1) has its links followed only where they
//! survived the decoding — plain ASCII, or percent-encoded as most are; a
//! link that came out with U+FFFD in it names no page, so it is left
//! alone. A body without a Content-Type is read as HTML unless it
//! announces more than 8 MiB (then it is skipped). A page is read up to
//! 64 MiB: a larger one is skipped at its head, or cut off there when it
//! does not say its length. Piped into `head`, the crawler stops quietly
//! when `head` has seen enough.
//!
//! ```text
//! cargo run --release --example crawler
//! cargo run --release --example crawler -- --concurrency 2
//! cargo run --release --example crawler -- --url http://127.0.0.1:8000/ --max-pages 50
//! ```
//!
//! The summary puts the total time beside the sum of the fetches' own
//! times (failed ones included): their ratio is how much waiting the loop
//! overlapped. With `--concurrency 1` it is about 1×.

#[macro_use]
mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::TaskError;
use corio::http::server::{Reply, Server};
use corio::http::{self, Client};
use corio::sync::{Event, Semaphore};

use url::Url;

/// The people of seed 004's site, and more of them.
const NAMES: [&str; 24] = [
    "bobo", "jay", "tom", "feng", "lily", "ming", "hua", "wei", "jun", "lan", "yun", "xia",
    "qiang", "li", "fang", "ping", "hong", "gang", "jing", "tao", "yan", "bin", "hui", "na",
];

const USAGE: &str = "usage: crawler [--url URL] [--concurrency N] [--max-pages N] [--quiet]
  without --url: crawl the embedded demo site on 127.0.0.1
  --url URL          crawl this http:// site instead (links on the same host and port only)
  --concurrency N    fetch at most N pages at once (default 8)
  --max-pages N      stop following links after N pages (default 500)
  --quiet            no per-page lines and no progress line";

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            say!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            tell!("crawler: {message} (see --help)");
            return ExitCode::from(2);
        }
    };
    match corio::run(crawl_main(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tell!("crawler: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    url: Option<Url>,
    concurrency: usize,
    max_pages: usize,
    quiet: bool,
}

impl Options {
    /// The options, or `None` for `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
        let mut options = Options {
            url: None,
            concurrency: 8,
            max_pages: 500,
            quiet: false,
        };
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                let value = args.next().ok_or(format!("{name} needs a number"))?;
                match value.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name} needs a positive number, not {value:?}")),
                }
            };
            match arg.as_str() {
                "--concurrency" | "-c" => options.concurrency = number("--concurrency")?,
                "--max-pages" | "-n" => options.max_pages = number("--max-pages")?,
                "--url" => {
                    let text = args.next().ok_or("--url needs a URL")?;
                    // The client's own rules (http:// only, a host, no
                    // credentials): a URL it would refuse is a usage error.
                    corio::http::check_url(&text).map_err(|e| e.to_string())?;
                    let mut url = Url::parse(&text).map_err(|e| e.to_string())?;
                    // A fragment names a place in a page, not another page.
                    url.set_fragment(None);
                    options.url = Some(url);
                }
                "--quiet" | "-q" => options.quiet = true,
                "--help" | "-h" => return Ok(None),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Some(options))
    }
}

async fn crawl_main(options: Options) -> Result<(), String> {
    // The site: the embedded demo, or the one given.
    let (_site, start, read_timeout) = match options.url {
        Some(url) => (None, url, Duration::from_secs(10)),
        None => {
            let site = demo_site()
                .await
                .map_err(|e| format!("cannot start the demo site: {e}"))?;
            let url = Url::parse(&site.url("/")).map_err(|e| e.to_string())?;
            say!("serving seed 004's demo site on {url} (each page answers after 100-400 ms)");
            (Some(site), url, Duration::from_secs(1))
        }
    };
    let client = Client::builder()
        // Redirects are followed by the crawl, as links: the same-host rule
        // applies to them too.
        .follow_redirects(false)
        // No body limit in the client: a large file that is not a page is
        // skipped at its head (`get_page`), which caps what it reads itself.
        .max_body_bytes(u64::MAX)
        .read_timeout(read_timeout)
        .total_timeout(Duration::from_secs(30))
        .user_agent("corio-crawler/0.1")
        .build()
        .map_err(|e| e.to_string())?;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    say!(
        "crawling {start}, {} at a time (at most {})\n",
        plural(options.concurrency, "request"),
        plural(options.max_pages, "page")
    );

    let crawl = Rc::new(Crawl {
        client,
        origin: (
            start.host_str().unwrap_or("").to_owned(),
            start.port_or_known_default(),
        ),
        concurrency: options.concurrency,
        slots: Semaphore::new(options.concurrency),
        max_pages: options.max_pages,
        seen: RefCell::new(HashSet::new()),
        stats: Stats::default(),
        in_flight: Cell::new(0),
        finished: Event::new(),
        progress: Progress::new(options.quiet),
        began: Instant::now(),
    });
    Crawl::visit(&crawl, start.clone());
    let ticker = corio::spawn(tick(Rc::clone(&crawl)));
    // asyncio's `run_until_complete(asyncio.wait(tasks))` waits for a fixed
    // list; here the callbacks keep adding tasks, so the last callback to
    // finish (with nothing left in flight) sets this event instead.
    crawl.finished.wait().await;
    ticker.cancel();
    crawl.progress.finish();
    if crawl.stats.ok.get() == 0 {
        // Not even the first page: one line, and a failing exit status.
        let errors = crawl.stats.errors.borrow();
        return Err(errors
            .first()
            .cloned()
            .unwrap_or_else(|| format!("nothing fetched from {start}")));
    }
    crawl.summary();
    Ok(())
}

/// Everything the fetches and callbacks share.
struct Crawl {
    client: Client,
    /// Only links to this host and port are followed.
    origin: (String, Option<u16>),
    concurrency: usize,
    /// One permit per request that may be fetching.
    slots: Semaphore,
    max_pages: usize,
    seen: RefCell<HashSet<Url>>,
    stats: Stats,
    /// Fetch tasks spawned and not yet parsed (fetching or waiting for a
    /// slot); at 0 the crawl is over.
    in_flight: Cell<usize>,
    finished: Event,
    progress: Progress,
    began: Instant,
}

#[derive(Default)]
struct Stats {
    /// Pages fetched with a 2xx or 3xx status.
    ok: Cell<usize>,
    bytes: Cell<u64>,
    /// The fetches' own times, failed ones included, added up: about what
    /// fetching one by one would take.
    fetch_time: Cell<Duration>,
    errors: RefCell<Vec<String>>,
}

/// What one fetch brings back to `parse`: how long it took, and the page
/// or the error.
struct Fetched {
    took: Duration,
    page: Result<Page, http::Error>,
}

struct Page {
    /// The URL that answered: links are relative to it.
    url: Url,
    status: u16,
    html: Option<String>,
    bytes: usize,
    /// Why `html` is `None` when the status is not an error.
    skipped: &'static str,
    /// Where a redirect (3xx) points.
    location: Option<String>,
}

impl Crawl {
    /// Spawns a fetch of `url` unless it was seen, with `parse` as its done
    /// callback: seed 004's `ensure_future` + `add_done_callback`.
    fn visit(crawl: &Rc<Crawl>, url: Url) {
        let url = without_credentials(url);
        {
            let mut seen = crawl.seen.borrow_mut();
            if seen.len() >= crawl.max_pages || !seen.insert(url.clone()) {
                return;
            }
        }
        crawl.in_flight.set(crawl.in_flight.get() + 1);
        let task = corio::spawn(fetch(Rc::clone(crawl), url.clone()));
        let for_parse = Rc::clone(crawl);
        task.add_done_callback(move |result| parse(&for_parse, &url, result));
        // Dropping a corio `Task` handle detaches the task: it runs on, and
        // its callback still runs. (asyncio keeps only a weak reference to
        // a task, which is why the seed keeps its `tasks` list.)
        task.detach();
    }

    fn follows(&self, link: &Url) -> bool {
        link.scheme() == "http"
            && (link.host_str().unwrap_or(""), link.port_or_known_default())
                == (&self.origin.0[..], self.origin.1)
    }

    fn summary(&self) {
        let total = self.began.elapsed();
        let stats = &self.stats;
        let errors = stats.errors.borrow();
        let ok = stats.ok.get();
        say!("\nsummary");
        say!(
            "  pages   {}: {ok} ok, {} failed",
            ok + errors.len(),
            errors.len()
        );
        for error in errors.iter() {
            say!("          ✗ {error}");
        }
        say!("  bytes   {}", human_bytes(stats.bytes.get()));
        let serial = stats.fetch_time.get();
        say!(
            "  time    {:.2} s in total; the fetches took {:.2} s added up ({:.1}× from waiting together)",
            total.as_secs_f64(),
            serial.as_secs_f64(),
            serial.as_secs_f64() / total.as_secs_f64().max(1e-9)
        );
    }
}

/// The coroutine: wait for a free slot, then GET the page (seed 004's
/// `get_request`).
async fn fetch(crawl: Rc<Crawl>, url: Url) -> Fetched {
    let _slot = crawl.slots.acquire().await;
    let began = Instant::now();
    let page = get_page(&crawl.client, &url).await;
    Fetched {
        took: began.elapsed(),
        page,
    }
}

/// The largest body without a Content-Type that the crawler reads as a
/// page.
const MAX_PAGE: u64 = 8 << 20;

/// The largest page the crawler reads at all (the client's own default
/// body limit); a larger one is skipped, or cut off and left unparsed.
const MAX_HTML: u64 = 64 << 20;

async fn get_page(client: &Client, url: &Url) -> Result<Page, http::Error> {
    // The head first: a body that is not HTML (a video, an archive) has
    // nothing to parse, so it is not downloaded at all — dropping the
    // streaming response closes its connection.
    let response = client.get(url.as_str()).send_streaming().await?;
    // Without a Content-Type, a body may be HTML — unless it says it is
    // larger than any page worth parsing. (A body that does not say is
    // bounded below, by `MAX_HTML`: this client has no body limit.)
    let is_html = match response.header("content-type") {
        Some(kind) => kind.to_ascii_lowercase().contains("html"),
        None => response
            .header("content-length")
            .and_then(|length| length.trim().parse::<u64>().ok())
            .is_none_or(|length| length <= MAX_PAGE),
    };
    let location = (300..400)
        .contains(&response.status)
        // Its bytes, not `header()` (UTF-8 values only): a Location in GBK
        // or Latin-1 is a redirect still, its bytes beyond ASCII
        // percent-encoded — as the client does when it follows one.
        .then(|| response.headers.get("location").map(escape_high_bytes))
        .flatten();
    let page_url = Url::parse(response.url()).unwrap_or_else(|_| url.clone());
    let status = response.status;
    let length = response
        .header("content-length")
        .and_then(|length| length.trim().parse::<u64>().ok());
    let (html, bytes, skipped) = match (is_html, length) {
        (false, _) => (None, 0, "not HTML: not downloaded"),
        (true, Some(length)) if length > MAX_HTML => {
            (None, 0, "a page over 64 MiB: not downloaded")
        }
        // A length to trust: read it whole.
        (true, Some(_)) => {
            let response = response.into_response().await?;
            let bytes = response.body.len();
            (Some(response.text().into_owned()), bytes, "")
        }
        // No length (chunked, or until the server closes): read up to the cap.
        (true, None) => {
            let mut response = response;
            let mut body = Vec::new();
            let mut cut = false;
            while let Some(piece) = response.chunk().await? {
                body.extend_from_slice(piece);
                if body.len() as u64 > MAX_HTML {
                    cut = true; // dropping the response closes its connection
                    break;
                }
            }
            if cut {
                (None, body.len(), "a page over 64 MiB: cut off, not parsed")
            } else {
                let bytes = body.len();
                // Decoded by its charset, as `text()` does for the other branch.
                (Some(response.decode_text(&body).into_owned()), bytes, "")
            }
        }
    };
    Ok(Page {
        url: page_url,
        status,
        bytes,
        html,
        skipped,
        location,
    })
}

/// A header's bytes as URL text: bytes beyond ASCII percent-encoded.
fn escape_high_bytes(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii() {
            text.push(char::from(b));
        } else {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    text
}

/// The done callback (seed 004's `parse(t)`, seed 001's `parse_index`):
/// runs on the loop when a fetch finishes, records it, and spawns fetches
/// for the new links on the page.
///
/// Its argument is what awaiting the task would give: `Err(TaskError)` if
/// the task was cancelled or panicked — where Python's `t.result()` would
/// raise — else the task's own output, the `Fetched` page or HTTP error.
fn parse(crawl: &Rc<Crawl>, url: &Url, result: &Result<Fetched, TaskError>) {
    // This fetch has landed, whatever happens below: were this callback to
    // panic (corio contains and reports it), the crawl must still end.
    let _landed = Landed(crawl);
    let stats = &crawl.stats;
    let shown = |url: &Url| match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    match result {
        Ok(fetched) => {
            stats.fetch_time.set(stats.fetch_time.get() + fetched.took);
            match &fetched.page {
                Ok(page) => parse_page(crawl, page, fetched.took, &shown),
                Err(err) => {
                    let error = format!("{} → {err}", shown(url));
                    crawl.progress.line(&format!("fail  {error}"));
                    stats.errors.borrow_mut().push(error);
                }
            }
        }
        Err(err) => stats
            .errors
            .borrow_mut()
            .push(format!("{} → task {err}", shown(url))),
    }
}

/// Counts a fetch out when dropped; the last one out ends the crawl.
struct Landed<'a>(&'a Crawl);

impl Drop for Landed<'_> {
    fn drop(&mut self) {
        let crawl = self.0;
        crawl.in_flight.set(crawl.in_flight.get() - 1);
        if crawl.in_flight.get() == 0 {
            crawl.finished.set();
        }
    }
}

fn parse_page(crawl: &Rc<Crawl>, page: &Page, took: Duration, shown: &dyn Fn(&Url) -> String) {
    let stats = &crawl.stats;
    stats.bytes.set(stats.bytes.get() + page.bytes as u64);
    if page.status >= 400 {
        stats
            .errors
            .borrow_mut()
            .push(format!("{} → HTTP {}", shown(&page.url), page.status));
    } else {
        stats.ok.set(stats.ok.get() + 1);
    }
    if let Some(location) = &page.location {
        // A redirect is one more link — followed only on the same site.
        let followed = page
            .url
            .join(location)
            .ok()
            .map(|mut next| {
                next.set_fragment(None);
                next
            })
            .filter(|next| crawl.follows(next));
        let what = match &followed {
            Some(next) if crawl.seen.borrow().contains(next) => {
                format!("redirect → {}, seen already", shown(next))
            }
            Some(next) => format!("redirect → {}", shown(next)),
            None => format!("redirect off the site, not followed: {location}"),
        };
        crawl.progress.line(&format!(
            "fetch {:<18} {} in {:>4} ms ({what})",
            shown(&page.url),
            page.status,
            took.as_millis()
        ));
        if let Some(next) = followed {
            Crawl::visit(crawl, next);
        }
        return;
    }
    // An error page is not parsed, whatever it holds: its links are not
    // the site's (a 404 page's are often the same everywhere).
    let html = match page.html.as_deref() {
        Some(html) if page.status < 400 => Some(html),
        _ => None,
    };
    let Some(html) = html else {
        let why = if page.status >= 400 {
            "an error page: not parsed"
        } else {
            page.skipped
        };
        crawl.progress.line(&format!(
            "fetch {:<18} {} in {:>4} ms ({why})",
            shown(&page.url),
            page.status,
            took.as_millis()
        ));
        return;
    };
    let found = PageLinks::of(html);
    let base = found.base_for(&page.url);
    let PageLinks { links, feng, .. } = found;
    crawl.progress.line(&format!(
        "parse {:<18} {} {:>6} B in {:>4} ms, {} link{}{}",
        shown(&page.url),
        page.status,
        page.bytes,
        took.as_millis(),
        links.len(),
        if links.len() == 1 { "" } else { "s" },
        feng.map(|f| format!(", feng → {f}")).unwrap_or_default()
    ));
    for link in links {
        if let Some(next) = resolve(&base, &link).filter(|next| crawl.follows(next)) {
            Crawl::visit(crawl, next);
        }
    }
}

/// `url` without `user:password@`: it names no other page, and the client
/// refuses a URL that carries it — followed as it was, such a link (or
/// every link under such a `<base href>`) would count as a failed page
/// that no request ever reached.
fn without_credentials(mut url: Url) -> Url {
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// Where `link` leads from a page whose base is `base` (without its
/// fragment); `None` if it is no URL — among them a link with bytes the
/// decoding could not read (U+FFFD, on a GBK page): it names no page, and
/// two different ones would read the same.
fn resolve(base: &Url, link: &str) -> Option<Url> {
    if link.contains('\u{FFFD}') {
        return None;
    }
    let mut next = base.join(link).ok()?;
    next.set_fragment(None);
    // The same page spelled two ways is one page (RFC 3986 §6.2.2.1–2):
    // `/%61` is `/a`, `%2f` is `%2F`. (The `url` crate already lowercases
    // the scheme and host, drops a default port and removes dot segments.)
    if let Some(path) = normalize_escapes(next.path()) {
        next.set_path(&path);
    }
    if let Some(query) = next.query().and_then(normalize_escapes) {
        next.set_query(Some(&query));
    }
    Some(next)
}

/// `text` with its percent-escapes normalized, or `None` if it needs no
/// change: an escaped unreserved character (letter, digit, `-._~`) is
/// written as itself, any other escape in upper-case hex.
fn normalize_escapes(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes.get(i..i + 3) {
            Some(&[b'%', hi, lo]) => hex(hi).zip(hex(lo)),
            _ => None,
        };
        let Some((hi, lo)) = escape else {
            // Copied as it is up to the next `%` (a byte that is never
            // inside another character, so both ends are boundaries).
            let next = bytes[i + 1..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(text.len(), |at| i + 1 + at);
            out.push_str(&text[i..next]);
            i = next;
            continue;
        };
        let byte = (hi * 16 + lo) as u8;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
            changed = true;
        } else {
            let upper = format!("%{byte:02X}");
            changed |= upper != text[i..i + 3];
            out.push_str(&upper);
        }
        i += 3;
    }
    changed.then_some(out)
}

/// What the crawler reads of a page: its links, its `<base href>` and the
/// link of the tag with `id="feng"` — found in one pass over the page.
#[derive(Debug, Default)]
struct PageLinks {
    /// Every `href` and `src` value (but `<base href>`'s, which is not a
    /// link: see `base`), in page order.
    links: Vec<String>,
    /// The first `<base href>`: what relative links are relative to, as in
    /// a browser (else the page's own URL).
    base: Option<String>,
    /// The `href` of the first `<a>` whose `id` is `feng` and that has
    /// one (seed 004's `//a[@id="feng"]/@href`).
    feng: Option<String>,
}

impl PageLinks {
    fn of(html: &str) -> PageLinks {
        let mut page = PageLinks::default();
        for_each_tag(html, |tag| {
            if page.feng.is_none() && tag.a && tag.id.as_deref() == Some("feng") {
                page.feng = tag.href.clone();
            }
            if tag.base {
                if page.base.is_none() {
                    page.base = tag.href;
                }
                return;
            }
            page.links.extend(tag.href);
            page.links.extend(tag.src);
        });
        page
    }

    /// What the links of a page at `url` are relative to: its `<base
    /// href>`, unless that is no place (`javascript:`, `data:`), which
    /// browsers ignore too; else the page's own URL.
    fn base_for(&self, url: &Url) -> Url {
        self.base
            .as_deref()
            .and_then(|base| url.join(base).ok())
            .filter(|base| matches!(base.scheme(), "http" | "https") && !base.cannot_be_a_base())
            .unwrap_or_else(|| url.clone())
    }
}

/// A start tag, as far as the crawler cares: the first `href`, `src` and
/// `id` it carries (values with their character references decoded), and
/// whether it is `<base>` or `<a>`.
struct Tag {
    base: bool,
    a: bool,
    href: Option<String>,
    src: Option<String>,
    id: Option<String>,
}

/// Calls `f` with each start tag of `html` that carries an `href`, `src`
/// or `id`, read the way browsers read attributes — any case, quoted with
/// `"` or `'` or not at all, spaces around `=` — by a scanner, not an HTML
/// parser: comments, scripts and malformed markup are not treated
/// specially (enough for a demo; seed 001 used a regular expression).
/// Linear in the page: other attributes are skipped without being copied,
/// however many a tag has.
fn for_each_tag(html: &str, mut f: impl FnMut(Tag)) {
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue; // an end tag, a comment, a doctype, a stray `<`
        }
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let mut tag = Tag {
            base: rest[..name_end].eq_ignore_ascii_case("base"),
            a: rest[..name_end].eq_ignore_ascii_case("a"),
            href: None,
            src: None,
            id: None,
        };
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let end = rest
                .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(rest.len())
                .max(1);
            let name = &rest[..end];
            // A repeated attribute: the first one counts.
            let slot = [
                ("href", &mut tag.href),
                ("src", &mut tag.src),
                ("id", &mut tag.id),
            ]
            .into_iter()
            .find(|(wanted, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, slot)| slot)
            .filter(|slot| slot.is_none());
            rest = rest[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
            let mut raw = "";
            if let Some(after) = rest.strip_prefix('=') {
                rest = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
                raw = match rest.chars().next() {
                    Some(quote @ ('"' | '\'')) => {
                        let end = rest[1..].find(quote).map_or(rest.len(), |at| at + 1);
                        let raw = &rest[1..end];
                        rest = rest.get(end + 1..).unwrap_or("");
                        raw
                    }
                    _ => {
                        let end = rest
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .unwrap_or(rest.len());
                        let raw = &rest[..end];
                        rest = &rest[end..];
                        raw
                    }
                };
            }
            if let Some(slot) = slot {
                *slot = Some(decode_entities(raw));
            }
        }
        if tag.href.is_some() || tag.src.is_some() || tag.id.is_some() {
            f(tag);
        }
    }
}

/// Decodes the character references an attribute value may carry
/// (`&amp;` in a link's query, `&#47;` …); others stay as written.
fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // A reference ends within 32 bytes: look no further (a value of
        // many `&` and no `;` would otherwise take quadratic time).
        let near = &rest.as_bytes()[..rest.len().min(33)];
        let end = near.iter().position(|&b| b == b';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let (digits, radix) =
                        match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                            Some(hex) => (hex, 16),
                            None => (name.strip_prefix('#')?, 10),
                        };
                    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                        return None; // `&#+65;`, `&#;`: not a reference
                    }
                    // NUL, surrogates and numbers past Unicode read as
                    // U+FFFD, as browsers read them.
                    let code = u32::from_str_radix(digits, radix).unwrap_or(u32::MAX);
                    Some(
                        char::from_u32(code)
                            .filter(|&c| c != '\0')
                            .unwrap_or('\u{FFFD}'),
                    )
                }
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Redraws the progress line every 100 ms.
async fn tick(crawl: Rc<Crawl>) {
    loop {
        crawl.progress.status(&crawl);
        corio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The live status line on a terminal; plain lines otherwise.
struct Progress {
    live: bool,
    quiet: bool,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            live: std::io::stdout().is_terminal() && !quiet,
            quiet,
        }
    }

    /// A line of log, printed above the status line.
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.live {
            say_part!("\r\x1b[K");
        }
        say_part!("  {text}\n");
    }

    fn status(&self, crawl: &Crawl) {
        if !self.live {
            return;
        }
        let stats = &crawl.stats;
        let fetching = crawl.concurrency - crawl.slots.available_permits();
        say_part!(
            "\r\x1b[K  [{:>4} done | {:>9} | {} failed | {} fetching, {} waiting | {:.1} s]",
            stats.ok.get() + stats.errors.borrow().len(),
            human_bytes(stats.bytes.get()),
            stats.errors.borrow().len(),
            fetching,
            crawl.in_flight.get().saturating_sub(fetching),
            crawl.began.elapsed().as_secs_f64()
        );
    }

    fn finish(&self) {
        if self.live {
            say_part!("\r\x1b[K");
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

// ----- the demo site (seed 004's Flask server, standing in for the internet) -----------

/// Serves `/` (an index of everyone), `/<name>` (a person's page: a
/// `feng` link to the detail page and two friends) and `/<name>/feng` (a
/// detail page with a "video"), each after a delay of 100-400 ms. `/ghost`
/// is a 404; `/stuck` sends its body one byte every 2 s, slower than the
/// crawler's 1 s read timeout; `/old-index` redirects to `/`, and
/// `/elsewhere` to another site (not followed: the crawl stays on its own).
async fn demo_site() -> std::io::Result<Server> {
    Server::bind("127.0.0.1:0", |req| async move {
        let path = req.path().to_owned();
        let delay = 100
            + path
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
                % 300;
        corio::time::sleep(Duration::from_millis(delay)).await;
        demo_page(&path)
    })
    .await
}

fn demo_page(path: &str) -> Reply {
    let person = |name: &str| NAMES.iter().position(|n| *n == name);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => {
            let mut html = String::from("<html><body><h1>index</h1><ul>\n");
            for name in NAMES.iter().take(3) {
                html.push_str(&format!("<li><a href=\"/{name}\">{name}</a></li>\n"));
            }
            html.push_str("<li><a href=\"/ghost\">a page that is gone</a></li>\n");
            html.push_str("<li><a href=\"/old-index\">the old index</a></li>\n");
            html.push_str("<li><a href=\"/elsewhere\">a page that moved away</a></li>\n");
            html.push_str(
                "<li><a href=\"/stuck\">a page that never finishes</a></li>\n</ul></body></html>\n",
            );
            Reply::html(html)
        }
        ["old-index"] => Reply::redirect(301, "/"),
        // `.invalid` never resolves (RFC 2606): nothing leaves this machine.
        ["elsewhere"] => Reply::redirect(302, "http://moved.invalid/"),
        ["stuck"] => Reply::html("<p>this page trickles in, one byte every 2 s</p>")
            .paced(1, Duration::from_secs(2)),
        [name] => match person(name) {
            Some(i) => {
                let friend = |k: usize| NAMES[(i * k + 1) % NAMES.len()];
                Reply::html(format!(
                    "<html><body><h1>{name}</h1>\n<p>{}</p>\n\
                     <a id=\"feng\" href=\"/{name}/feng\">feng</a>\n\
                     <a href=\"/{}\">a friend</a> <a href=\"/{}#top\">another friend</a>\n</body></html>\n",
                    "lorem ipsum ".repeat(50 + 20 * (i % 5)),
                    friend(5),
                    friend(7)
                ))
            }
            None => Reply::not_found(),
        },
        [name, "feng"] if person(name).is_some() => Reply::html(format!(
            "<html><body><h1>{name}'s detail page</h1>\n<video><source src=\"/media/{name}.mp4\"></video>\n\
             <a href=\"/\">back to the index</a></body></html>\n"
        )),
        ["media", file] if file.ends_with(".mp4") => Reply::new(200)
            .header("Content-Type", "video/mp4")
            .body(vec![0u8; 20_000]),
        _ => Reply::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(html: &str) -> Vec<String> {
        PageLinks::of(html).links
    }

    #[test]
    fn links_the_decoding_could_not_read_are_left_alone() {
        // `<a href="/中文">` and `<a href="/北京">` in GBK, decoded lossily
        // (the client reads UTF-8 and Latin-1): both would be the same
        // four U+FFFD — a page that does not exist, fetched once for two.
        let body = b"<a href=\"/\xd6\xd0\xce\xc4\">x</a><a href=\"/ok%20page\">y</a>";
        let html = String::from_utf8_lossy(body);
        let page = Url::parse("http://h/dir/").unwrap();
        let found: Vec<_> = links(&html)
            .iter()
            .filter_map(|link| resolve(&page, link))
            .map(|url| url.to_string())
            .collect();
        assert_eq!(found, ["http://h/ok%20page"]);
        assert_eq!(
            resolve(&page, "next#part").map(|u| u.to_string()),
            Some("http://h/dir/next".into())
        );
    }

    #[test]
    fn a_page_spelled_with_different_escapes_is_one_page() {
        let page = Url::parse("http://h/dir/").unwrap();
        let url = |link| resolve(&page, link).unwrap().to_string();
        assert_eq!(url("/%61"), "http://h/a");
        assert_eq!(url("/%7Ejay/%2d%2E%5f"), "http://h/~jay/-._");
        assert_eq!(url("/a%2fb?q=%2f%41"), "http://h/a%2Fb?q=%2FA");
        assert_eq!(url("/%E4%b8%ad"), "http://h/%E4%B8%AD");
        // Not escapes: left as they are, and so is what needs no change.
        assert_eq!(url("/100%25?x=%zz&y=%4"), "http://h/100%25?x=%zz&y=%4");
        assert_eq!(normalize_escapes("/plain/%20/中"), None);
        assert_eq!(normalize_escapes("%4"), None);
        assert_eq!(normalize_escapes("中%61"), Some("中a".into()));
    }

    #[test]
    fn a_link_with_credentials_is_the_page_without_them() {
        let base = PageLinks::of(r#"<base href="http://me:pw@h:8/"><a href="a">"#)
            .base_for(&Url::parse("http://h:8/").unwrap());
        let link = without_credentials(resolve(&base, "a").unwrap());
        assert_eq!(link.as_str(), "http://h:8/a");
        assert!(corio::http::check_url(link.as_str()).is_ok());
    }

    #[test]
    fn a_location_that_is_not_utf8_is_still_a_redirect() {
        assert_eq!(escape_high_bytes(b"/\xd6\xd0 x"), "/%D6%D0 x");
    }

    #[test]
    fn links_are_found_in_any_case_and_quoting() {
        let html = r#"<A HREF="/upper"> <a href=/unquoted> <a href = "/spaced">
            <a href='/single'> <img src="/pic.png"> <a data-href="/not-a-link">
            <a href="/q?x=1&amp;y=2"> <!-- <a href="/commented"> --> </a>"#;
        assert_eq!(
            links(html),
            [
                "/upper",
                "/unquoted",
                "/spaced",
                "/single",
                "/pic.png",
                "/q?x=1&y=2",
                "/commented"
            ]
        );
    }

    #[test]
    fn a_base_href_is_what_links_are_relative_to_and_not_a_link() {
        let html = r#"<head><BASE HREF="/sub/"></head><a href="dq.html">"#;
        assert_eq!(PageLinks::of(html).base.as_deref(), Some("/sub/"));
        assert_eq!(links(html), ["dq.html"]);
        assert_eq!(PageLinks::of("<a href=/x>").base, None);
        let page = Url::parse("http://h/dir/page.html").unwrap();
        let base_for = |html| PageLinks::of(html).base_for(&page);
        assert_eq!(base_for(html).as_str(), "http://h/sub/");
        assert_eq!(base_for("<a href=/x>"), page);
        let js = r#"<base href="javascript:void(0)"><a href="x">"#;
        assert_eq!(base_for(js), page);
        assert_eq!(base_for("<base href='data:text/html,x'>"), page);
    }

    #[test]
    fn the_feng_link_is_found_by_its_id() {
        let html = r#"<a href="/a">a</a> <a ID='feng' href="/jay/feng">x</a> <a id=feng href=/b>"#;
        assert_eq!(PageLinks::of(html).feng.as_deref(), Some("/jay/feng"));
        assert_eq!(PageLinks::of(r#"<a id="lily" href="/a">"#).feng, None);
        // As the XPath reads it: only an `<a>`, and only one with an `href`.
        let html = "<p id=feng href=/p> <a id=feng>x</a> <a id=feng href=/x>";
        assert_eq!(PageLinks::of(html).feng.as_deref(), Some("/x"));
    }

    #[test]
    fn a_tag_with_very_many_attributes_is_read_in_linear_time() {
        // Each attribute was compared with all before it, to keep the
        // first of a repeated one: a 400 kB page of one such tag held the
        // loop for 25 s. Now only `href`, `src` and `id` are kept.
        let attributes: Vec<String> = (0..50_000).map(|i| format!("z{i}")).collect();
        let html = format!("<a href=/x {} href=/y src=/s>", attributes.join(" "));
        let start = std::time::Instant::now();
        assert_eq!(links(&html), ["/x", "/s"]);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn character_references_are_decoded_and_others_kept() {
        assert_eq!(
            decode_entities("a&amp;b&#47;c&#x2F;d&nbsp;e&f"),
            "a&b/c/d&nbsp;e&f"
        );
        assert_eq!(
            decode_entities("&#+65;&#x+41;&#;&#x;"),
            "&#+65;&#x+41;&#;&#x;"
        );
        assert_eq!(
            decode_entities("&#0;&#xD800;&#99999999999;"),
            "\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        // A reference ends within 32 bytes: one far-off `;` is not its end,
        // a non-ASCII byte just before the 33rd does not split a char.
        let far = format!("&amp{};", "x".repeat(40));
        assert_eq!(decode_entities(&far), far);
        assert_eq!(
            decode_entities(&format!("&{}é;", "a".repeat(31))),
            format!("&{}é;", "a".repeat(31))
        );
    }

    #[test]
    fn a_value_of_many_ampersands_and_no_semicolon_is_decoded_in_linear_time() {
        // Each `&` looked for its `;` to the end of the value: 400,000 of
        // them took 19 s in the crawler, holding the loop; now each looks
        // 32 bytes ahead.
        let value = "&".repeat(1_000_000);
        let start = std::time::Instant::now();
        assert_eq!(decode_entities(&value), value);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn odd_attributes_are_read_as_browsers_read_them() {
        assert_eq!(links("<a href=\u{a0}/x>"), ["\u{a0}/x"]);
        assert_eq!(links("<a href=/a href=/b>"), ["/a"]);
        assert_eq!(links("<a href=/a/b/>"), ["/a/b/"]);
        assert_eq!(links("<a href=>"), [""]);
        assert!(links("<a href='/unterminated").len() <= 1);
    }
}
